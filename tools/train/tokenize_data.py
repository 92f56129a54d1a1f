#!/usr/bin/python3
"""Pre-tokenize the Brown train/validation text into flat uint16 id arrays.

Each text file is encoded as ONE string (exactly as a perplexity tool that
reads the whole file would do it), with BOS prepended:

    ids = [bos] + sp.encode(text)

and written as little-endian uint16 (vocab <= 65535) to OUT_DIR/<name>.bin,
next to meta.json (vocab size, special ids, token counts, tokenizer checksum).
The training machine then needs no SentencePiece.

Needs python3-sentencepiece (Debian) or the sentencepiece wheel; otherwise
standard library only.
"""

import argparse
import array
import hashlib
import json
import os
import sys

import sentencepiece as spm


def encode_file(sp, path):
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    ids = [sp.bos_id()] + sp.encode(text)
    # Round trip: the ids must give back the text byte for byte.
    if sp.decode(ids[1:]) != text:
        sys.exit("tokenizer does not round-trip " + path)
    return text, ids


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True, help="tokenizer.model")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("inputs", nargs="+", help="NAME=TEXT_FILE, e.g. train=brown-train.txt")
    args = ap.parse_args()

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    if sp.vocab_size() > 65535:
        sys.exit("vocab too large for uint16")
    with open(args.tokenizer, "rb") as f:
        tok_sha = hashlib.sha256(f.read()).hexdigest()
    os.makedirs(args.out_dir, exist_ok=True)
    meta = {"vocab_size": sp.vocab_size(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(),
            "unk_id": sp.unk_id(), "tokenizer_sha256": tok_sha, "dtype": "uint16",
            "layout": "[bos] + encode(whole file)", "splits": {}}
    for spec in args.inputs:
        name, _, path = spec.partition("=")
        if not path:
            sys.exit("input must be NAME=FILE: " + spec)
        text, ids = encode_file(sp, path)
        arr = array.array("H", ids)
        if sys.byteorder != "little":
            arr.byteswap()
        out = os.path.join(args.out_dir, name + ".bin")
        with open(out, "wb") as f:
            arr.tofile(f)
        words = len(text.split())
        meta["splits"][name] = {"file": os.path.basename(path), "tokens": len(ids),
                                "bytes": len(text.encode("utf-8")), "words": words,
                                "unk_tokens": sum(1 for i in ids if i == sp.unk_id()),
                                "byte_fallback_tokens": sum(1 for i in ids if sp.is_byte(i))}
        print("%-6s %9d tokens (BOS included)  %8d words  %.3f tokens/word  %.3f bytes/token"
              % (name, len(ids), words, (len(ids) - 1) / words,
                 len(text.encode("utf-8")) / (len(ids) - 1)))
    with open(os.path.join(args.out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
