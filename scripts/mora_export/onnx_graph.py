"""Reading an ONNX file back (opset, inputs, outputs, external data files) and the two small edits the
exporter makes to a graph: renaming inputs and naming symbolic dims. Only the graph is loaded, never the
external data; the `onnx` package is imported on first use (a Skip where it is absent)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import Skip


def import_onnx() -> ModuleType:
    try:
        import onnx
    except ImportError as e:
        raise Skip(f"the Python package 'onnx' is not installed ({e})") from e
    return onnx


def onnx_dtype_name(elem_type: int) -> str:
    onnx = import_onnx()
    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type).name)
    except Exception:
        return str(onnx.TensorProto.DataType.Name(elem_type)).lower()


def onnx_value_infos(values: Iterable[Any]) -> list[dict[str, Any]]:
    """[{name, dtype, shape}] of ValueInfoProtos; a dim is an int, a symbolic name or None."""
    out = []
    for v in values:
        tt = v.type.tensor_type
        shape: list[Any] | None = None
        if tt.HasField("shape"):
            shape = []
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    shape.append(int(d.dim_value))
                elif d.HasField("dim_param"):
                    shape.append(d.dim_param)
                else:
                    shape.append(None)
        out.append({"name": v.name, "dtype": onnx_dtype_name(tt.elem_type), "shape": shape})
    return out


def onnx_external_locations(model: Any) -> list[str]:
    """The external data files a ModelProto's initializers (subgraphs included) refer to."""
    locs: set[str] = set()

    def visit(graph: Any) -> None:
        for t in graph.initializer:
            if t.data_location == 1:  # EXTERNAL
                for kv in t.external_data:
                    if kv.key == "location":
                        locs.add(kv.value)
        for node in graph.node:
            for a in node.attribute:
                if a.g is not None and a.HasField("g"):
                    visit(a.g)
                for g in a.graphs:
                    visit(g)

    visit(model.graph)
    return sorted(locs)


def read_back(onnx_path: Path) -> dict[str, Any]:
    """{opset, inputs, outputs, external} of an ONNX file, as manifest.json records them."""
    onnx = import_onnx()
    m = onnx.load(str(onnx_path), load_external_data=False)
    opset = None
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            opset = int(o.version)
    init_names = {t.name for t in m.graph.initializer}
    inputs = [v for v in m.graph.input if v.name not in init_names]
    return {"opset": opset, "inputs": onnx_value_infos(inputs), "outputs": onnx_value_infos(m.graph.output),
            "external": onnx_external_locations(m)}


def rename_onnx_inputs(onnx_path: Path, renames: dict[str, str], dim_renames: dict[str, str] | None = None) -> None:
    """Rename graph inputs (and every use of them) and symbolic dims in place; external data files
    are untouched."""
    onnx = import_onnx()
    m = onnx.load(str(onnx_path), load_external_data=False)
    for v in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        for d in v.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in (dim_renames or {}):
                d.dim_param = dim_renames[d.dim_param]  # type: ignore[index]

    def visit(graph: Any) -> None:
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name in renames:
                    node.input[i] = renames[name]
            for a in node.attribute:
                if a.HasField("g"):
                    visit(a.g)
                for g in a.graphs:
                    visit(g)

    for v in m.graph.input:
        if v.name in renames:
            v.name = renames[v.name]
    visit(m.graph)
    onnx.save(m, str(onnx_path))


def set_dim_names(onnx_path: Path, names: dict[str, dict[int, str]]) -> None:
    """Give symbolic dims of graph inputs readable names where the exporter left generic ones."""
    onnx = import_onnx()
    m = onnx.load(str(onnx_path), load_external_data=False)
    changed = False
    for v in m.graph.input:
        for axis, label in names.get(v.name, {}).items():
            dims = v.type.tensor_type.shape.dim
            if axis < len(dims) and not dims[axis].HasField("dim_value") and dims[axis].dim_param != label:
                dims[axis].dim_param = label
                changed = True
    if changed:
        onnx.save(m, str(onnx_path))
