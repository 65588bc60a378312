"""Python packages the exporter may or may not have: import one or Skip the model that needs it, and
the versions of those a model used (for its manifest).

torch, transformers, diffusers, gguf and tokenizers are imported only by the kinds that need them, so
a model that needs an absent package is skipped with the reason and the run goes on.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from .console import log
from .errors import Skip

if TYPE_CHECKING:
    from .downloads import Downloads

# Pure-Python packages that may be imported straight from their wheel in the downloads cache when they
# are not installed: a GPU server's image without network or pip lacks gguf, and a slim cache carries it.
# The pins match scripts/requirements-export.txt (a test checks).
WHEEL_IMPORTS = {"gguf": "gguf==0.19.0"}


def need_module(name: str, why: str, dl: Downloads | None = None) -> ModuleType:
    """Import a module, or Skip the model saying which package is missing. With `dl`, a package of
    WHEEL_IMPORTS that is not installed is imported from its wheel in the downloads cache."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing = e
    if dl is not None and name in WHEEL_IMPORTS:
        try:
            whl = dl.wheel(WHEEL_IMPORTS[name])
        except Skip as e:
            raise Skip(f"{why} needs the Python package '{name}', which is not installed ({missing}) "
                       f"and not in the downloads cache: {e}") from e
        if str(whl) not in sys.path:
            sys.path.insert(0, str(whl))
            importlib.invalidate_caches()
            log(f"  {name} is not installed: importing it from {whl}")
        return importlib.import_module(name)
    raise Skip(f"{why} needs the Python package '{name}', which is not installed ({missing})") from missing


def pkg_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions_of(names: list[str]) -> dict[str, str]:
    """Python's version and each named package's that is installed (or imported from a wheel)."""
    out = {"python": platform.python_version()}
    for n in names:
        v = pkg_version(n)
        if v is not None:
            out[n] = v
    return out
