#!/bin/bash
# Everything the CUDA backend needs checked on a GPU machine, in one go (device time is scarce):
# unit tests, CPU-vs-CUDA on a TinyLlama-shaped random Q8_0 model, CUDA-vs-transformers on an F16
# random model, then the LLaMA-2-7B-shaped Q8_0 benchmark and the transformers baseline.
# Usage: tools/cuda/device_run.sh BIN_DIR OUT_DIR   (BIN_DIR holds meridian, engine_cuda_tests and
# lib/ with the shared libraries the binaries need beyond glibc; see docs/cuda.md)
set -uo pipefail
bin=$1
out=$2
export LD_LIBRARY_PATH=$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PYTHONUNBUFFERED=1
m=$bin/meridian
t=$bin/engine_cuda_tests
tmp=${TMPDIR:-/tmp}/meridian-cuda
mkdir -p "$tmp" "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
echo "== unit tests"
timeout 120 "$t" 2>&1 | tee "$out/unit_tests.log" | tail -30
echo "== CPU vs CUDA, tinyllama-shaped Q8_0"
timeout 60 "$m" make-model --preset tinyllama --dtype q8_0 --seed 1 --out "$tmp/tl.gguf" >/dev/null
MERIDIAN_CUDA_MODEL=$tmp/tl.gguf timeout 120 "$t" --gtest_filter='*EnvModelMatchesCpu*' 2>&1 | tee "$out/cpu_vs_cuda.log" | grep -E "cuda vs cpu|OK|FAIL|Failure|Expected|Which"
echo "== CUDA vs transformers, tiny F16"
timeout 30 "$m" make-model --preset tiny --ffn 192 --dtype f16 --format hf --seed 2 --out "$tmp/hf" >/dev/null
MERIDIAN_CUDA_DUMP_MODEL=$tmp/hf MERIDIAN_CUDA_DUMP=$tmp/cuda_greedy.json timeout 60 "$t" --gtest_filter='*EnvDump*' >/dev/null 2>&1
timeout 120 python3 tools/cuda/compare_hf.py --model-dir "$tmp/hf" --dump "$tmp/cuda_greedy.json" 2>&1 | tail -3 | tee "$out/hf_compare.log"
echo "== benchmark, llama2-7b-shaped Q8_0"
/usr/bin/time -f "make-model %e s" timeout 200 "$m" make-model --preset llama2-7b --dtype q8_0 --seed 1 --out "$tmp/7b.gguf" >/dev/null
cmd="$m bench-engine --backend cuda --model $tmp/7b.gguf --json --batches 16,64 --repeats 2 --decode-steps 64"
echo "$cmd" | tee "$out/bench_cmd.txt"
timeout 200 $cmd 2>"$out/bench.err" | tee "$out/bench.json"
tail -3 "$out/bench.err"
rm -f "$tmp/7b.gguf"
echo "== transformers baseline"
timeout 200 python3 tools/cuda/torch_baseline.py 2>&1 | tail -2 | tee "$out/torch_baseline.json"
