#!/usr/bin/env bash
# The bench on an NVIDIA GPU machine: difflab on the webgpu backend (Dawn -> Vulkan -> NVIDIA)
# against PyTorch CUDA, same cases, same run. Needs .gpu/ from tools/bench/gpu/pack.sh (carried)
# and a Python with torch on the PATH (python3). Usage, from the repo root:
#   bash tools/bench/gpu/run.sh OUT_DIR [seconds limit for the bench, default 420]
# Writes OUT_DIR/bench-gpu.json (after every case) and OUT_DIR/bench-gpu.log.
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-out/bench-gpu}
limit=${2:-420}
cases=${3:-image-train-patch-transformer,image-train-unet,spiral-train,spiral-sample-ddpm,spiral-sample-ddim20,image-sample-unet,gemm}
ablation=${4:-0}
mkdir -p "$out"
exec > >(tee "$out/bench-gpu.log") 2>&1
t0=$(date +%s)
source tools/bench/gpu/setup.sh
node=$DIFFLAB_NODE
echo "== smoke (webgpu adapter, one spiral step)"
timeout 120 "$node" .gpu/bench/case-runner.mjs spiral-train --backend webgpu --batch 256 --iters 5 --warmup 2 --repeats 1
if [ "$ablation" = 1 ]; then
  echo "== ablation ($(($(date +%s) - t0)) s so far)"
  bash tools/bench/gpu/ablation.sh "$out"
fi
echo "== bench ($(($(date +%s) - t0)) s so far)"
timeout "$limit" "$node" .gpu/bench/bench.mjs --backends webgpu --python python3 --torch-device cuda --torch-threads 1 --rounds "${ROUNDS:-2}" \
  --runner .gpu/bench/case-runner.mjs --torch-script tools/bench/reference_torch.py --out "$out/bench-gpu.json" \
  --cases "$cases" ${BENCH_RUNNER_ARGS:+--runner-args "$BENCH_RUNNER_ARGS"}
rc=$?
echo "== done in $(($(date +%s) - t0)) s (bench exit $rc)"
