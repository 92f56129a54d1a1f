#!/usr/bin/env python3
"""Compares Meridian's CUDA greedy run (JSON from engine_cuda_tests' EnvDumpGreedyRun) with Hugging
Face transformers loading the same random model's safetensors export (`meridian make-model
--format hf`). Runs transformers in float32 on the GPU, full recompute per step, and prints a JSON
line: greedy tokens identical or not, max |logit diff| over all steps, and the bound it is held to.
Exit status 1 if the tokens differ or the bound is exceeded."""
import argparse
import json
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--bound", type=float, default=0.02, help="allowed max |diff| / max |logit|")
    args = ap.parse_args()
    with open(args.dump) as f:
        run = json.load(f)
    try:
        model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(args.model_dir, torch_dtype=torch.float32)
    model = model.cuda().eval()
    ids = list(run["prompt"])
    hf_tokens, max_diff, max_abs = [], 0.0, 0.0
    with torch.no_grad():
        for step, ours in enumerate(run["logits"]):
            logits = model(torch.tensor([ids], device="cuda")).logits[0, -1].float().cpu()
            ours_t = torch.tensor(ours)
            max_diff = max(max_diff, (logits - ours_t).abs().max().item())
            max_abs = max(max_abs, logits.abs().max().item())
            nxt = int(logits.argmax())
            hf_tokens.append(nxt)
            ids.append(run["tokens"][step])  # follow Meridian's sequence so later steps stay comparable
    same = hf_tokens == run["tokens"]
    ok = same and max_diff <= args.bound * max_abs
    print(json.dumps({"greedy_identical": same, "steps": len(hf_tokens), "max_abs_logit_diff": max_diff,
                      "max_abs_logit": max_abs, "bound": args.bound * max_abs, "ok": ok,
                      "meridian": run["tokens"], "transformers": hf_tokens}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
