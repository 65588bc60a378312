"""Source kind `hub`: an ONNX file in a Hugging Face repository (`repo`, `file`). Nothing to export:
mora fetches it through the local Hugging Face cache at run time."""

from __future__ import annotations

from .registry import SourceKind, register


@register
class HubSource(SourceKind):
    kind = "hub"
    exports = False
