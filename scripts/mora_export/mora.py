"""Asking mora about models.yaml. mora owns the file's rules (its schema is schema/models.schema.json),
so the exporter does not keep a second copy of them: `mora models --config PATH --check` judges the
file and its error, with the file, line and fix, becomes a ConfigError.

Which mora: --mora PATH, else the MORA environment variable, else target/release/mora, else
target/debug/mora (in this repository), else `mora` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _runnable(p: Path) -> bool:
    return p.is_file() and os.access(p, os.X_OK)


def find_mora(flag: str | None = None, environ: Mapping[str, str] = os.environ, repo: Path = REPO) -> Path:
    """The mora binary to ask; none is a ConfigError saying how to get one."""
    for given, name in ((flag, "--mora"), (environ.get("MORA"), "MORA")):
        if given:
            if not _runnable(Path(given)):
                raise ConfigError(f"{name} {given}: no such program: give the path of a mora binary "
                                  "(cargo build --release makes target/release/mora)")
            return Path(given)
    for built in (repo / "target" / "release" / "mora", repo / "target" / "debug" / "mora"):
        if _runnable(built):
            return built
    on_path = shutil.which("mora", path=environ.get("PATH"))
    if on_path:
        return Path(on_path)
    raise ConfigError(f"mora is not built, and the exporter asks it to check models.yaml: run `cargo build --release` "
                      f"in {repo}, or pass --mora PATH (or set MORA)")


def check_config(path: Path, mora: Path) -> None:
    """mora's verdict on the file: nothing when it is valid, else a ConfigError with mora's message."""
    cmd = [str(mora), "models", "--config", str(path), "--check"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"cannot run {mora} to check {path}: {e}") from e
    if r.returncode == 0:
        return
    message = r.stderr.strip().removeprefix("Error: ")
    if "--check" in message and "unexpected argument" in message:
        raise ConfigError(f"{mora} is older than `mora models --check`: rebuild it (cargo build --release) "
                          "or pass --mora PATH")
    raise ConfigError(message or f"{' '.join(cmd)} failed with exit code {r.returncode}")
