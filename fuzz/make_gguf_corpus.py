#!/usr/bin/env python3
"""Writes the seed corpus of gguf_fuzz: small valid GGUF files covering every metadata type, every
supported tensor type and custom alignment, a slice of a real llama vocabulary, and one file per
kind of corruption the reader must reject. Standard library only; the output is committed.

Usage: fuzz/make_gguf_corpus.py [--vocab PATH] [--out DIR]
"""
import argparse
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VOCAB = os.path.join(HERE, "..", "..", "shared", "testdata", "vocab", "ggml-vocab-llama-spm.gguf")

# GGUF value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
              U64: "<Q", I64: "<q", F64: "<d"}
# GGML tensor types Meridian reads: id -> (block elements, block bytes).
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30
BLOCK = {GGML_F32: (1, 4), GGML_F16: (1, 2), GGML_Q8_0: (32, 34), GGML_BF16: (1, 2)}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def value(vtype, v):
    if vtype == STR:
        return gstr(v)
    if vtype == ARR:
        elem, items = v
        out = struct.pack("<IQ", elem, len(items))
        return out + b"".join(value(elem, x) for x in items)
    return struct.pack(SCALAR_FMT[vtype], v)


def tensor_bytes(ggml_type, dims):
    elems, size = BLOCK[ggml_type]
    n = 1
    for d in dims:
        n *= d
    return n // elems * size


def gguf(kvs, tensors=(), version=3, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, dims, ggml_type, data bytes or None[, overrides])]
    where overrides may replace the "type" id or the "offset" written in the tensor info."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, v in kvs:
        out += gstr(key) + struct.pack("<I", vtype) + value(vtype, v)
    offset = 0
    blobs = []
    for name, dims, ggml_type, data, *rest in tensors:
        over = rest[0] if rest else {}
        size = tensor_bytes(ggml_type, dims)
        data = data if data is not None else bytes((i * 7 + 3) & 0xFF for i in range(size))
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", over.get("type", ggml_type), over.get("offset", offset))
        blobs.append(data)
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += b"\0" * (-len(out) % alignment)
    for blob in blobs:
        out += blob + b"\0" * (-len(blob) % alignment)
    return out


