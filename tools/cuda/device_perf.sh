#!/bin/bash
# The short device run for the decode-speed work (issue 7, second pass), sized for a small device
# budget: unit tests (CUDA graphs and fused kernels included), the Q8 matvec bandwidth
# micro-benchmark, NVML gauges from a live `meridian serve --backend cuda`, and the
# LLaMA-2-7B-shaped Q8_0 benchmark with CUDA graphs off (before) and on (after), in one session.
# Usage: tools/cuda/device_perf.sh BIN_DIR OUT_DIR   (BIN_DIR as for device_run.sh)
set -uo pipefail
bin=$1
out=$2
export LD_LIBRARY_PATH=$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
m=$bin/meridian
t=$bin/engine_cuda_tests
tmp=${TMPDIR:-/tmp}/meridian-cuda
mkdir -p "$tmp" "$out"
get() { curl -sf "$1" 2>/dev/null || python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1" 2>/dev/null; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 
echo "== unit tests"
timeout 90 "$t" 2>&1 | tee "$out/unit_tests.log" | grep -E "^\[ |FAIL|Failure|Expected|Which|error" | grep -v "^\[ RUN\|^\[       OK" | tail -40
echo "== matvec bandwidth"
MERIDIAN_CUDA_BENCH=1 timeout 30 "$t" --gtest_filter='*MatVecQ8Bandwidth*' 2>&1 | grep -E "matvec|FAIL"
echo "== NVML gauges from meridian serve --backend cuda"
timeout 20 "$m" make-model --preset tiny --ffn 192 --dtype q8_0 --seed 1 --out "$tmp/tiny.gguf" >/dev/null
timeout 40 "$m" serve --model "$tmp/tiny.gguf" --backend cuda --port 18431 --kv-cache-tokens 4096 >"$out/serve.log" 2>&1 &
srv=$!
for i in $(seq 1 60); do get http://127.0.0.1:18431/health >/dev/null && break; sleep 0.25; done
get http://127.0.0.1:18431/metrics | grep "meridian:gpu_"
kill $srv; wait $srv 2>/dev/null
grep -i "gpu metrics\|nvml" "$out/serve.log" | head -3
echo "== benchmark, llama2-7b-shaped Q8_0: CUDA graphs off, then on"
/usr/bin/time -f "make-model %e s" timeout 60 "$m" make-model --preset llama2-7b --dtype q8_0 --seed 1 --out "$tmp/7b.gguf" >/dev/null
cmd="$m bench-engine --backend cuda --model $tmp/7b.gguf --json --repeats 2 --decode-steps 48"
echo "$cmd"
MERIDIAN_CUDA_GRAPHS=0 timeout 60 $cmd 2>>"$out/bench.err" | tee "$out/bench_nographs.json"
timeout 60 $cmd 2>>"$out/bench.err" | tee "$out/bench_graphs.json"
grep -i "graph\|error" "$out/bench.err" | tail -5
