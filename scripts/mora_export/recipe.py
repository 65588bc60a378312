"""A model's recipe: what in its models.yaml entry decides what the export writes, and its sha256.

manifest.json records the hash; a model whose manifest holds the current hash (and whose files are all
there) is up to date and not exported again. The hash is taken over the entry as written in models.yaml,
so it must not change with the exporter's code: only EXPORTER_FORMAT_VERSION changes it on purpose.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# Bump when the export procedure changes in a way that changes what is written: every model's
# recipe_sha256 changes with it, so a re-run re-exports everything.
EXPORTER_FORMAT_VERSION = 1


def recipe_of(model: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a models.yaml entry (a mapping as read from YAML) that decide the export."""
    return {
        "exporter_format": EXPORTER_FORMAT_VERSION,
        "source": model.get("source"),
        "tokenizer": model.get("tokenizer"),
        "inputs": model.get("inputs"),
    }


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def recipe_sha256(model: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(recipe_of(model))).hexdigest()
