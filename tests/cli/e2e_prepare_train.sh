#!/usr/bin/env bash
# pouch data prepare on a small JSONL corpus, then train and eval on its shards.
# usage: e2e_prepare_train.sh POUCH
set -euo pipefail
pouch=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
for i in $(seq 1 300); do
  echo "{\"text\": \"document $i says hello to the world of pouch, number $i\", \"quality\": $((i % 11)), \"source\": \"web\"}"
done > corpus.jsonl
"$pouch" data prepare --input corpus.jsonl --out d --vocab-size 300 --val-fraction 0.1
ls d/train_*.bin d/val_*.bin d/tokenizer.json d/docs.tsv > /dev/null
"$pouch" train --model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=32 --model.vocab_size=300 \
  --train.batch_size=2 --phases=1 --phase.1.steps=5 --phase.1.curriculum=none --phase.1.quality_sampling=false --phase.1.source_weights= --data.path='d/train_*.bin' --data.val_path='d/val_*.bin' \
  --train.eval_every=5 --train.run_dir=run --log.peak_gflops=100 | tee train.log
grep -q "trained 5 steps" train.log
grep -q "val_loss" run/metrics.jsonl
"$pouch" eval --weights run/model.h5 --data 'd/val_*.bin' --batches 2 --batch-size 2 | grep val_loss
"$pouch" generate --weights run/model.h5 --prompt 'document 7' --max-tokens 8
echo "e2e ok"
