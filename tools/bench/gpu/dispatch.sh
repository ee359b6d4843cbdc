#!/usr/bin/env bash
# The dispatch path on a GPU machine (needs .gpu/ from pack.sh, carried): tfjs-webgpu's own
# (a bind group and a uniform write per program) against difflab's cached bind groups and uniform
# buffers (packages/runtime/src/webgpu-dispatch.ts), at two submit batch sizes; the matmul variants
# of the patch transformer; its device time per kernel and a CPU profile; then the whole bench.
# Usage, from the repo root: bash tools/bench/gpu/dispatch.sh OUT_DIR [bench seconds]
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
limit=${2:-220}
mkdir -p "$out/prof"
t0=$(date +%s)
{
  source tools/bench/gpu/setup.sh
  r() { timeout 90 "$DIFFLAB_NODE" .gpu/bench/case-runner.mjs "$@" --backend webgpu 2>/dev/null | tee -a "$out/dispatch.jsonl"; }
  for v in "tfjs 15" "cached 15" "cached 64"; do
    set -- $v
    echo "== dispatch $1, submit batch $2 ($(($(date +%s) - t0)) s)"
    r overheads --iters 1000 --repeats 3 --webgpu-dispatch "$1" --submit-batch "$2"
    r spiral-train --batch 256 --iters 100 --warmup 10 --repeats 3 --webgpu-dispatch "$1" --submit-batch "$2"
    r image-train-patch-transformer --batch 64 --iters 20 --warmup 5 --repeats 2 --webgpu-dispatch "$1" --submit-batch "$2"
  done
  echo "== matmul variants ($(($(date +%s) - t0)) s)"
  r gemm-variants --iters 50 --warmup 5 --repeats 3
  echo "== device time per kernel ($(($(date +%s) - t0)) s)"
  r profile-patch-transformer --batch 64 --warmup 5
  echo "== CPU profile, patch transformer step, cached ($(($(date +%s) - t0)) s)"
  timeout 90 "$DIFFLAB_NODE" --cpu-prof --cpu-prof-dir="$out/prof" .gpu/bench/case-runner.mjs image-train-patch-transformer --backend webgpu --batch 64 --iters 40 --warmup 5 --repeats 2
} 2>&1 | tee "$out/dispatch.log"
echo "== bench ($(($(date +%s) - t0)) s)"
ROUNDS=1 bash tools/bench/gpu/run.sh "$out/bench" "$limit" image-train-patch-transformer,image-train-unet,spiral-train,spiral-sample-ddpm,spiral-sample-ddim20,image-sample-unet,gemm 0
echo "== all done in $(($(date +%s) - t0)) s"
