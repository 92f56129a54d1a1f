#!/usr/bin/python3
"""Golden logits for Meridian's llama forward pass, from an independent PyTorch implementation.

Reads a Hugging Face llama directory (config.json + model.safetensors, as `meridian make-model
--format hf` writes it), runs the forward pass the way transformers' modeling_llama defines it
(RMSNorm in float32, rotate_half RoPE with inv_freq = 1 / theta^(2i/d), grouped-query attention by
repeat_kv, SwiGLU MLP, causal softmax attention), all in float32 (F16/BF16 weights upcast), and
writes a JSON golden: the generator spec, the prompt ids, the logits of every prompt position
(7 significant digits) and 32 greedy tokens continuing the prompt (full recompute per step).

Needs Debian's python3-torch and python3-numpy: run with /usr/bin/python3. No transformers, no
safetensors package: the file format is parsed here with numpy.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DEFAULT_PROMPT = [1, 300, 400, 17, 290, 320, 35, 411]
GREEDY_TOKENS = 32


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        dtype = info["dtype"]
        if dtype == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name} has unsupported dtype {dtype}")
        tensors[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]).copy())
    return tensors


def read_checkpoint(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        tensors = {}
        for shard in shards:
            tensors.update(read_safetensors(os.path.join(model_dir, shard)))
        return tensors
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def inverse_frequencies(cfg, head_dim):
    theta = float(cfg.get("rope_theta", 10000.0))
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "linear":
        inv_freq = inv_freq / float(scaling["factor"])
    elif kind == "llama3":
        factor = float(scaling["factor"])
        low = float(scaling.get("low_freq_factor", 1.0))
        high = float(scaling.get("high_freq_factor", 4.0))
        old_ctx = float(scaling.get("original_max_position_embeddings", 8192))
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old_ctx / low, inv_freq / factor, inv_freq)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old_ctx / high) & ~(wavelen > old_ctx / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind != "default":
        raise SystemExit(f"rope scaling {kind} is not implemented here")
    return inv_freq


def rms_norm(x, weight, eps):
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Llama:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        cfg = self.cfg
        self.w = read_checkpoint(model_dir)
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv_heads = cfg.get("num_key_value_heads") or self.n_heads
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.n_heads
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.inv_freq = inverse_frequencies(cfg, self.head_dim)
        self.lm_head = self.w.get("lm_head.weight")
        if cfg.get("tie_word_embeddings", False) or self.lm_head is None:
            self.lm_head = self.w["model.embed_tokens.weight"]

    def forward(self, ids):
        """Logits [len(ids), vocab] for a sequence starting at position 0."""
        w, n, hd = self.w, len(ids), self.head_dim
        x = w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.int64)]
        positions = torch.arange(n, dtype=torch.int64).float()
        freqs = torch.outer(positions, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((n, n), float("-inf")).triu(1)
        n_rep = self.n_heads // self.n_kv_heads
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(n, self.n_heads, hd).transpose(0, 1)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(n, self.n_kv_heads, hd).transpose(0, 1)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(n, self.n_kv_heads, hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # repeat_kv: query head j reads KV head j // n_rep.
            k = k[:, None].expand(self.n_kv_heads, n_rep, n, hd).reshape(self.n_heads, n, hd)
            v = v[:, None].expand(self.n_kv_heads, n_rep, n, hd).reshape(self.n_heads, n, hd)
            scores = q @ k.transpose(1, 2) / math.sqrt(hd) + mask
            attn = torch.softmax(scores.float(), dim=-1) @ v
            attn = attn.transpose(0, 1).reshape(n, self.n_heads * hd)
            x = x + attn @ w[p + "self_attn.o_proj.weight"].T
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            gate = h @ w[p + "mlp.gate_proj.weight"].T
            up = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        return x @ self.lm_head.T


def round7(values):
    return [float(f"{v:.7g}") for v in values]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", required=True, help="Hugging Face directory from `meridian make-model --format hf`")
    ap.add_argument("--out", required=True, help="golden JSON to write")
    ap.add_argument("--prompt", default=",".join(map(str, DEFAULT_PROMPT)), help="comma-separated token ids")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # a fixed summation order, so reruns give the same digits
    model = Llama(args.model_dir)
    prompt = [int(t) for t in args.prompt.split(",")]
    vocab = model.cfg["vocab_size"]
    if any(t < 0 or t >= vocab for t in prompt):
        raise SystemExit(f"prompt ids must be in [0, {vocab})")

    logits = model.forward(prompt)
    ids = list(prompt)
    greedy, margins = [], []
    step_logits = logits
    for _ in range(GREEDY_TOKENS):
        last = step_logits[-1]
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        token = int(torch.argmax(last))
        greedy.append(token)
        ids.append(token)
        step_logits = model.forward(ids)

    spec = model.cfg.get("meridian_random_model", {})
    golden = {
        "generator": spec,
        "reference": "tools/golden/llama_reference.py, PyTorch " + torch.__version__ + ", float32",
        "n_vocab": vocab,
        "prompt": prompt,
        "greedy": greedy,
        "greedy_min_margin": float(f"{min(margins):.4g}"),
        "max_abs_logit": float(f"{float(logits.abs().max()):.7g}"),
        "logits": [round7(row.tolist()) for row in logits],
    }
    lines = ["{"]
    for key in ["generator", "reference", "n_vocab", "prompt", "greedy", "greedy_min_margin", "max_abs_logit"]:
        lines.append(f"  {json.dumps(key)}: {json.dumps(golden[key])},")
    rows = ",\n    ".join(json.dumps(r) for r in golden["logits"])
    lines.append(f'  "logits": [\n    {rows}\n  ]')
    lines.append("}")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{args.out}: {len(prompt)} positions, greedy {greedy[:8]}..., "
          f"min greedy margin {min(margins):.3g}, max |logit| {float(logits.abs().max()):.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
