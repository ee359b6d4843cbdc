#!/usr/bin/env bash
# The UNet's WebGPU training step with and without difflab's split-K filter-gradient kernel
# (DifflabConv2DFilterGrad, packages/runtime/src/webgpu-conv-filter-grad.ts), device time per
# kernel with it, then the bench (every difflab case after 20 warmup steps, submit batch 32).
# Needs .gpu/ from pack.sh (carried). ~200 s. Usage, from the repo root:
#   bash tools/bench/gpu/conv.sh OUT_DIR [bench seconds]
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
limit=${2:-170}
mkdir -p "$out"
t0=$(date +%s)
{
  source tools/bench/gpu/setup.sh
  r() { timeout 90 "$DIFFLAB_NODE" .gpu/bench/case-runner.mjs "$@" --backend webgpu 2>/dev/null | tee -a "$out/conv.jsonl"; }
  for k in without with without with; do
    echo "== UNet train step, batch 64, $k the filter-gradient kernel ($(($(date +%s) - t0)) s)"
    if [ $k = without ]; then r image-train-unet --batch 64 --iters 10 --warmup 10 --repeats 2 --without-kernels DifflabConv2DFilterGrad
    else r image-train-unet --batch 64 --iters 10 --warmup 10 --repeats 2; fi
  done
  echo "== device time per kernel, UNet, with the kernel ($(($(date +%s) - t0)) s)"
  r profile-unet --batch 64 --warmup 5
} 2>&1 | tee "$out/conv.log"
echo "== bench ($(($(date +%s) - t0)) s)"
ROUNDS=1 BENCH_RUNNER_ARGS="--submit-batch 32 --warmup 20" bash tools/bench/gpu/run.sh "$out/bench" "$limit" image-train-patch-transformer,image-train-unet,spiral-train,spiral-sample-ddpm,spiral-sample-ddim20,image-sample-unet,gemm 0
echo "== all done in $(($(date +%s) - t0)) s"
