#!/usr/bin/env bash
# Pack what `npm run bench` needs on a GPU machine that has Python and PyTorch but no Node and no
# package registry, into .gpu/ at the repo root (git-ignored; carried to that machine):
#   bench/bench.mjs, bench/case-runner.mjs   the bench and its case runner as single-file bundles
#   node.xz                                  this machine's Node binary, compressed
#   node_modules/webgpu/ + dawn.node.xz      the `webgpu` package (Dawn for Node), Linux x64 binary
#   gl/*.deb                                 the Vulkan loader (and GL dispatch libraries)
# Then run tools/bench/gpu/run.sh there. Needs a built tree (npm run build). About 30 MiB.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=.gpu
rm -rf "$out"
mkdir -p "$out/bench" "$out/node_modules/webgpu/dist/linux-x64" "$out/gl"
# tfjs-backend-wasm stays out: the GPU run uses the webgpu backend only (the import is lazy).
common=(--bundle --platform=node --format=esm --target=node20 --log-level=warning
  --external:webgpu --external:@tensorflow/tfjs-backend-wasm
  "--banner:js=import { createRequire as __difflabRequire } from 'node:module'; const require = __difflabRequire(import.meta.url);")
npx esbuild tools/bench/dist/case-runner.js "${common[@]}" --outfile="$out/bench/case-runner.mjs"
npx esbuild tools/bench/dist/bench.js "${common[@]}" --outfile="$out/bench/bench.mjs"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/node_modules/webgpu/"
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$out/dawn.node.xz"
xz -T2 -6 -c "$(command -v node)" >"$out/node.xz"
# The Khronos Vulkan loader and the GL vendor-neutral dispatch libraries NVIDIA's Vulkan driver
# loads through (Debian amd64 packages; unpacked with dpkg -x on the GPU machine).
lists=$(mktemp -d)
mkdir -p "$lists/partial"
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
apt-get "${o[@]}" update -qq
(cd "$out/gl" && apt-get "${o[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
rm -rf "$lists"
du -sh "$out"
