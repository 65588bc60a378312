"""The mora binary the exporter's tests check models.yaml with: $MORA, else target/debug/mora, which
`cargo test` builds (scripts/test.sh runs it before these tests). Not target/release/mora: it may be
older than the code under test. Where it is missing, the tests that need it fail and say so."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mora_binary() -> Path:
    p = Path(os.environ["MORA"]) if os.environ.get("MORA") else REPO / "target" / "debug" / "mora"
    if not (p.is_file() and os.access(p, os.X_OK)):
        raise AssertionError(f"{p} is missing: the exporter asks mora to check models.yaml; build it with "
                             "`cargo build` (scripts/test.sh runs `cargo test` first) or set MORA")
    return p


def env_with_mora() -> dict[str, str]:
    """The environment for running the exporter: this one, with MORA set."""
    return {**os.environ, "MORA": str(mora_binary())}
