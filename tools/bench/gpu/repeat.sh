#!/usr/bin/env bash
# A second look at the image train steps on a GPU machine (needs .gpu/ from pack.sh, carried):
# the host (CPU model, clocks, load) and the GPU clocks before and after, the patch transformer's
# step in three fresh processes back to back (is a cold first process slower?), each followed by
# one without the webgpu kernels of sessions 11-12 (ablation), then the bench's image cases against PyTorch CUDA,
# ROUNDS rounds (default 3) alternating difflab and PyTorch. ~280 s. Usage, from the repo root: bash tools/bench/gpu/repeat.sh OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
mkdir -p "$out"
t0=$(date +%s)
{
  source tools/bench/gpu/setup.sh
  lscpu | grep -E 'Model name|CPU max MHz|^CPU\(s\)'
  cat /proc/loadavg
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,utilization.gpu --format=csv
  for k in 1 2 3; do
    echo "== patch transformer step, process $k ($(($(date +%s) - t0)) s)"
    timeout 90 "$DIFFLAB_NODE" .gpu/bench/case-runner.mjs image-train-patch-transformer --backend webgpu --batch 64 --iters 20 --warmup 20 --repeats 2 2>/dev/null
    # ablation (session 11): without difflab's WGSL attention, leading-axes Sum, group norm and
    # copy SplitV / Concat (so tfjs-webgpu's ops, and layer norms as normalise + multiply + add, as
    # in session 10): ~486 instead of ~168 programs a step (session 11: 493 and 198; session 12's
    # multi-output Adam and GELU stay in both)
    echo "== patch transformer step without the webgpu kernels of sessions 11-12, process $k ($(($(date +%s) - t0)) s)"
    timeout 90 "$DIFFLAB_NODE" .gpu/bench/case-runner.mjs image-train-patch-transformer --backend webgpu --batch 64 --iters 20 --warmup 20 --repeats 2 --without-kernels DifflabAttention,DifflabAttentionGrad,Sum,DifflabGroupNorm,DifflabGroupNormGrad,SplitV,Concat 2>/dev/null
  done
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,utilization.gpu --format=csv
  cat /proc/loadavg
} 2>&1 | tee "$out/repeat.log"
echo "== bench ($(($(date +%s) - t0)) s)"
ROUNDS=${ROUNDS:-3} BENCH_RUNNER_ARGS="--submit-batch 32 --warmup 20" bash tools/bench/gpu/run.sh "$out/bench" 200 image-train-patch-transformer,image-train-unet 0
echo "== all done in $(($(date +%s) - t0)) s"
