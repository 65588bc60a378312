#!/usr/bin/env bash
# Sets up what mora needs, from nothing: a project .venv with ONNX Runtime (the CPU build, or the
# CUDA 13 build where an NVIDIA driver is found), plus the export tooling or the test tooling.
#
#   scripts/setup.sh            runtime only (CPU or GPU, detected)
#   scripts/setup.sh --export   + torch, transformers, onnx... for scripts/export_models.py (~3 GB once)
#   scripts/setup.sh --test     + onnx, pyyaml, numpy for the tests (no torch)
#   scripts/setup.sh --gpu      force onnxruntime-gpu==1.31.1 with NVIDIA's CUDA 13 / cuDNN 9 wheels
#   scripts/setup.sh --cpu      force the CPU build
#   scripts/setup.sh --tensorrt + TensorRT's libraries and the TensorRT-RTX plugin (with --gpu)
#   scripts/setup.sh --no-providers   skip the provider plugins (OpenVINO, WebGPU) and OpenVINO's runtime
# The provider plugins (scripts/requirements-providers.txt) and OpenVINO's own runtime build
# (scripts/requirements-openvino.txt, into .venv/providers/openvino) are installed unless --no-providers.
# Every version is pinned in scripts/requirements-*.txt. Re-running is fast: pip skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_export=0 want_test=0 want_providers=1 want_tensorrt=0 flavour=auto
for arg in "$@"; do
  case "$arg" in
    --export) want_export=1 ;;
    --test) want_test=1 ;;
    --gpu) flavour=gpu ;;
    --cpu) flavour=cpu ;;
    --tensorrt) want_tensorrt=1 ;;
    --no-providers) want_providers=0 ;;
    *) echo "setup.sh: unknown option $arg (see the top of this file)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "setup.sh: $python not found: install Python 3.10 or newer" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }

if [ "$flavour" = auto ]; then
  if [ -e /proc/driver/nvidia/version ] || nvidia-smi -L >/dev/null 2>&1; then flavour=gpu; else flavour=cpu; fi
fi
if [ "$flavour" = gpu ]; then
  echo "setup: ONNX Runtime with CUDA (onnxruntime-gpu, CUDA 13 and cuDNN 9 wheels)"
  pip uninstall -y onnxruntime >/dev/null 2>&1 || true
  pip install -r scripts/requirements-gpu.txt
else
  echo "setup: ONNX Runtime for CPU (onnxruntime)"
  pip uninstall -y onnxruntime-gpu >/dev/null 2>&1 || true
  pip install -r scripts/requirements-runtime.txt
fi
if [ "$want_providers" = 1 ]; then
  echo "setup: execution-provider plugins (OpenVINO, WebGPU) and OpenVINO's runtime build"
  pip install --no-deps -r scripts/requirements-providers.txt
  # --target does not skip what is there: install only when the pinned version is not.
  ov=$(sed -n 's/^onnxruntime-openvino==//p' scripts/requirements-openvino.txt)
  if [ ! -d ".venv/providers/openvino/onnxruntime_openvino-$ov.dist-info" ]; then
    rm -rf .venv/providers/openvino
    pip install --no-deps --target .venv/providers/openvino -r scripts/requirements-openvino.txt
  fi
fi
if [ "$want_tensorrt" = 1 ]; then
  echo "setup: TensorRT libraries and the TensorRT-RTX plugin"
  pip install -r scripts/requirements-tensorrt.txt
fi
if [ "$want_test" = 1 ]; then
  echo "setup: test tooling"
  pip install -r scripts/requirements-test.txt
fi
if [ "$want_export" = 1 ]; then
  echo "setup: export tooling (torch is about 3 GB the first time)"
  pip install -r scripts/requirements-export.txt
fi
# The memory-levers scenario preloads these allocators into workers; without them it says how to get them.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ls /usr/lib/*/libjemalloc.so.2 >/dev/null 2>&1; then
  echo "setup: process allocators for the memory-levers scenario (jemalloc, mimalloc, tcmalloc)"
  allocators="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $allocators >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $allocators >/dev/null 2>&1; } \
    || echo "setup: could not install them; the memory-levers scenario will name what is missing"
fi
lib=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | sort | tail -n 1)
echo "setup: ONNX Runtime library: ${lib:-MISSING}"
[ -n "$lib" ]
