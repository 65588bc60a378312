"""Source kind `local`: the user's own ONNX file at `path`. Nothing to export: mora reads it where
models.yaml says."""

from __future__ import annotations

from .registry import SourceKind, register


@register
class LocalSource(SourceKind):
    kind = "local"
    exports = False
