#!/usr/bin/env bash
# The test command: ONNX Runtime (CPU) and the test tooling into .venv, then the Rust tests and the
# export pipeline's tests. No GPU, no network beyond the package registries, no torch.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test --cpu
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# The exporter asks mora to check models.yaml: its tests use the target/debug/mora just built.
.venv/bin/python -m unittest discover -s scripts/tests
