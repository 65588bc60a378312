"""The torch half of the transformers and diffusers kinds: importing torch and its ONNX exporter,
torch.onnx.export(dynamo=True) into model.onnx (+ model.onnx.data) with the legacy exporter as a
fallback, and a check that onnxruntime (CPU) runs the export and agrees with torch."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..console import log
from ..errors import ModelError
from ..onnx_graph import import_onnx, set_dim_names
from ..packages import need_module

if TYPE_CHECKING:
    from ..context import ExportContext

DEFAULT_OPSET = 18


def import_torch_stack(why: str) -> ModuleType:
    """torch, with onnx and onnxscript (the dynamo exporter needs both); a Skip naming what is absent."""
    torch = need_module("torch", why)
    need_module("onnx", why)
    need_module("onnxscript", why)
    return torch


def quiet_warnings() -> None:
    """Silence the warnings torch and transformers print on every export."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*axis name.*will not be used.*")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except Exception:
        pass


def torch_export(torch: ModuleType, wrapper: Any, example: dict[str, Any], input_names: list[str],
                 output_names: list[str], dyn: dict[str, dict[int, str]] | None, out: Path,
                 ctx: ExportContext) -> None:
    """torch.onnx.export(dynamo=True) into out/model.onnx (+ model.onnx.data); the legacy exporter as
    a fallback. Records the method in ctx."""
    dest = out / "model.onnx"
    params = ctx.params
    log(f"  exporting with torch.onnx.export(dynamo=True), {params / 1e6:.1f}M parameters ...")
    t0 = time.time()
    try:
        if os.environ.get("MORA_EXPORTER", "").lower() == "legacy":
            raise RuntimeError("MORA_EXPORTER=legacy asks for the legacy exporter")
        dynamic_shapes = _dynamic_shapes(torch, dyn, ctx.seq_max) if dyn else None
        with torch.no_grad():
            torch.onnx.export(wrapper, (), str(dest), kwargs=example, input_names=input_names,
                              output_names=output_names, dynamic_shapes=dynamic_shapes,
                              opset_version=DEFAULT_OPSET, dynamo=True, external_data=True, verbose=False)
        ctx.method = "torch.onnx.export(dynamo=True)"
    except Exception as e:  # fall back to the TorchScript exporter
        dynamo_err = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
        log(f"  dynamo export failed ({dynamo_err}); trying the legacy exporter (dynamo=False) ...")
        for p in out.iterdir():
            if p.name.startswith("model.onnx"):
                p.unlink()
        _legacy_export(torch, wrapper, example, input_names, output_names, dyn, dest, ctx, dynamo_err)
        ctx.method = "torch.onnx.export(dynamo=False)"
        ctx.note(f"the dynamo exporter failed ({dynamo_err}); exported with the legacy exporter")
    if dyn:
        set_dim_names(dest, dyn)
    if not dest.is_file():
        raise ModelError("the exporter wrote no model.onnx")
    try:
        import_onnx().checker.check_model(str(dest))
    except Exception as e:
        raise ModelError(f"the exported model.onnx does not pass onnx.checker: {e}") from e
    ctx.note(f"exported in {time.time() - t0:.1f} s; {params / 1e6:.1f}M parameters")


def _dynamic_shapes(torch: ModuleType, dyn: dict[str, dict[int, str]],
                    seq_max: int | None) -> dict[str, dict[int, Any]]:
    """torch.export's dynamic_shapes from {input: {axis: dim name}}: one Dim per name, `sequence`
    bounded by the model's longest sequence."""
    dims: dict[str, Any] = {}
    dynamic_shapes = {}
    for name, axes in dyn.items():
        spec = {}
        for axis, label in axes.items():
            if label not in dims:
                kw = {"max": int(seq_max)} if label == "sequence" and seq_max else {}
                dims[label] = torch.export.Dim(label, **kw)
            spec[axis] = dims[label]
        dynamic_shapes[name] = spec
    return dynamic_shapes


def _legacy_export(torch: ModuleType, wrapper: Any, example: dict[str, Any], input_names: list[str],
                   output_names: list[str], dyn: dict[str, dict[int, str]] | None, dest: Path,
                   ctx: ExportContext, dynamo_err: str) -> None:
    """The TorchScript exporter (dynamo=False) into a temporary folder, then saved to `dest` with all
    weights in model.onnx.data, as the dynamo exporter writes them."""
    raw = ctx.temp_dir("mora-legacy-") / "model.onnx"
    try:
        with torch.no_grad():
            torch.onnx.export(wrapper, tuple(example[n] for n in input_names), str(raw),
                              input_names=input_names, output_names=output_names,
                              dynamic_axes=dyn or None, opset_version=DEFAULT_OPSET, dynamo=False,
                              do_constant_folding=True)
    except Exception as e2:
        raise ModelError(f"both exporters failed: dynamo: {dynamo_err}; legacy: "
                         f"{type(e2).__name__}: {str(e2).strip().splitlines()[0][:300]}") from e2
    onnx = import_onnx()
    m = onnx.load(str(raw), load_external_data=True)
    onnx.save_model(m, str(dest), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=1024)
    del m


def ort_check(torch: ModuleType, wrapper: Any, onnx_path: Path, input_names: list[str],
              output_names: list[str], shapes: dict[str, tuple[int, ...]], ctx: ExportContext,
              example: dict[str, Any] | None = None) -> None:
    """Run the exported model in onnxruntime (CPU) at the configured shapes and compare with torch."""
    try:
        import onnxruntime as ort
    except ImportError:
        ctx.note("not run in onnxruntime here: the package is not installed")
        return
    import numpy as np

    log(f"  checking in onnxruntime {ort.__version__} (CPU) at {shapes} ...")
    rng = np.random.default_rng(0)
    feeds: dict[str, Any] = {}
    if example is not None:
        feeds = {k: v.numpy() for k, v in example.items()}
    else:
        for n in input_names:
            shp = shapes[n]
            if n == "input_ids":
                feeds[n] = rng.integers(0, ctx.vocab if ctx.vocab is not None else 1000, size=shp, dtype=np.int64)
            elif n == "attention_mask":
                feeds[n] = np.ones(shp, dtype=np.int64)
            elif n == "token_type_ids":
                feeds[n] = np.zeros(shp, dtype=np.int64)
            else:
                feeds[n] = rng.standard_normal(shp).astype(np.float32)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        got = sess.run(None, feeds)
    except Exception as e:
        raise ModelError(f"onnxruntime cannot run the exported model: {str(e).splitlines()[0][:300]}") from e
    with torch.no_grad():
        ref = wrapper(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    diffs = []
    for name, g, r in zip(output_names, got, ref):
        r = r.detach().numpy()
        if g.shape != r.shape:
            raise ModelError(f"output {name}: onnxruntime gives shape {g.shape}, torch {r.shape}")
        d = float(np.max(np.abs(g - r))) if g.size else 0.0
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        diffs.append(f"{name} {list(g.shape)} max|diff| {d:.2e} (max|ref| {scale:.2e})")
        if not np.isfinite(d) or d > 1e-2 * max(1.0, scale):
            ctx.note(f"WARNING: onnxruntime and torch disagree on {name}: max|diff| {d:.3g}")
            log(f"  WARNING: onnxruntime and torch disagree on {name}: max|diff| {d:.3g}")
    del sess
    ctx.use("onnxruntime")
    ctx.note("onnxruntime CPU check against torch: " + "; ".join(diffs))
