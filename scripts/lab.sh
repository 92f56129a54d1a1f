#!/usr/bin/env bash
# The global latency lab (issue 6, the README's main demo). On loopback: three regions
# (`meridian serve`, shipped model), WAN relays from every user site to every region
# (`meridian wan`, configs/topology.toml), an edge gateway per user site, then `meridian bench`
# from every site in three setups:
#   1. one region (eu-central) serves everyone, users connect straight to it;
#   2. every region up, each user through the edge gateway of its site (Meridian's routing);
#   3. as 2, with one region killed in the middle of the run (failover).
# Writes report.md, report.json and latency.svg into the output folder (default lab-out/).
# Every process it starts is stopped on exit (trap). docs/lab.md explains the figures.
#
#   scripts/lab.sh [--out DIR] [--bin PATH] [--duration S] [--kill REGION] [--policy P]
set -euo pipefail
cd "$(dirname "$0")/.."

out=lab-out
bin=""
duration=14         # seconds of load per setup
kill_region=ap-southeast
policy=lowest-ttft  # the gateways' routing policy (docs/gateway.md); nearest compares RTT only
topology=configs/topology.toml
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --kill) kill_region="$2"; shift 2 ;;
    --policy) policy="$2"; shift 2 ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "lab: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  for b in build/release/bin/meridian build/lab/bin/meridian; do
    if [ -x "$b" ]; then bin="$b"; break; fi
  done
fi
[ -x "$bin" ] || { echo "lab: no meridian binary (build it: cmake --build build/release)" >&2; exit 1; }
mkdir -p "$out/logs" "$out/runs"
rm -f "$out"/runs/*.json

regions=(eu-central us-east ap-southeast)
sites=(new-york sao-paulo london singapore sydney)
declare -A site_lat=([new-york]=40.71 [sao-paulo]=-23.55 [london]=51.51 [singapore]=1.29 [sydney]=-33.87)
declare -A site_lon=([new-york]=-74.01 [sao-paulo]=-46.63 [london]=-0.13 [singapore]=103.85 [sydney]=151.21)
declare -A region_lat=([eu-central]=50.11 [us-east]=38.95 [ap-southeast]=1.35)
declare -A region_lon=([eu-central]=8.68 [us-east]=-77.45 [ap-southeast]=103.82)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

# Starts a process with stdout to $1.out, waits for a line matching $2; sets $started_pid.
start() {
  local name="$1" pattern="$2"; shift 2
  "$@" > "$out/logs/$name.out" 2> "$out/logs/$name.err" &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 600); do
    if grep -q "$pattern" "$out/logs/$name.out" 2>/dev/null; then return 0; fi
    kill -0 "$started_pid" 2>/dev/null || { echo "lab: $name exited; see $out/logs/$name.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "lab: $name did not start in time" >&2; exit 1
}
port_of() { grep -o 'listening on http://[^ ]*' "$out/logs/$1.out" | head -1 | sed 's/.*://'; }
wait_ready() {
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$1/ready" > /dev/null && return 0
    sleep 0.1
  done
  echo "lab: 127.0.0.1:$1 never became ready" >&2; exit 1
}

echo "== starting 3 regions, WAN relays and 5 edge gateways ($bin)"
declare -A region_port region_pid
for r in "${regions[@]}"; do
  start "serve-$r" "listening on" "$bin" serve --port 0 --threads 1 --parallel 4 --log-level warn
  region_pid[$r]=$started_pid
  region_port[$r]=$(port_of "serve-$r")
done
for r in "${regions[@]}"; do wait_ready "${region_port[$r]}"; done

wan_args=()
for r in "${regions[@]}"; do wan_args+=(--target "$r=127.0.0.1:${region_port[$r]}"); done
start wan-regions "relays ready" "$bin" wan --topology "$topology" "${wan_args[@]}"
relay() { awk -v n="$1" '$1=="relay" && $2==n {print $4}' "$out/logs/$2.out"; }

declare -A gateway_port
for s in "${sites[@]}"; do
  cfg="$out/logs/gateway-$s.toml"
  {
    echo "log_level = \"warn\""
    echo "access_log = false"
    echo "[[listener]]"
    echo "host = \"127.0.0.1\""
    echo "port = 0"
    echo "http2 = false"
    echo "io_threads = 1"
    for r in "${regions[@]}"; do
      echo "[[region]]"
      echo "name = \"$r\""
      echo "lat = ${region_lat[$r]}"
      echo "lon = ${region_lon[$r]}"
      echo "servers = [\"$(relay "$s->$r" wan-regions)\"]"
    done
    echo "[location]"
    echo "default_lat = ${site_lat[$s]}"
    echo "default_lon = ${site_lon[$s]}"
    echo "[routing]"
    echo "policy = \"$policy\""
    echo "[health]"
    echo "interval_ms = 300"
    echo "timeout_ms = 1500"
    echo "unhealthy_after = 2"
    echo "[upstream]"
    echo "max_retries = 2"
    echo "io_threads = 1"
  } > "$cfg"
  start "gateway-$s" "listening on" "$bin" gateway --config "$cfg"
  gateway_port[$s]=$(port_of "gateway-$s")
done
edge_args=()
for s in "${sites[@]}"; do edge_args+=(--edge "$s=127.0.0.1:${gateway_port[$s]}"); done
start wan-edges "relays ready" "$bin" wan --topology "$topology" "${edge_args[@]}"
for s in "${sites[@]}"; do wait_ready "${gateway_port[$s]}"; done

# Users: new connections per request (--cold), as browsers and apps opening a session do; a short
# prompt and 16 output tokens so that the network, not the 2-core CPU, dominates.
bench_site() {  # setup site url
  "$bin" bench --url "http://$3" --site "$2" --cold --duration "$duration" --concurrency 1 \
    --prompt-tokens 16 --output-tokens 16 --timeout 30 --slo ttft=500ms,itl=100ms --quiet \
    --json "$out/runs/$1-$2.json" || true
}
# Where each gateway sent its requests, kept for diagnosis (requests per region, failovers).
snapshot_gateways() {
  for s in "${sites[@]}"; do
    curl -s "http://127.0.0.1:${gateway_port[$s]}/metrics" > "$out/logs/gateway-$s-after-$1.prom" || true
  done
}

echo "== setup 1: one region (eu-central) serves every site"
bpids=()
for s in "${sites[@]}"; do bench_site single-region "$s" "$(relay "$s->eu-central" wan-regions)" & bpids+=($!); done
wait "${bpids[@]}"

echo "== setup 2: every region up, each site through its edge gateway"
bpids=()
for s in "${sites[@]}"; do bench_site meridian "$s" "$(relay "$s->edge" wan-edges)" & bpids+=($!); done
wait "${bpids[@]}"
snapshot_gateways meridian

echo "== setup 3: as 2, $kill_region killed after $((duration / 2)) s"
bpids=()
for s in "${sites[@]}"; do bench_site failover "$s" "$(relay "$s->edge" wan-edges)" & bpids+=($!); done
sleep $((duration / 2))
kill -9 "${region_pid[$kill_region]}"
wait "${region_pid[$kill_region]}" 2>/dev/null || true  # reap it quietly (no "Killed" line)
echo "   killed $kill_region (pid ${region_pid[$kill_region]})"
wait "${bpids[@]}"
snapshot_gateways failover

python3 tools/lab/report.py --runs "$out/runs" --topology "$topology" --killed "$kill_region" --out "$out"
echo "== report: $out/report.md, $out/report.json, $out/latency.svg"
