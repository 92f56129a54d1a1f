#!/bin/sh
# The training step as run on the GPU machine (through the `device` tool), from
# the repository root, with .device-carry/brown carried along:
#
#   tools/train/run_device.sh OUT_DIR
#
# 1. Trains each configuration of the sweep below (same seed, same data order),
#    each with its own cosine schedule and its best-validation checkpoint.
# 2. Picks the configuration with the lowest validation loss (float32, every
#    token scored) and checks its HF export with transformers: logits against
#    our model, validation loss through transformers, the tokenizer and chat
#    template through AutoTokenizer, samples through generate().
# 3. Leaves in OUT_DIR what comes back from the device: train_log.txt (all
#    runs), metrics.json (the chosen run), sweep.json, hf-small.tar (the JSON
#    files of the export) and model.safetensors cut into 15 MiB parts (files
#    come back at most 16 MiB each; `cat` joins them, see docs/training.md).
set -eu
out=${1:?usage: $0 OUT_DIR}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, transformers, sentencepiece, numpy; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentencepiece', sentencepiece.__version__, 'numpy', numpy.__version__)"

work=/tmp/meridian-brown
rm -rf "$work"
mkdir -p "$work"
# name: train.py flags. Every run states lr, dropout, weight decay and steps;
# the rest are train.py's defaults: dim 384, 10 layers, 6 heads, 2 KV heads,
# ffn 1024, ctx 512, batch 64, warm-up 100, cosine to 5%, AdamW betas
# 0.9/0.95, grad clip 1.0, seed 1337. (train.py's own defaults for the four
# swept values are those of the chosen run, d20_lr1_s700.)
sweep='d20_s700 --lr 2e-3 --dropout 0.2 --weight-decay 0.1 --max-steps 700
d30_s900 --lr 2e-3 --dropout 0.3 --weight-decay 0.1 --max-steps 900
d30_wd5_s900 --lr 2e-3 --dropout 0.3 --weight-decay 0.5 --max-steps 900
d40_s1200 --lr 2e-3 --dropout 0.4 --weight-decay 0.1 --max-steps 1200
d20_lr1_s700 --lr 1e-3 --dropout 0.2 --weight-decay 0.1 --max-steps 700'
echo "$sweep" | while read -r name flags; do
  echo "=== run $name: $flags" | tee -a "$out/train_log.txt"
  # shellcheck disable=SC2086
  python3 tools/train/train.py --data-dir .device-carry/brown --out-dir "$work/$name" \
    --export-dir "$work/$name/hf" --eval-every 25 --time-limit 110 --skip-verify $flags
  cat "$work/$name/train_log.txt" >> "$out/train_log.txt"
done

best=$(python3 - "$work" "$out/sweep.json" <<'PY'
import json, os, sys
work, dest = sys.argv[1], sys.argv[2]
runs = {}
for name in sorted(os.listdir(work)):
    p = os.path.join(work, name, "metrics.json")
    if os.path.exists(p):
        m = json.load(open(p))
        runs[name] = {"args": m["args"], "best_step": m["best_step"], "steps_run": m["steps_run"],
                      "train_seconds": m["train_seconds"], **m["final_f32"]}
best = min(runs, key=lambda n: runs[n]["val_every_token_loss"])
json.dump({"chosen": best, "runs": runs}, open(dest, "w"), indent=1)
print(best)
PY
)
echo "=== chosen: $best" | tee -a "$out/train_log.txt"
python3 tools/train/train.py --data-dir .device-carry/brown --out-dir "$work/$best" \
  --export-dir "$work/$best/hf" --verify-only
cp "$work/$best/train_log.txt" "$out/chosen_log.txt"
python3 - "$work/$best" "$out/metrics.json" <<'PY'
import json, os, sys
d, dest = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(d, "metrics.json")))
m["verify"] = json.load(open(os.path.join(d, "verify.json")))
json.dump(m, open(dest, "w"), indent=1)
PY
split -b 15M -d -a 2 "$work/$best/hf/model.safetensors" "$out/model.safetensors.part-"
tar -C "$work/$best/hf" -cf "$out/hf-small.tar" config.json generation_config.json \
  tokenizer_config.json special_tokens_map.json
ls -l "$work/$best/hf" "$out"