def read_vocab_slice(path, n_tokens):
    """Returns the metadata of a GGUF vocab file with every array cut to its first n_tokens."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    _, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    pos = 24

    def read_str():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n]
        pos += 8 + n
        return s

    def read_value(vtype):
        nonlocal pos
        if vtype == STR:
            return read_str()
        if vtype == ARR:
            elem, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            items = [read_value(elem) for _ in range(n)]
            return (elem, items[:n_tokens])
        fmt = SCALAR_FMT[vtype]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    kvs = []
    for _ in range(n_kv):
        key = read_str().decode()
        (vtype,) = struct.unpack_from("<I", data, pos)
        pos += 4
        kvs.append((key, vtype, read_value(vtype)))
    return kvs


def corpus(vocab_path):
    files = {}
    every_type = [
        ("t.u8", U8, 255), ("t.i8", I8, -128), ("t.u16", U16, 65535), ("t.i16", I16, -32768),
        ("t.u32", U32, 4000000000), ("t.i32", I32, -7), ("t.f32", F32, 0.5), ("t.bool", BOOL, 1),
        ("t.str", STR, "h\u00e9llo"), ("t.u64", U64, 2**64 - 1), ("t.i64", I64, -2**63), ("t.f64", F64, 2.5),
        ("t.arr.str", ARR, (STR, ["a", "", "bc"])), ("t.arr.i32", ARR, (I32, [1, -2, 3])),
        ("t.arr.f32", ARR, (F32, [1.0, -0.5])), ("t.arr.bool", ARR, (BOOL, [0, 1])),
        ("t.arr.u8", ARR, (U8, [1, 2, 255])), ("t.arr.u64", ARR, (U64, [2**64 - 1])),
        ("t.arr.f64", ARR, (F64, [0.1])), ("t.arr.empty", ARR, (I16, [])),
    ]
    tensors = [("t.f32", [4, 2], GGML_F32, None), ("t.f16", [6], GGML_F16, None),
               ("t.bf16", [2, 1, 1, 2], GGML_BF16, None), ("t.q8_0", [32, 2], GGML_Q8_0, None)]
    files["valid_empty_v3.gguf"] = gguf([])
    files["valid_empty_v2.gguf"] = gguf([], version=2)
    files["valid_every_type.gguf"] = gguf(every_type)
    files["valid_tensors.gguf"] = gguf([("general.architecture", STR, "llama")], tensors)
    files["valid_align64.gguf"] = gguf([("general.alignment", U32, 64)], tensors, alignment=64)
    files["valid_align1.gguf"] = gguf([("general.alignment", U32, 1)], tensors[:2], alignment=1)

    if vocab_path and os.path.exists(vocab_path):
        kvs = read_vocab_slice(vocab_path, 300)
        kvs = [(k, U32, 300) if k == "llama.vocab_size" else (k, t, v) for k, t, v in kvs]
        files["valid_llama_vocab_slice.gguf"] = gguf(kvs, [("token_embd.weight", [32, 4], GGML_Q8_0, None)])
    else:
        print(f"note: {vocab_path} not found; the vocab slice is not written", file=sys.stderr)

    good = files["valid_tensors.gguf"]
    files["bad_magic.gguf"] = b"GGUX" + good[4:]
    files["bad_version1.gguf"] = b"GGUF" + struct.pack("<IIQ", 1, 0, 0)
    files["bad_big_endian.gguf"] = b"GGUF" + struct.pack(">IQQ", 3, 0, 0)
    files["bad_truncated_header.gguf"] = good[:17]
    files["bad_truncated_data.gguf"] = good[:-40]
    files["bad_huge_kv_count.gguf"] = b"GGUF" + struct.pack("<IQQ", 3, 0, 2**60) + b"\0" * 32
    files["bad_huge_array.gguf"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                                    struct.pack("<IIQ", ARR, U8, 2**60) + b"\0" * 16)
    files["bad_huge_string.gguf"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                                     struct.pack("<IQ", STR, 2**63) + b"abc")
    files["bad_nested_array.gguf"] = gguf([("k", ARR, (ARR, []))])
    files["bad_value_type.gguf"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                                    struct.pack("<IQ", 13, 0))
    files["bad_bool.gguf"] = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") + struct.pack("<IB", BOOL, 2)
    files["bad_duplicate_key.gguf"] = gguf([("k", U32, 1), ("k", U32, 2)])
    files["bad_alignment.gguf"] = gguf([("general.alignment", U32, 48)], tensors[:1], alignment=48)
    files["bad_unknown_type.gguf"] = gguf([], [("q4k", [256], GGML_F32, None, {"type": 12})])
    files["bad_misaligned_offset.gguf"] = gguf([], [tensors[0], ("t.f16", [6], GGML_F16, None, {"offset": 48})])
    files["bad_overlap.gguf"] = gguf([], [tensors[0], ("t.f16", [6], GGML_F16, None, {"offset": 0})])
    files["bad_duplicate_tensor.gguf"] = gguf([], [("x", [4], GGML_F32, None), ("x", [4], GGML_F32, None)])
    files["bad_dims.gguf"] = gguf([], [("x", [1, 1, 1, 1, 4], GGML_F32, None)])
    files["bad_dim_overflow.gguf"] = gguf([], [("x", [2**32, 2**32], GGML_F32, b"")])
    files["bad_q8_row.gguf"] = gguf([], [("x", [16], GGML_Q8_0, b"\0" * 34)])
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", default=DEFAULT_VOCAB, help="GGUF vocab file to slice")
    parser.add_argument("--out", default=os.path.join(HERE, "corpus", "gguf_fuzz"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, data in sorted(corpus(args.vocab).items()):
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        total += len(data)
    print(f"wrote {len(os.listdir(args.out))} files, {total} bytes, to {args.out}")


if __name__ == "__main__":
    main()
