#!/usr/bin/env bash
# The demo of `make demo`: a few lines of text from the shipped model, then the global latency
# lab (scripts/lab.sh): three regions, an edge gateway per user site and WAN relays on loopback,
# `meridian bench` from five user sites in three setups. The report lands in lab-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bin/meridian
model=models/meridian-brown-q8_0.gguf
if [ ! -f "$model" ]; then
  echo "demo: $model is missing from this checkout" >&2
  exit 1
fi
echo "== the shipped model, greedy: \"The jury said\" ..."
"$bin" generate --model "$model" --prompt "The jury said" --max-tokens 40 --temperature 0 2>/dev/null
echo
echo "== the global latency lab (about a minute; docs/lab.md)"
./scripts/lab.sh --bin "$bin" --out lab-out
echo
echo "== report: lab-out/report.md (table), lab-out/report.json, lab-out/latency.svg (chart)"
cat lab-out/report.md
