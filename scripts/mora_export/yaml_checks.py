"""The small checks models.yaml is validated with, shared by config.py and the source kinds' own
checks: each raises ConfigError with the place (`where`) and what is wrong."""

from __future__ import annotations

import re
from typing import Any

from .errors import ConfigError


def need(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {msg}")


def is_str(v: Any) -> bool:
    """A non-empty string."""
    return isinstance(v, str) and v != ""


def pinned(spec: Any, where: str, key: str) -> None:
    """`spec` is a pinned PyPI requirement, name==version."""
    need(is_str(spec) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+", spec) is not None,
         where, f"`{key}` must be a pinned PyPI requirement like name==1.2.3, got {spec!r}")
