#!/usr/bin/env bash
# The main job, from a fresh clone: set up ONNX Runtime and the export tooling, build mora (the
# exporter asks it to check models.yaml), export the default suite (models whose recipe has not
# changed are skipped), and run `mora bench` on every provider that works here. Extra arguments go to
# `mora bench` (e.g. --scenario single --models gpt2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --export
cargo build --release --locked
.venv/bin/python scripts/export_models.py --config models.yaml --mora target/release/mora
exec target/release/mora bench --config models.yaml "$@"
