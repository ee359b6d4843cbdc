#!/usr/bin/env bash
# One GPU session's work as one command (the device budget is ~15 minutes, start-up included):
# first the bench cases that time this repo's WebGPU changes against PyTorch CUDA, then training
# the mnist-text weights on the GPU for the time left. Needs .gpu/ from pack.sh (carried).
# Usage, from the repo root: bash tools/bench/gpu/session.sh OUT_DIR [total seconds, default 540]
#   OUT_DIR/bench/   bench-gpu.json + .log (patch transformer, UNet, spiral train steps)
#   OUT_DIR/train/   train.log and run/ (config.json, model.json, weights.bin: EMA weights)
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
total=${2:-540}
t0=$(date +%s)
ROUNDS=1 bash tools/bench/gpu/run.sh "$out/bench" 150 image-train-patch-transformer,image-train-unet,spiral-train 0
left=$((total - ($(date +%s) - t0)))
echo "== training for ${left} s"
[ "$left" -gt 150 ] && bash tools/bench/gpu/train.sh "$out/train" "$left" mnist-text --set train.batchSize=256 --checkpoint-every 1000
echo "== session done in $(($(date +%s) - t0)) s"
