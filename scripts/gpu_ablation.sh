#!/bin/bash
# Ablation variants on a lent GPU machine: scripts/gpu_ablation.sh OUTDIR BATCHES "VARIANT,VARIANT"
# e.g. through the device tool (carry .pack and .whl):
#   scripts/gpu_ablation.sh $OUT 900 "shipped recipe,no decoder loss"
# Rows are appended to OUTDIR/ablation.jsonl as each variant finishes (kept if the call times out).
set -u
out=$1 batches=$2 only=$3
source scripts/gpu_env.sh
python3 scripts/gpu_ablation.py configs/train_gpu.json "$batches" "$out" --only "$only" 2>&1 | grep --line-buffered -v -i warn
