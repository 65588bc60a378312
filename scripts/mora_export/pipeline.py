"""One model's export, start to end: skip it where there is nothing to do, else stage, build the
tokenizer (small, first: a model whose tokenizer cannot be had is skipped before the long part), let
the source kind's handler export, read the result back, publish it. Whatever happens becomes a row of
the summary table: exported, up to date, skipped (with the reason) or failed (with the reason)."""

from __future__ import annotations

import shutil
import time
import traceback
from dataclasses import dataclass

from .config import Config, ModelEntry
from .console import MB, log
from .context import ExportContext
from .downloads import Downloads
from .errors import ModelError, Skip
from .onnx_graph import read_back
from .publish import build_manifest, list_files, manifest_up_to_date, publish, read_manifest, staging_folder
from .sources import handler_for
from .tokenizers import build_tokenizer


@dataclass
class ExportRow:
    """A model's line in the summary table."""

    id: str
    status: str = ""  # exported | up to date | skipped | failed
    weights: str = ""
    size_mb: float | None = None
    seconds: float | None = None
    reason: str = ""


def export_one(model: ModelEntry, config: Config, dl: Downloads, force: bool, offline: bool) -> ExportRow:
    mid = model.id
    kind = model.source.kind
    handler = handler_for(kind, mid)
    row = ExportRow(id=mid)
    models_dir = config.models_dir
    folder = models_dir / mid
    if not handler.exports:
        log(f"{mid}: source kind '{kind}' - nothing to export (mora handles it)")
        row.status, row.reason = "skipped", f"source kind '{kind}': nothing to export"
        return row
    if not force and manifest_up_to_date(folder, model):
        log(f"{mid}: up to date (skipped)")
        doc = read_manifest(folder)
        row.status, row.weights = "up to date", doc.get("weights", "")
        row.size_mb, row.seconds = doc.get("size_bytes", 0) / MB, 0.0
        return row

    log(f"{mid}: exporting ({handler.label(model.source)}) ...")
    stage = staging_folder(models_dir, mid)
    ctx = ExportContext(config_dir=config.config_dir, offline=offline, defaults=config.defaults)
    t0 = time.time()
    ok = False
    try:
        # the tokenizer first: it is small, and a model whose tokenizer cannot be had is skipped
        # before the long part
        # (a `file` tokenizer is the user's own: mora reads it where models.yaml says)
        if model.tokenizer and model.tokenizer.kind != "file":
            build_tokenizer(model.tokenizer, dl, stage, ctx)
        handler.export(model, dl, stage, ctx)
        if not (stage / "model.onnx").is_file():
            raise ModelError("no model.onnx was written")
        rb = read_back(stage / "model.onnx")
        for loc in rb["external"]:
            if not (stage / loc).is_file():
                raise ModelError(f"model.onnx refers to external data {loc!r}, which is missing")
        files = list_files(stage)
        seconds = round(time.time() - t0, 2)
        manifest = build_manifest(model, ctx, files, rb, seconds)
        publish(stage, manifest, models_dir, mid)
        ok = True
        size = manifest["size_bytes"]
        log(f"{mid}: exported ({ctx.weights} weights, {size / MB:.1f} MB, {seconds:.1f} s, {ctx.method})")
        row.status, row.weights, row.size_mb, row.seconds = "exported", ctx.weights, size / MB, seconds
        return row
    except Skip as e:
        log(f"{mid}: skipped: {e}")
        row.status, row.reason, row.seconds = "skipped", str(e), round(time.time() - t0, 2)
        return row
    except ModelError as e:
        log(f"{mid}: FAILED: {e}")
        row.status, row.reason, row.seconds = "failed", str(e), round(time.time() - t0, 2)
        return row
    except Exception as e:  # an unexpected error: report it with its traceback, go on
        traceback.print_exc()
        log(f"{mid}: FAILED: {type(e).__name__}: {e}")
        row.status, row.reason = "failed", f"{type(e).__name__}: {e}"
        row.seconds = round(time.time() - t0, 2)
        return row
    finally:
        ctx.remove_temp_dirs()
        if not ok:
            shutil.rmtree(stage, ignore_errors=True)
