#!/usr/bin/env bash
# The demo of `make demo`: generates text with the model the repository ships.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bin/meridian
model=models/meridian-brown-q8_0.gguf
if [ ! -f "$model" ]; then
  echo "demo: $model is missing from this checkout" >&2
  exit 1
fi
for prompt in "The jury said" "In the morning, the city council" "She looked at the letter and"; do
  echo "== prompt: $prompt"
  "$bin" generate --model "$model" --prompt "$prompt" --max-tokens 60 --temperature 0.8 --top-p 0.95 --seed 7
done
