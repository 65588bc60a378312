"""Where a model's `pretrained:` points: a local folder (relative to models.yaml), or a repository of the
Hugging Face Hub, which is tried only where it can be reached."""

from __future__ import annotations

import os
import socket
import urllib.parse
from pathlib import Path

from ..environment import env_true


def resolve_local(pretrained: str, config_dir: Path) -> Path | None:
    """`pretrained` as a local folder (relative to models.yaml's folder), or None where it is not one."""
    p = Path(pretrained).expanduser()
    if not p.is_absolute():
        p = config_dir / p
    return p if p.is_dir() else None


def hub_reachable() -> tuple[bool, str]:
    """Whether the Hugging Face Hub can be reached (a 3 s TCP connect), else why not."""
    if env_true("HF_HUB_OFFLINE") or env_true("TRANSFORMERS_OFFLINE"):
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    u = urllib.parse.urlparse(endpoint)
    host = u.hostname or "huggingface.co"
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=3):
            return True, ""
    except OSError as e:
        return False, f"the Hugging Face Hub ({host}) cannot be reached: {e}"
