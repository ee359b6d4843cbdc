# Sourced by run.sh and train.sh on the GPU machine, from the repo root: prints the machine,
# installs the Vulkan loader from .gpu/gl, unpacks Node and Dawn, finds NVIDIA's Vulkan manifest.
# Sets DIFFLAB_NODE (the Node binary) and VK_DRIVER_FILES. DIFFLAB_LOCAL=1: a dry run on a machine
# without a GPU (this machine's node, Dawn unpacked, SwiftShader through VK_ICD_FILENAMES).
if [ "${DIFFLAB_LOCAL:-0}" = 1 ]; then
  DIFFLAB_NODE=$(command -v node)
  export DIFFLAB_NODE
  xz -dc .gpu/dawn.node.xz >.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
  echo "local dry run: $DIFFLAB_NODE, VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
  return 0
fi
echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' || true
nproc
echo "== unpack"
for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
ldconfig -p | grep -E 'libvulkan|libGLX_nvidia' | head -4
DIFFLAB_NODE=/tmp/difflab-node
export DIFFLAB_NODE
_unxz() { python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" "$1" "$2"; }
_unxz .gpu/node.xz "$DIFFLAB_NODE" && chmod +x "$DIFFLAB_NODE" && "$DIFFLAB_NODE" --version
_unxz .gpu/dawn.node.xz .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
# NVIDIA's Vulkan manifest is often outside the loader's standard directories on such machines.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for m in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$m" ]; then export VK_DRIVER_FILES=$m; break; fi
  done
fi
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
