#!/usr/bin/env python3
"""Train Meridian's small LLaMA model on the Brown Corpus and export it in the
Hugging Face layout.

Inputs (made by prepare_brown.py, train_tokenizer.sh and tokenize_data.py):
  DATA_DIR/train.bin, DATA_DIR/valid.bin   uint16 ids, [bos] + encode(whole file)
  DATA_DIR/meta.json                       vocab size and special ids
  DATA_DIR/tokenizer.model                 the SentencePiece model

Outputs:
  OUT_DIR/train_log.txt     every line the run printed (hyper-parameters, the
                            train/validation loss curve, checks, samples)
  OUT_DIR/metrics.json      the same figures, machine readable
  EXPORT_DIR/               config.json, generation_config.json, model.safetensors,
                            tokenizer.model, tokenizer_config.json (chat template),
                            special_tokens_map.json

The model is a compact re-implementation of Hugging Face's LlamaForCausalLM
(RMSNorm computed in float32, rotate-half RoPE, grouped-query attention,
SwiGLU MLP, no biases, untied lm_head). Parameter names are HF's, so the state
dict IS the export. Dropout (residual branches only) is a training-time
regulariser and does not exist at inference.

Training windows: a random start s in the train ids; input = ids[s:s+ctx] with
its first token replaced by BOS, target = ids[s+1:s+ctx+1]. Validation uses the
same construction over consecutive windows s = 0, ctx, 2*ctx, ... so that every
validation token after the initial BOS is scored exactly once ("every-token"
loss); the log also gives the llama.cpp-style figure that `meridian perplexity`
computes: windows of ctx tokens at 0, ctx, 2*ctx, ... that fit entirely, BOS in
front, only the predictions at positions ctx/2 .. ctx-2 scored.

The run is seeded (model init, data order, sampling). On a GPU it is not bit
for bit reproducible (atomic adds in the attention backward), but reruns agree
to within noise.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------

class ModelConfig:
    def __init__(self, vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
                 num_key_value_heads, intermediate_size, max_position_embeddings,
                 rope_theta=10000.0, rms_norm_eps=1e-5, dropout=0.0):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        self.rms_norm_eps = rms_norm_eps
        self.dropout = dropout
        if hidden_size % num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if num_attention_heads % num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        self.head_dim = hidden_size // num_attention_heads

    @staticmethod
    def from_hf(cfg):
        return ModelConfig(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"],
                           cfg["num_attention_heads"], cfg["num_key_value_heads"],
                           cfg["intermediate_size"], cfg["max_position_embeddings"],
                           cfg.get("rope_theta", 10000.0), cfg.get("rms_norm_eps", 1e-6))


class RMSNorm(nn.Module):
    """LlamaRMSNorm: normalise in float32, cast back, then scale."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_tables(head_dim, max_pos, theta):
    """cos/sin tables as LlamaRotaryEmbedding computes them (float32)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(max_pos, dtype=torch.int64).float()
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads = c.num_attention_heads
        self.n_kv = c.num_key_value_heads
        self.head_dim = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, self.n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, self.n_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, c.hidden_size, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        cos = cos[:t].to(q.dtype)
        sin = sin[:t].to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.n_kv != self.n_heads:
            # HF repeat_kv: KV head j serves query heads j*g .. j*g+g-1.
            g = self.n_heads // self.n_kv
            k = k.repeat_interleave(g, dim=1)
            v = v.repeat_interleave(g, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # PyTorch < 2.0 (Debian 12's python3-torch)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            y = att @ v
        y = y.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, cos, sin):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cos, sin))
        x = x + self.drop(self.mlp(self.post_attention_layernorm(x)))
        return x


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class Llama(nn.Module):
    """State-dict keys equal LlamaForCausalLM's (model.layers.N.self_attn.q_proj.weight ...)."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = Backbone(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        cos, sin = rope_tables(c.head_dim, c.max_position_embeddings, c.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def init_weights(self, std=0.02):
        resid_std = std / math.sqrt(2 * self.config.num_hidden_layers)
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=resid_std)
            else:
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, self.rope_cos, self.rope_sin)
        return self.lm_head(self.model.norm(x))


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------
# safetensors (own writer/reader: no dependency, fixed byte layout)
# ----------------------------------------------------------------------------

