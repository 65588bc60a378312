"""Environment variables the exporter reads or sets.

Importing this module sets defaults for the Hugging Face libraries (before any of them is imported),
so a hub attempt stays short where the hub is slow and never hangs; a value already set wins.
"""

from __future__ import annotations

import os

# Keep a hub attempt short where the hub is slow; never hang on it.
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "20")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def env_true(name: str) -> bool:
    """Whether an environment variable is set to a true value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
