#!/usr/bin/env python3
"""The latency lab's report: reads the `meridian bench --json` files of scripts/lab.sh
(runs/<setup>-<site>.json) and the topology, checks the issue's expected outcomes, and writes
report.md, report.json and latency.svg (a grouped bar chart, no plotting library needed)."""
import argparse
import glob
import json
import os
import tomllib

SETUPS = [("single-region", "1. one region (eu-central)"),
          ("meridian", "2. all regions, edge gateways"),
          ("failover", "3. as 2, one region killed")]
COLOURS = {"single-region": "#c0504d", "meridian": "#4f81bd", "failover": "#9bbb59"}


def load_topology(path):
    with open(path, "rb") as f:
        t = tomllib.load(f)
    rtt = {}
    for a, row in t.get("rtt_ms", {}).items():
        for b, ms in row.items():
            rtt[(a, b)] = rtt[(b, a)] = float(ms)
    sites = [s["name"] for s in t["site"]]
    regions = [r["name"] for r in t["region"]]
    edge = float(t.get("link", {}).get("edge_rtt_ms", 2))
    nearest = {s: min(regions, key=lambda r: rtt[(s, r)]) for s in sites}
    return sites, regions, rtt, nearest, edge


def svg_chart(sites, runs):
    w, h, left, top, bottom = 760, 360, 60, 40, 60
    plot_w, plot_h = w - left - 20, h - top - bottom
    peak = max([runs[k][s]["ttft_ms"]["p50"] for k, _ in SETUPS for s in sites if s in runs.get(k, {})] + [1])
    scale = plot_h / (peak * 1.1)
    group = plot_w / len(sites)
    bar = group / (len(SETUPS) + 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="20" text-anchor="middle" font-size="14">p50 time to first token by user site (ms)</text>']
    step = 100 if peak < 1500 else 500
    for v in range(0, int(peak * 1.1) + 1, step):
        y = top + plot_h - v * scale
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w-20}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left-5}" y="{y+4:.1f}" text-anchor="end">{v}</text>')
    for i, s in enumerate(sites):
        x0 = left + i * group + bar / 2
        for j, (k, _) in enumerate(SETUPS):
            r = runs.get(k, {}).get(s)
            if not r or not r["ttft_ms"]["count"]:
                continue
            v = r["ttft_ms"]["p50"]
            x, y = x0 + j * bar, top + plot_h - v * scale
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar*0.9:.1f}" height="{v*scale:.1f}" fill="{COLOURS[k]}"/>')
            out.append(f'<text x="{x+bar*0.45:.1f}" y="{y-3:.1f}" text-anchor="middle" font-size="10">{v:.0f}</text>')
        out.append(f'<text x="{left + i*group + group/2:.1f}" y="{top+plot_h+18}" text-anchor="middle">{s}</text>')
    for j, (k, label) in enumerate(SETUPS):
        x = left + j * 230
        out.append(f'<rect x="{x}" y="{h-22}" width="12" height="12" fill="{COLOURS[k]}"/>')
        out.append(f'<text x="{x+16}" y="{h-12}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--topology", required=True)
    ap.add_argument("--killed", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sites, regions, rtt, nearest, edge = load_topology(a.topology)
    runs = {}
    for path in glob.glob(os.path.join(a.runs, "*.json")):
        with open(path) as f:
            r = json.load(f)
        setup = os.path.basename(path)[: -len("-" + r["site"] + ".json")]
        runs.setdefault(setup, {})[r["site"]] = r

    lines = ["| setup | site | nearest region (RTT) | p50 TTFT | p95 TTFT | p50 e2e | p95 e2e | tokens/s | ok | failed (before / while streaming) | errors |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for k, label in SETUPS:
        for s in sites:
            r = runs.get(k, {}).get(s)
            if not r:
                lines.append(f"| {label} | {s} | | | | | | | | not run | |")
                continue
            t, e = r["ttft_ms"], r["e2e_ms"]
            errs = ", ".join(f"{n} {c}" for n, c in sorted(r["errors"].items())) or "-"
            lines.append(f"| {label} | {s} | {nearest[s]} ({rtt[(s, nearest[s])]:.0f} ms) | {t['p50']:.0f} | {t['p95']:.0f} | "
                         f"{e['p50']:.0f} | {e['p95']:.0f} | {r['output_tokens_per_s']:.1f} | {r['ok']} | "
                         f"{r['failed']} ({r['failed_before_streaming']} / {r['failed_while_streaming']}) | {errs} |")

    checks = []
    # Setup 2: a site's p50 TTFT exceeds that of the site next to its nearest region by at most the
    # extra round trip it still needs to that region (+10%).
    m = runs.get("meridian", {})
    for s in sites:
        r = nearest[s]
        ref = min((x for x in sites if nearest[x] == r), key=lambda x: rtt[(x, r)])
        if s == ref or s not in m or ref not in m:
            continue
        extra_rtt = rtt[(s, r)] - rtt[(ref, r)]
        gap = m[s]["ttft_ms"]["p50"] - m[ref]["ttft_ms"]["p50"]
        ok = gap <= 1.1 * extra_rtt
        checks.append({"check": "setup 2: TTFT over the site next to its region", "site": s, "reference": ref,
                       "measured_ms": round(gap, 1), "allowed_ms": round(1.1 * extra_rtt, 1), "pass": ok})
    # Setup 1: far sites pay their extra round trips to Europe: a cold user connection pays two RTTs
    # to eu-central, against (in setup 2) two edge RTTs plus one RTT from the edge to its region.
    one = runs.get("single-region", {})
    for s in sites:
        if s not in one or s not in m:
            continue
        expected = 2 * rtt[(s, "eu-central")] - (2 * edge + rtt[(s, nearest[s])])
        measured = one[s]["ttft_ms"]["p50"] - m[s]["ttft_ms"]["p50"]
        checks.append({"check": "setup 1 minus setup 2, p50 TTFT", "site": s, "measured_ms": round(measured, 1),
                       "expected_ms": round(expected, 1), "pass": None})
    # Setup 3: no request fails that had not started streaming.
    for s, r in sorted(runs.get("failover", {}).items()):
        checks.append({"check": "setup 3: failures before streaming", "site": s,
                       "measured": r["failed_before_streaming"], "allowed": 0,
                       "pass": r["failed_before_streaming"] == 0})

    md = ["# Meridian latency lab", "",
          f"Three regions on loopback behind WAN relays (configs/topology.toml); users open a new connection per request. "
          f"Setup 3 kills {a.killed or 'a region'} halfway through. Times in ms.", "",
          *lines, "", "![p50 TTFT by site](latency.svg)", "", "## Expected outcomes", "",
          "| check | site | measured | bound / expected | pass |", "| --- | --- | ---: | ---: | --- |"]
    for c in checks:
        measured = c.get("measured_ms", c.get("measured"))
        bound = c.get("allowed_ms", c.get("expected_ms", c.get("allowed")))
        verdict = "" if c["pass"] is None else ("yes" if c["pass"] else "**no**")
        md.append(f"| {c['check']} | {c['site']} | {measured} | {bound} | {verdict} |")
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(a.out, "report.json"), "w") as f:
        json.dump({"killed_region": a.killed, "runs": runs, "checks": checks}, f, indent=2)
    with open(os.path.join(a.out, "latency.svg"), "w") as f:
        f.write(svg_chart(sites, runs))
    print("\n".join(md))


if __name__ == "__main__":
    main()
