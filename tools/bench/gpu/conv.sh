#!/usr/bin/env bash
# The UNet's WebGPU training step with all of difflab's kernels, without the split-K filter
# gradient (DifflabConv2DFilterGrad, packages/runtime/src/webgpu-conv-filter-grad.ts) and without
# the fused GroupNorm (packages/runtime/src/webgpu-group-norm.ts), and with tfjs-webgpu's naive
# Conv2DBackpropInput (dx) instead of its implicit GEMM; device time per kernel; then the
# bench (every difflab case after 20 warmup steps, submit batch 32).
# Needs .gpu/ from pack.sh (carried). ~260 s: run with timeout_s ~340. Usage, from the repo root:
#   bash tools/bench/gpu/conv.sh OUT_DIR [bench seconds]
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
limit=${2:-170}
# UNET_BATCH=2 for a dry run here (DIFFLAB_LOCAL=1 VK_ICD_FILENAMES=...swiftshader...): batch 64 takes minutes a step on SwiftShader.
batch=${UNET_BATCH:-64}
mkdir -p "$out"
t0=$(date +%s)
{
  source tools/bench/gpu/setup.sh
  r() { timeout 90 "$DIFFLAB_NODE" .gpu/bench/case-runner.mjs "$@" --backend webgpu 2>/dev/null | tee -a "$out/conv.jsonl"; }
  # all difflab kernels; without the split-K filter gradient; without the fused GroupNorm (twice, alternating)
  for round in 1 2; do
    for v in all no-conv-filter-grad no-group-norm naive-dx; do
      echo "== UNet train step, batch $batch, $v ($(($(date +%s) - t0)) s)"
      case $v in
        all) r image-train-unet --batch "$batch" --iters 10 --warmup 10 --repeats 2 ;;
        no-conv-filter-grad) r image-train-unet --batch "$batch" --iters 10 --warmup 10 --repeats 2 --without-kernels DifflabConv2DFilterGrad ;;
        no-group-norm) r image-train-unet --batch "$batch" --iters 10 --warmup 10 --repeats 2 --without-kernels DifflabGroupNorm,DifflabGroupNormGrad ;;
        naive-dx) r image-train-unet --batch "$batch" --iters 10 --warmup 10 --repeats 2 --tf-flags WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=true ;;
      esac
    done
  done
  echo "== device time per kernel, UNet, all kernels ($(($(date +%s) - t0)) s)"
  r profile-unet --batch "$batch" --warmup 5
} 2>&1 | tee "$out/conv.log"
echo "== bench ($(($(date +%s) - t0)) s)"
ROUNDS=1 BENCH_RUNNER_ARGS="--submit-batch 32 --warmup 20" bash tools/bench/gpu/run.sh "$out/bench" "$limit" image-train-patch-transformer,image-train-unet,spiral-train,spiral-sample-ddpm,spiral-sample-ddim20,image-sample-unet,gemm 0
echo "== all done in $(($(date +%s) - t0)) s"
