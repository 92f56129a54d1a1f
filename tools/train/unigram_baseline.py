#!/usr/bin/python3
"""Unigram baseline perplexity for the Brown validation text.

A unigram model p(t) = (count_train(t) + k) / (N_train + k * V) is estimated
from the train split's token ids (add-k smoothing, k = 1 by default, V = the
tokenizer's vocabulary size) and scores the validation ids with the SAME
tokenizer and the same token stream as the model evaluation:

    ids = [bos] + encode(whole validation file)

Every token after the leading BOS is scored (ids[1:], 76,783 tokens for the
shipped tokenizer); the BOS is context, not a prediction. The unigram model
has no context, but a windowed evaluation scores only a subset of the tokens:
with --ctx N the script also gives the figure over exactly the tokens that
`meridian perplexity --ctx N` (llama.cpp's convention) scores: windows
ids[c*N : c*N+N] for c < len(ids) // N, predictions at window positions
N/2 .. N-2, i.e. tokens ids[c*N + N/2 + 1 .. c*N + N - 1]. See docs/training.md.

Two ways to give the data:
  --train-ids TRAIN.bin --valid-ids VALID.bin [--meta meta.json]
      uint16 little-endian ids as written by tokenize_data.py (standard library only)
  --tokenizer tokenizer.model --train-text TRAIN.txt --valid-text VALID.txt
      tokenizes here (needs python3-sentencepiece)
"""

import argparse
import array
import json
import math
import os
import sys


def read_ids(path):
    a = array.array("H")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-ids")
    ap.add_argument("--valid-ids")
    ap.add_argument("--meta", help="meta.json beside the .bin files (default: next to --train-ids)")
    ap.add_argument("--tokenizer")
    ap.add_argument("--train-text")
    ap.add_argument("--valid-text")
    ap.add_argument("--k", type=float, default=1.0, help="add-k smoothing constant (default 1)")
    ap.add_argument("--ctx", type=int, default=512,
                    help="also score the meridian-perplexity subset for this window (0: skip)")
    args = ap.parse_args()

    valid_bytes = None
    if args.tokenizer:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
        vocab, bos = sp.vocab_size(), sp.bos_id()
        with open(args.train_text, encoding="utf-8") as f:
            train = [bos] + sp.encode(f.read())
        with open(args.valid_text, encoding="utf-8") as f:
            text = f.read()
        valid = [bos] + sp.encode(text)
        valid_bytes = len(text.encode("utf-8"))
    elif args.train_ids and args.valid_ids:
        meta_path = args.meta or os.path.join(os.path.dirname(args.train_ids), "meta.json")
        with open(meta_path) as f:
            meta = json.load(f)
        vocab, bos = meta["vocab_size"], meta["bos_id"]
        train = read_ids(args.train_ids)
        valid = read_ids(args.valid_ids)
        name = os.path.splitext(os.path.basename(args.valid_ids))[0]
        valid_bytes = meta.get("splits", {}).get(name, {}).get("bytes")
    else:
        ap.error("give --train-ids/--valid-ids or --tokenizer/--train-text/--valid-text")

    if not train or train[0] != bos or not valid or valid[0] != bos:
        sys.exit("id streams must start with BOS (layout [bos] + encode(file))")
    counts = [0] * vocab
    for t in train[1:]:
        counts[t] += 1
    n_train = len(train) - 1
    denom = n_train + args.k * vocab
    logp = [math.log((c + args.k) / denom) for c in counts]
    scored = valid[1:]
    nll = -sum(logp[t] for t in scored)
    n = len(scored)
    oov = sum(1 for t in scored if counts[t] == 0)
    ppl = math.exp(nll / n)
    print("unigram (add-%g) from %d train tokens, vocab %d" % (args.k, n_train, vocab))
    print("validation: %d tokens scored (every token after BOS), %d unseen in train" % (n, oov))
    print("mean NLL %.4f nats/token  perplexity %.2f" % (nll / n, ppl))
    if valid_bytes:
        print("bits per byte %.4f (%d bytes)" % (nll / math.log(2) / valid_bytes, valid_bytes))
    if args.ctx:
        c = args.ctx
        sub = [valid[w * c + j + 1] for w in range(len(valid) // c) for j in range(c // 2, c - 1)]
        if sub:
            nll_w = -sum(logp[t] for t in sub)
            print("meridian-perplexity subset (--ctx %d: %d windows, positions %d..%d): %d tokens, "
                  "mean NLL %.4f, perplexity %.2f"
                  % (c, len(valid) // c, c // 2, c - 2, len(sub), nll_w / len(sub),
                     math.exp(nll_w / len(sub))))


if __name__ == "__main__":
    main()
