#!/usr/bin/env python3
"""Baseline for `meridian bench-engine --backend cuda`: Hugging Face transformers (fp16, eager,
dynamic cache) on a randomly initialized LLaMA-2-7B-shaped model, same GPU, same session. Prints
one JSON line: batch-1 decode tok/s, TTFT of a 512-token prompt, and total decode tok/s with
16 and 64 sequences (512-token prompts, 128 new tokens each)."""
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def timed(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main():
    cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).half().eval()
    res = {"engine": "transformers fp16 eager", "gpu": torch.cuda.get_device_name()}
    gen = dict(do_sample=False, pad_token_id=0)

    def decode(batch, prompt, new):
        ids = torch.randint(3, 32000, (batch, prompt), device="cuda")
        mask = torch.ones_like(ids)
        t_pre, _ = timed(lambda: model.generate(ids, attention_mask=mask, max_new_tokens=1, min_new_tokens=1, **gen))
        t_all, _ = timed(lambda: model.generate(ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new, **gen))
        return batch * (new - 1) / max(t_all - t_pre, 1e-9)

    with torch.no_grad():
        decode(1, 16, 8)  # warm-up
        res["decode_tok_s_batch1"] = decode(1, 16, 64)
        ids = torch.randint(3, 32000, (1, 512), device="cuda")
        model(ids)
        res["ttft_512_ms"] = 1000 * min(timed(lambda: model(ids))[0] for _ in range(3))
        for b in (16, 64):
            res[f"decode_tok_s_{b}x512+128"] = decode(b, 512, 128)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
