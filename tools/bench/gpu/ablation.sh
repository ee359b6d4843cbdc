#!/usr/bin/env bash
# Where the WebGPU time goes, on a GPU machine, after run.sh's unpacking (same .gpu/, same node):
# per-op costs (overheads case) and two training steps under tfjs-webgpu's own upload path vs
# difflab's queue.writeBuffer uploads, and the submit batch size (tfjs default 15).
# Usage: bash tools/bench/gpu/ablation.sh OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-out/bench-gpu}
mkdir -p "$out"
node=${DIFFLAB_NODE:-/tmp/difflab-node}
r() { timeout 60 "$node" .gpu/bench/case-runner.mjs "$@" --backend webgpu 2>/dev/null | tee -a "$out/ablation.jsonl"; }
for up in tfjs write-buffer; do
  for sb in 15 200; do
    echo "== uploads $up, submit batch $sb"
    r overheads --iters 1000 --repeats 3 --webgpu-uploads "$up" --submit-batch "$sb"
    r spiral-train --batch 32 --iters 100 --warmup 10 --repeats 3 --webgpu-uploads "$up" --submit-batch "$sb"
    r image-train-patch-transformer --batch 64 --iters 5 --warmup 2 --repeats 2 --webgpu-uploads "$up" --submit-batch "$sb"
  done
done
