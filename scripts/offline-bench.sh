#!/usr/bin/env bash
# The main job on a machine without network and without the project's .venv, such as a GPU server
# whose Python already has torch, transformers, onnx and onnxscript:
#   1. export what the machine's Python can (random weights where real ones cannot be had) from a
#      downloads cache made elsewhere with `scripts/export_models.py --slim-cache DIR`;
#   2. run `mora bench` with the ONNX Runtime library named by ORT_DYLIB_PATH (a CUDA build for CUDA).
#
# usage: ORT_DYLIB_PATH=/path/libonnxruntime.so.1.31.1 scripts/offline-bench.sh DOWNLOADS_DIR MORA_BIN [mora bench args...]
# e.g.   ... scripts/offline-bench.sh .cache/slim target/release/mora --provider cpu,cuda
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ] || [ -z "${ORT_DYLIB_PATH:-}" ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
downloads=$1 mora=$2
shift 2
python=${PYTHON:-python3}
# Models whose inputs cannot be had offline are skipped with the reason; the run goes on without them.
# The exporter asks this mora to check models.yaml.
MORA="$mora" "$python" scripts/export_models.py --config models.yaml --offline --downloads "$downloads" || true
"$mora" doctor
exec "$mora" bench --config models.yaml "$@"
