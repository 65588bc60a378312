"""A model folder on disk: whether it is up to date, and putting a new one in place atomically.

A model is exported into a staging folder beside its final one (.<id>.tmp-<pid>), manifest.json is
written last (fsynced, renamed into place), then the old folder moves aside (.<id>.old-<pid>) and the
staging folder is renamed in: an interrupted export never leaves a half model that looks done.
A model whose manifest matches the recipe and whose files are all there (by size) is up to date.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .config import ModelEntry
from .context import ExportContext
from .packages import versions_of

MANIFEST_SCHEMA = 1


# ------------------------------------------------------------------------------------------------
# reading what is there


def manifest_up_to_date(folder: Path, model: ModelEntry) -> bool:
    mf = folder / "manifest.json"
    try:
        doc = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if doc.get("schema") != MANIFEST_SCHEMA or doc.get("recipe_sha256") != model.recipe_sha256:
        return False
    files = doc.get("files")
    if not isinstance(files, list) or not files:
        return False
    for f in files:
        try:
            p = folder / f["path"]
            if not p.is_file() or p.stat().st_size != int(f["bytes"]):
                return False
        except (KeyError, TypeError, ValueError, OSError):
            return False
    return True


def read_manifest(folder: Path) -> dict[str, Any]:
    """A model folder's manifest.json (OSError or ValueError where there is none or it is broken)."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------
# the manifest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def list_files(stage: Path) -> list[dict[str, Any]]:
    """[{path, bytes, sha256}] of every file in the staging folder but the manifest, sorted by path."""
    files = []
    for p in sorted(stage.rglob("*")):
        if p.is_file() and p.name not in ("manifest.json", "manifest.json.tmp"):
            files.append({"path": p.relative_to(stage).as_posix(), "bytes": p.stat().st_size,
                          "sha256": sha256_file(p)})
    return files


def build_manifest(model: ModelEntry, ctx: ExportContext, files: list[dict[str, Any]], read_back: dict[str, Any],
                   seconds: float) -> dict[str, Any]:
    """manifest.json: provenance, the weights really got, every file, the graph's inputs and outputs."""
    return {
        "schema": MANIFEST_SCHEMA,
        "id": model.id,
        "recipe_sha256": model.recipe_sha256,
        "source": model.source.raw,
        "weights": ctx.weights,
        "files": files,
        "size_bytes": sum(f["bytes"] for f in files),
        "opset": read_back["opset"],
        "inputs": read_back["inputs"],
        "outputs": read_back["outputs"],
        "exporter": {
            "method": ctx.method,
            "versions": versions_of(sorted(ctx.used)),
        },
        "exported_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "export_seconds": seconds,
        "notes": ctx.notes,
    }


# ------------------------------------------------------------------------------------------------
# writing


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def staging_folder(models_dir: Path, mid: str) -> Path:
    """A new, empty staging folder for a model, after what an interrupted export left is cleaned."""
    models_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(models_dir, mid)
    stage = models_dir / f".{mid}.tmp-{os.getpid()}"
    stage.mkdir()
    return stage


def publish(stage: Path, manifest: dict[str, Any], models_dir: Path, mid: str) -> None:
    """Write the manifest into the staging folder, then swap the folder in as <models_dir>/<mid>."""
    write_json_atomic(stage / "manifest.json", manifest)
    fsync_dir(stage)
    # swap into place: the old folder (if any) moves aside first, then the new one is renamed in
    folder = models_dir / mid
    old = None
    if folder.exists():
        old = models_dir / f".{mid}.old-{os.getpid()}"
        os.replace(folder, old)
    os.replace(stage, folder)
    fsync_dir(models_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# what an interrupted export left


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale(models_dir: Path, mid: str) -> None:
    """Remove what an interrupted export of this model left (not another live run's folders)."""
    for pattern in (f".{mid}.tmp-*", f".{mid}.old-*"):
        for p in models_dir.glob(pattern):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and _pid_alive(int(pid)):
                continue
            shutil.rmtree(p, ignore_errors=True)
