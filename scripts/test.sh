#!/usr/bin/env bash
# The test command: ONNX Runtime (CPU) and the test tooling into .venv, the fleet tests' Debian
# packages (Slurm, MUNGE, Chromium; pinned, installed as root where missing), then the Rust tests, the
# export pipeline's tests and the fleet tests: the Kubernetes manifests against Kubernetes' schema, the
# HTML report in headless Chromium, and a one-node Slurm cluster running a fleet end to end. No GPU,
# no network beyond the package registries, no torch.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test --cpu
scripts/fleet/tests/install-deps.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# The exporter asks mora to check models.yaml: its tests use the target/debug/mora just built.
.venv/bin/python -m unittest discover -s scripts/tests
scripts/fleet/tests/kubernetes.sh
scripts/fleet/tests/html.sh
scripts/fleet/tests/task.sh
scripts/fleet/tests/slurm.sh