_ST_DTYPES = {torch.float32: ("F32", np.float32), torch.float16: ("F16", np.float16)}


def save_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> tensor. Writes them in that order."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        code, npdt = _ST_DTYPES[t.dtype]
        data = t.detach().cpu().contiguous().numpy().astype(np.dtype(npdt).newbyteorder("<"),
                                                               copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for data in blobs:
            f.write(data)


def load_safetensors(path):
    """-> dict name -> float32 tensor (F32, F16 and BF16 inputs)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            if info["dtype"] == "F32":
                arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
            elif info["dtype"] == "F16":
                arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
            elif info["dtype"] == "BF16":
                u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                arr = u.view(np.float32)
            else:
                raise ValueError("unsupported dtype %s in %s" % (info["dtype"], path))
            out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------
# HF export
# ----------------------------------------------------------------------------

# LLaMA-2 style chat template. A base model has no chat tuning; the template
# gives servers a well-defined prompt layout for chat requests.
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set system_message = '<<SYS>>\\n' + messages[0]['content'] | trim + '\\n<</SYS>>\\n\\n' %}"
    "{% set loop_messages = messages[1:] %}"
    "{% else %}"
    "{% set system_message = '' %}"
    "{% set loop_messages = messages %}"
    "{% endif %}"
    "{% for message in loop_messages %}"
    "{% if message['role'] == 'user' %}"
    "{% if loop.index0 == 0 %}{% set content = system_message + message['content'] | trim %}"
    "{% else %}{% set content = message['content'] | trim %}{% endif %}"
    "{{ bos_token + '[INST] ' + content + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ ' ' + message['content'] | trim + ' ' + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)


def hf_config(c, meta, dtype_name):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "tie_word_embeddings": False,
        "bos_token_id": meta["bos_id"],
        "eos_token_id": meta["eos_id"],
        "pad_token_id": None,
        "use_cache": True,
        "torch_dtype": dtype_name,
        "dtype": dtype_name,
    }


def export_hf(model, meta, tokenizer_path, export_dir, dtype, train_info):
    os.makedirs(export_dir, exist_ok=True)
    c = model.config
    dtype_name = {torch.float16: "float16", torch.float32: "float32"}[dtype]
    with open(os.path.join(export_dir, "config.json"), "w") as f:
        json.dump(hf_config(c, meta, dtype_name), f, indent=2)
        f.write("\n")
    with open(os.path.join(export_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": meta["bos_id"], "eos_token_id": meta["eos_id"],
                   "do_sample": True, "temperature": 0.8, "top_p": 0.95}, f, indent=2)
        f.write("\n")
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    tok_cfg = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "legacy": False,
        "add_prefix_space": None,
        "clean_up_tokenization_spaces": False,
        "spaces_between_special_tokens": False,
        "model_max_length": c.max_position_embeddings,
        "sp_model_kwargs": {},
        "use_default_system_prompt": False,
        "added_tokens_decoder": {
            str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True}
            for i, s in ((meta["unk_id"], "<unk>"), (meta["bos_id"], "<s>"), (meta["eos_id"], "</s>"))
        },
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(export_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(export_dir, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
        f.write("\n")
    shutil.copyfile(tokenizer_path, os.path.join(export_dir, "tokenizer.model"))
    tensors = {k: v.to(dtype) for k, v in model.state_dict().items()}
    st_path = os.path.join(export_dir, "model.safetensors")
    save_safetensors(st_path, tensors, {"format": "pt", **train_info})
    return st_path


# ----------------------------------------------------------------------------
# Data and evaluation
# ----------------------------------------------------------------------------

def load_ids(path):
    return torch.from_numpy(np.fromfile(path, dtype="<u2").astype(np.int64))


def make_batch(ids, starts, ctx, bos):
    """Windows at `starts`: input ids[s:s+ctx] with BOS first, target ids[s+1:s+ctx+1]."""
    idx = starts[:, None] + torch.arange(ctx + 1, device=ids.device)[None, :]
    chunk = ids[idx]
    x = chunk[:, :-1].clone()
    x[:, 0] = bos
    return x, chunk[:, 1:]


@torch.no_grad()
def evaluate(logits_fn, ids, ctx, bos, batch_size, device, autocast_dtype=None):
    """Return (every-token mean NLL, tokens, llama.cpp-style second-half mean NLL, tokens).

    Every-token: windows at 0, ctx, 2ctx, ...; window at s predicts ids[s+1 .. s+ctx]
    (the last window may be shorter), so each of ids[1:] is scored once.
    Half: only full windows (n // ctx of them), and in each only the predictions made at
    positions ctx/2 .. ctx-2, i.e. ctx/2 - 1 tokens a window: exactly what llama.cpp's and
    `meridian perplexity` score."""
    n = ids.numel()
    starts = list(range(0, n - 1, ctx))
    full = [s for s in starts if s + ctx + 1 <= n]
    tail = [s for s in starts if s + ctx + 1 > n]
    n_half_windows = n // ctx  # llama.cpp / meridian: windows of ctx tokens that fit in n
    tot = 0.0
    cnt = 0
    half_tot = 0.0
    half_cnt = 0
    ids_dev = ids.to(device)
    for i in range(0, len(full), batch_size):
        st = torch.tensor(full[i:i + batch_size], device=device)
        x, y = make_batch(ids_dev, st, ctx, bos)
        if autocast_dtype is not None:
            with torch.autocast(device_type=device.type, dtype=autocast_dtype):
                logits = logits_fn(x)
        else:
            logits = logits_fn(x)
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                              reduction="none").view(y.shape)
        tot += nll.sum().item()
        cnt += nll.numel()
        k = max(0, min(len(full[i:i + batch_size]), n_half_windows - i))
        half_tot += nll[:k, ctx // 2:ctx - 1].sum().item()
        half_cnt += nll[:k, ctx // 2:ctx - 1].numel()
    for s in tail:
        length = n - 1 - s
        x = ids_dev[s:s + length].clone()[None]
        x[0, 0] = bos
        y = ids_dev[s + 1:s + 1 + length][None]
        if autocast_dtype is not None:
            with torch.autocast(device_type=device.type, dtype=autocast_dtype):
                logits = logits_fn(x)
        else:
            logits = logits_fn(x)
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                              reduction="none")
        tot += nll.sum().item()
        cnt += length
        if s // ctx < n_half_windows:  # n a multiple of ctx: the last window is still whole
            half_tot += nll[ctx // 2:ctx - 1].sum().item()
            half_cnt += nll[ctx // 2:ctx - 1].numel()
    return tot / cnt, cnt, half_tot / max(1, half_cnt), half_cnt


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

class Logger:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, *parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.f.write(line + "\n")


def lr_at(step, args):
    """Linear warm-up to lr, then cosine decay to lr*min_lr_frac at max_steps."""
    if step <= args.warmup_steps:
        return args.lr * step / args.warmup_steps
    progress = min(1.0, (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps))
    return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


def verify_with_transformers(log, cfg, export_dir, val_ids, ctx, bos, device, tokenizer_path,
                             metrics, sample_seed):
    """Load the export with transformers' LlamaForCausalLM; compare logits with our
    model carrying the same (rounded) weights; score validation; sample text.
    Runs in true float32 (TF32 off)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        import transformers
        from transformers import LlamaForCausalLM
    except Exception as e:  # transformers absent (e.g. a CPU run on Debian)
        log("transformers check skipped: %s" % e)
        return
    log("transformers %s: loading %s" % (transformers.__version__, export_dir))
    try:
        hf = LlamaForCausalLM.from_pretrained(export_dir, dtype=torch.float32)
    except TypeError:
        hf = LlamaForCausalLM.from_pretrained(export_dir, torch_dtype=torch.float32)
    hf.to(device).eval()
    # Our model with the exported (rounded) weights, float32 math.
    ref = Llama(cfg).to(device)
    sd = load_safetensors(os.path.join(export_dir, "model.safetensors"))
    ref.load_state_dict(sd)
    ref.eval()
    st = torch.tensor([0, ctx, 2 * ctx, 3 * ctx], device=device)
    x, _ = make_batch(val_ids.to(device), st, ctx, bos)
    with torch.no_grad():
        a = hf(input_ids=x).logits.float()
        b = ref(x).float()
    diff = (a - b).abs().max().item()
    log("logits check (4 x %d validation tokens, float32): max |HF - ours| = %.3e, max |logit| = %.2f"
        % (ctx, diff, b.abs().max().item()))
    metrics["hf_logits_max_abs_diff"] = diff
    ev = evaluate(lambda t: hf(input_ids=t).logits, val_ids, ctx, bos, 16, device)
    log("validation via transformers (exported weights): every-token loss %.4f ppl %.3f over %d tokens;"
        " llama.cpp-style half-window loss %.4f ppl %.3f over %d tokens"
        % (ev[0], math.exp(ev[0]), ev[1], ev[2], math.exp(ev[2]), ev[3]))
    metrics["hf_export_val"] = {"every_token_loss": ev[0], "every_token_ppl": math.exp(ev[0]),
                                "tokens": ev[1], "half_window_loss": ev[2],
                                "half_window_ppl": math.exp(ev[2]), "half_tokens": ev[3]}
    # Tokenizer: transformers' own loading of the export, compared with SentencePiece.
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=tokenizer_path)
    probe = 'The jury said, "It is 1961."\n\nHe left.'
    try:
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(export_dir)
        hf_ids = tok(probe)["input_ids"]
        sp_ids = [sp.bos_id()] + sp.encode(probe)
        log("AutoTokenizer: %s; ids equal to SentencePiece's: %s" % (type(tok).__name__, hf_ids == sp_ids))
        if hf_ids != sp_ids:
            log("  HF ids:", hf_ids)
            log("  SP ids:", sp_ids)
        chat = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Tell me about the jury."}]
        rendered = tok.apply_chat_template(chat, tokenize=False)
        log("chat template renders: %r" % rendered)
    except Exception as e:
        log("AutoTokenizer check failed (not fatal): %r" % (e,))
    # Samples through transformers' generate.
    prompts = ["The jury said", "In the morning, the", "The results of the experiment",
               "She looked at him and"]
    for i, p in enumerate(prompts):
        ids = torch.tensor([[sp.bos_id()] + sp.encode(p)], device=device)
        torch.manual_seed(sample_seed + i)
        with torch.no_grad():
            out = hf.generate(ids, max_new_tokens=60, do_sample=True, temperature=0.8, top_k=40,
                              top_p=1.0, pad_token_id=sp.eos_id(), eos_token_id=sp.eos_id())
            greedy = hf.generate(ids, max_new_tokens=40, do_sample=False, pad_token_id=sp.eos_id(),
                                 eos_token_id=sp.eos_id())
        log("sample %d (T=0.8, top-k 40, seed %d): %r" % (i, sample_seed + i, sp.decode(out[0, 1:].tolist())))
        log("greedy %d: %r" % (i, sp.decode(greedy[0, 1:].tolist())))


def main():
    # The defaults are the configuration of the shipped model (run d20_lr1_s700
    # of the sweep in run_device.sh).
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--export-dir", required=True)
    ap.add_argument("--seed", type=int, default=1337)
    # model
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--norm-eps", type=float, default=1e-5)
    ap.add_argument("--dropout", type=float, default=0.2)
    # optimisation
    ap.add_argument("--batch", type=int, default=64, help="sequences per step")
    ap.add_argument("--max-steps", type=int, default=700)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--time-limit", type=float, default=1e9,
                    help="stop training after this many seconds (the best checkpoint is exported)")
    ap.add_argument("--export-dtype", choices=["f16", "f32"], default="f16")
    ap.add_argument("--device", default=None)
    ap.add_argument("--skip-verify", action="store_true",
                    help="do not load the export with transformers (e.g. during a sweep)")
    ap.add_argument("--verify-only", action="store_true",
                    help="only check an existing EXPORT_DIR with transformers (no training)")
    args = ap.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    log = Logger(os.path.join(args.out_dir, "train_log.txt"))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    t_start = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = torch.bfloat16 if device.type == "cuda" else None

    with open(os.path.join(args.data_dir, "meta.json")) as f:
        meta = json.load(f)
    tokenizer_path = os.path.join(args.data_dir, "tokenizer.model")
    train_ids = None if args.verify_only else load_ids(os.path.join(args.data_dir, "train.bin"))
    val_ids = load_ids(os.path.join(args.data_dir, "valid.bin"))
    bos = meta["bos_id"]

    log("command: " + " ".join(sys.argv))
    log("torch %s, python %s, device %s%s" % (
        torch.__version__, sys.version.split()[0], device,
        (" (%s)" % torch.cuda.get_device_name(device)) if device.type == "cuda" else ""))
    if args.verify_only:
        with open(os.path.join(args.export_dir, "config.json")) as f:
            cfg = ModelConfig.from_hf(json.load(f))
        st_path = os.path.join(args.export_dir, "model.safetensors")
        log("export %s: %d bytes, sha256 %s" % (st_path, os.path.getsize(st_path), sha256_file(st_path)))
        metrics = {}
        verify_with_transformers(log, cfg, args.export_dir, val_ids, cfg.max_position_embeddings,
                                 bos, device, tokenizer_path, metrics, args.seed)
        with open(os.path.join(args.out_dir, "verify.json"), "w") as f:
            json.dump(metrics, f, indent=1)
            f.write("\n")
        return
    log("data: train %d tokens, valid %d tokens (BOS included), vocab %d, tokenizer sha256 %s"
        % (train_ids.numel(), val_ids.numel(), meta["vocab_size"], meta["tokenizer_sha256"]))
    log("args: " + json.dumps(vars(args), sort_keys=True))

    cfg = ModelConfig(meta["vocab_size"], args.dim, args.layers, args.heads, args.kv_heads,
                      args.ffn, args.ctx, args.rope_theta, args.norm_eps, args.dropout)
    model = Llama(cfg)
    model.init_weights()
    model.to(device)
    n_params = count_params(model)
    n_embed = model.model.embed_tokens.weight.numel() + model.lm_head.weight.numel()
    log("model: LLaMA dim %d, layers %d, heads %d (head_dim %d), kv heads %d, ffn %d, ctx %d, "
        "rope theta %g, untied lm_head; %d parameters (%.2fM; %.2fM without embeddings and lm_head)"
        % (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.head_dim,
           cfg.num_key_value_heads, cfg.intermediate_size, cfg.max_position_embeddings,
           cfg.rope_theta, n_params, n_params / 1e6, (n_params - n_embed) / 1e6))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kwargs = dict(lr=args.lr, betas=(args.beta1, args.beta2), eps=1e-8)
    if device.type == "cuda":
        opt_kwargs["fused"] = True
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], **opt_kwargs)

    gen = torch.Generator()
    gen.manual_seed(args.seed + 1)
    train_dev = train_ids.to(device)
    tokens_per_step = args.batch * args.ctx
    max_start = train_ids.numel() - args.ctx - 1

    metrics = {"params": n_params, "curve": [], "args": vars(args)}
    best = (float("inf"), 0)
    best_state = None
    loss_acc = torch.zeros((), device=device)
    loss_n = 0
    t_train = time.time()
    step = 0
    stopped = "max_steps"
    model.train()
    for step in range(1, args.max_steps + 1):
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, max_start + 1, (args.batch,), generator=gen).to(device)
        x, y = make_batch(train_dev, starts, args.ctx, bos)
        if amp is not None:
            with torch.autocast(device_type=device.type, dtype=amp):
                logits = model(x)
        else:
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_acc += loss.detach()
        loss_n += 1
        out_of_time = time.time() - t_start > args.time_limit
        if step % args.eval_every == 0 or step == args.max_steps or out_of_time:
            train_loss = (loss_acc / loss_n).item()
            loss_acc.zero_()
            loss_n = 0
            model.eval()
            vl, _, _, _ = evaluate(model, val_ids, args.ctx, bos, 32, device, amp)
            model.train()
            elapsed = time.time() - t_train
            epochs = step * tokens_per_step / train_ids.numel()
            tps = step * tokens_per_step / elapsed
            mark = ""
            if vl < best[0]:
                best = (vl, step)
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                mark = " *"
            log("step %5d  epoch %6.2f  lr %.2e  train_loss %.4f  val_loss %.4f  val_ppl %8.3f  "
                "gnorm %.3f  %.0f tok/s  %.0fs%s"
                % (step, epochs, lr, train_loss, vl, math.exp(vl), gnorm.item(), tps, elapsed, mark))
            metrics["curve"].append({"step": step, "epoch": epochs, "lr": lr, "train_loss": train_loss,
                                     "val_loss": vl})
        if out_of_time:
            stopped = "time_limit"
            break
    train_seconds = time.time() - t_train
    log("training stopped at step %d (%s) after %.1f s; best val_loss %.4f at step %d"
        % (step, stopped, train_seconds, best[0], best[1]))

    model.load_state_dict(best_state)
    model.eval()
    if device.type == "cuda":  # the final figures in true float32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    # Final figures with float32 math on the best checkpoint.
    ev = evaluate(model, val_ids, args.ctx, bos, 16, device)
    n_tr = min(train_ids.numel(), val_ids.numel())
    evt = evaluate(model, train_ids[:n_tr], args.ctx, bos, 16, device)
    log("best checkpoint (step %d), float32: validation every-token loss %.4f ppl %.3f over %d tokens; "
        "half-window loss %.4f ppl %.3f over %d tokens; first %d train tokens loss %.4f ppl %.3f"
        % (best[1], ev[0], math.exp(ev[0]), ev[1], ev[2], math.exp(ev[2]), ev[3], n_tr, evt[0],
           math.exp(evt[0])))
    metrics.update({"best_step": best[1], "stopped": stopped, "steps_run": step,
                    "train_seconds": train_seconds,
                    "final_f32": {"val_every_token_loss": ev[0], "val_every_token_ppl": math.exp(ev[0]),
                                  "val_tokens": ev[1], "val_half_window_loss": ev[2],
                                  "val_half_window_ppl": math.exp(ev[2]),
                                  "train_head_loss": evt[0], "train_head_tokens": n_tr}})

    dtype = torch.float16 if args.export_dtype == "f16" else torch.float32
    model_cpu = model.to("cpu")
    st_path = export_hf(model_cpu, meta, tokenizer_path, args.export_dir, dtype,
                        {"trained_by": "meridian tools/train/train.py", "seed": args.seed,
                         "steps": best[1], "val_loss": "%.4f" % ev[0]})
    model.to(device)
    sha = sha256_file(st_path)
    log("exported %s (%s, %d bytes, sha256 %s)" % (st_path, args.export_dtype, os.path.getsize(st_path), sha))
    metrics["export"] = {"dtype": args.export_dtype, "bytes": os.path.getsize(st_path), "sha256": sha}

    if not args.skip_verify:
        verify_with_transformers(log, cfg, args.export_dir, val_ids, args.ctx, bos, device,
                                 tokenizer_path, metrics, args.seed)
    metrics["total_seconds"] = time.time() - t_start
    with open(os.path.join(args.out_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    log("total %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
