#!/bin/bash
# Regenerates the golden-logit files tests/engine/model/golden/*.json: writes each random model
# as a Hugging Face directory with `meridian make-model`, then runs the PyTorch reference on it.
# Usage: tools/golden/regenerate.sh [path/to/meridian]   (default: build/release/bin/meridian)
# Needs /usr/bin/python3 with Debian's python3-torch and python3-numpy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
meridian=${1:-$root/build/release/bin/meridian}
out=$root/tests/engine/model/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Seeds were chosen (among the first dozen) so that at every greedy step the top-2 logit gap is at
# least 1% of the largest logit, well above the tolerances of tests/engine/model/golden_test.cpp.
golden() {
  local name=$1
  shift
  "$meridian" make-model --format hf --out "$tmp/$name" "$@"
  /usr/bin/python3 "$root/tools/golden/llama_reference.py" --model-dir "$tmp/$name" --out "$out/$name.json"
}

mkdir -p "$out"
golden tiny-f32 --preset tiny --dtype f32 --seed 2
golden tiny-gqa-f32 --preset tiny-gqa --dtype f32 --seed 2
golden tiny-f16 --preset tiny --dtype f16 --seed 2
golden tiny-gqa-f16 --preset tiny-gqa --dtype f16 --seed 2
golden tiny-f32-tied --preset tiny --dtype f32 --seed 7 --tied
