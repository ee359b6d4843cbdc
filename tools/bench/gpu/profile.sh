#!/usr/bin/env bash
# Where the WebGPU training step's time goes, on a GPU machine (needs .gpu/ from pack.sh, carried):
# per-op host cost (`overheads`), device time per kernel (`tf.profile` with timestamp queries),
# a V8 CPU profile of the patch transformer's training step, then the bench against PyTorch CUDA.
# Usage, from the repo root: bash tools/bench/gpu/profile.sh OUT_DIR [bench cases] [bench seconds]
#   OUT_DIR/profile.log, OUT_DIR/prof/*.cpuprofile, OUT_DIR/bench/bench-gpu.{json,log}
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
cases=${2:-image-train-patch-transformer,image-train-unet,spiral-train,spiral-sample-ddpm,spiral-sample-ddim20,image-sample-unet,gemm}
limit=${3:-240}
mkdir -p "$out/prof"
t0=$(date +%s)
{
  source tools/bench/gpu/setup.sh
  run() { timeout 120 "$DIFFLAB_NODE" "$@"; }
  r=.gpu/bench/case-runner.mjs
  echo "== overheads ($(($(date +%s) - t0)) s)"
  run $r overheads --backend webgpu --iters 1000 --repeats 3
  echo "== device time per kernel ($(($(date +%s) - t0)) s)"
  run $r profile-patch-transformer --backend webgpu --batch 64 --warmup 5
  run $r profile-unet --backend webgpu --batch 64 --warmup 5
  echo "== CPU profile, patch transformer step ($(($(date +%s) - t0)) s)"
  run --cpu-prof --cpu-prof-dir="$out/prof" $r image-train-patch-transformer --backend webgpu --batch 64 --iters 40 --warmup 5 --repeats 2
} 2>&1 | tee "$out/profile.log"
echo "== bench ($(($(date +%s) - t0)) s)"
ROUNDS=1 bash tools/bench/gpu/run.sh "$out/bench" "$limit" "$cases" 0
echo "== all done in $(($(date +%s) - t0)) s"
