#!/usr/bin/env bash
# The dispatch path on a GPU machine (needs .gpu/ from pack.sh, carried): tfjs-webgpu's own
# (a bind group and a uniform write per program) against difflab's cached bind groups and uniform
# buffers (packages/runtime/src/webgpu-dispatch.ts) at three submit batch sizes; a CPU profile of
# the patch transformer's step; then the bench at the submit batch size that trained fastest.
# Usage, from the repo root: bash tools/bench/gpu/dispatch.sh OUT_DIR [bench seconds]
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
limit=${2:-200}
mkdir -p "$out/prof"
t0=$(date +%s)
{
  source tools/bench/gpu/setup.sh
  r() { timeout 90 "$DIFFLAB_NODE" .gpu/bench/case-runner.mjs "$@" --backend webgpu 2>/dev/null | tee -a "$out/dispatch.jsonl"; }
  echo "== dispatch tfjs, submit batch 15 ($(($(date +%s) - t0)) s)"
  r image-train-patch-transformer --batch 64 --iters 20 --warmup 10 --repeats 2 --webgpu-dispatch tfjs --submit-batch 15
  for sb in 15 32 100; do
    echo "== dispatch cached, submit batch $sb ($(($(date +%s) - t0)) s)"
    r spiral-train --batch 256 --iters 100 --warmup 20 --repeats 3 --webgpu-dispatch cached --submit-batch "$sb"
    r image-train-patch-transformer --batch 64 --iters 20 --warmup 10 --repeats 2 --webgpu-dispatch cached --submit-batch "$sb"
  done
  echo "== CPU profile, patch transformer step, cached ($(($(date +%s) - t0)) s)"
  timeout 90 "$DIFFLAB_NODE" --cpu-prof --cpu-prof-dir="$out/prof" .gpu/bench/case-runner.mjs image-train-patch-transformer --backend webgpu --batch 64 --iters 40 --warmup 10 --repeats 2
} 2>&1 | tee "$out/dispatch.log"
best=$(python3 - "$out/dispatch.jsonl" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
pt = {}
for r in rows:
    if r.get('case') == 'image-train-patch-transformer' and 'dispatch_cache' in r and 'ms' in r:
        pt.setdefault(r['submit_batch'], []).append(statistics.median(r['ms']))
print(min(pt, key=lambda k: min(pt[k])) if pt else 15)
PY
)
echo "== bench, submit batch $best ($(($(date +%s) - t0)) s)"
# 20 warmup steps for every case: the dispatch caches fill over the first 10-20 steps.
ROUNDS=1 BENCH_RUNNER_ARGS="--submit-batch $best --warmup 20" bash tools/bench/gpu/run.sh "$out/bench" "$limit" image-train-patch-transformer,image-train-unet,spiral-train,spiral-sample-ddpm,spiral-sample-ddim20,image-sample-unet,gemm 0
echo "== all done in $(($(date +%s) - t0)) s"
