"""Source kind `transformers`: a transformers model (weights as transformers_weights.py finds them)
wrapped so that its inputs and outputs have mora's names, exported with torch.onnx.export and checked in
onnxruntime. Text models get dynamic `batch` and `sequence` dims, vision models a dynamic `batch`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ModelError
from ..packages import need_module
from .registry import SourceKind, register
from .torch_export import import_torch_stack, ort_check, quiet_warnings, torch_export
from .transformers_weights import ARCHITECTURES, load_transformers_model

if TYPE_CHECKING:
    from ..config import ModelEntry, SourceSpec
    from ..context import ExportContext
    from ..downloads import Downloads


@dataclass
class ExportIO:
    """A wrapped model with its inputs and outputs, as torch_export and ort_check take them."""

    wrapper: Any
    input_names: list[str]
    output_names: list[str]
    example: dict[str, Any]
    dyn: dict[str, dict[int, str]]
    check_shapes: dict[str, tuple[int, ...]]


@register
class TransformersSource(SourceKind):
    kind = "transformers"

    def check(self, source: dict[str, Any], where: str) -> None:
        if source["architecture"] not in ARCHITECTURES:
            raise ConfigError(f"{where}: unknown architecture {source['architecture']!r} "
                              f"(this exporter builds {', '.join(ARCHITECTURES)})")

    def label(self, source: SourceSpec) -> str:
        return f"{source.kind}, {source.raw.get('architecture', source.raw.get('component', ''))}"

    def downloads_read(self, model: ModelEntry, dl: Downloads) -> dict[str, set[str]]:
        src = model.source
        if not src.weights_package:
            return {}
        if src.gguf_file:
            return {src.weights_package: {src.gguf_file}}
        assert src.weights_dir is not None  # mora checked: a weights_package has weights_dir or gguf_file
        return {src.weights_package: {src.weights_dir.strip("/") + "/"}}

    def export(self, model: ModelEntry, dl: Downloads, out: Path, ctx: ExportContext) -> None:
        torch = import_torch_stack("a transformers export")
        need_module("transformers", "a transformers export")
        quiet_warnings()
        ctx.use("torch", "transformers", "onnx", "onnxscript")
        net, cfg = load_transformers_model(model, dl, ctx)
        if hasattr(net.config, "use_cache"):
            net.config.use_cache = False

        gen = torch.Generator().manual_seed(0)
        if model.source.architecture == "clip-vision":
            io = _vision_io(torch, net, cfg, model, gen)
        else:
            io = _text_io(torch, net, cfg, model, gen, ctx)
        io.wrapper.eval()
        ctx.params = sum(p.numel() for p in net.parameters())
        torch_export(torch, io.wrapper, io.example, io.input_names, io.output_names, io.dyn, out, ctx)
        ort_check(torch, io.wrapper, out / "model.onnx", io.input_names, io.output_names, io.check_shapes, ctx)


def _vision_io(torch: Any, net: Any, cfg: Any, model: ModelEntry, gen: Any) -> ExportIO:
    """CLIP's image tower: pixel_values -> image_embeds, last_hidden_state."""
    size = int(getattr(cfg, "image_size", model.image_size if model.image_size is not None else 224))
    channels = int(getattr(cfg, "num_channels", 3))

    class VisionWrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values: Any) -> tuple[Any, Any]:
            o = self.inner(pixel_values=pixel_values, return_dict=True)
            return o.image_embeds, o.last_hidden_state

    batch = model.batch_size if model.batch_size is not None else 1
    return ExportIO(wrapper=VisionWrapper(net), input_names=["pixel_values"],
                    output_names=["image_embeds", "last_hidden_state"],
                    example={"pixel_values": torch.randn(2, channels, size, size, generator=gen)},
                    dyn={"pixel_values": {0: "batch"}},
                    check_shapes={"pixel_values": (batch, channels, size, size)})


def _text_outputs(arch: str, net: Any) -> tuple[list[str], list[str], Callable[[Any], tuple[Any, ...]]]:
    """(input names, output names, model output -> output tuple) of a text architecture."""
    if arch == "bert":
        return (["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"],
                lambda o: (o.last_hidden_state, o.pooler_output))
    if arch == "mpnet":
        return (["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"],
                lambda o: (o.last_hidden_state, o.pooler_output))
    if arch in ("gpt2", "llama"):
        return ["input_ids", "attention_mask"], ["logits"], lambda o: (o.logits,)
    if arch == "clip-text":
        if hasattr(net, "text_projection"):
            return (["input_ids", "attention_mask"], ["text_embeds", "last_hidden_state"],
                    lambda o: (o.text_embeds, o.last_hidden_state))
        return (["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"],
                lambda o: (o.last_hidden_state, o.pooler_output))
    raise ModelError(f"unknown architecture {arch!r}")


def _text_io(torch: Any, net: Any, cfg: Any, model: ModelEntry, gen: Any, ctx: ExportContext) -> ExportIO:
    """A text model: input_ids, attention_mask (+ token_type_ids for BERT) with dynamic batch and sequence."""
    arch = model.source.architecture
    assert arch is not None  # checked
    vocab = int(cfg.vocab_size)
    max_pos = int(getattr(cfg, "max_position_embeddings", 0) or getattr(cfg, "n_positions", 0) or 512)
    input_names, output_names, out_fn = _text_outputs(arch, net)
    if arch == "mpnet":
        max_pos -= 2  # MPNet offsets positions by padding_idx + 1

    class TextWrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> tuple[Any, ...]:
            kw = {"input_ids": input_ids, "attention_mask": attention_mask, "return_dict": True}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return out_fn(self.inner(**kw))

    seq = min(16, max_pos)
    example = {"input_ids": torch.randint(0, vocab, (2, seq), generator=gen),
               "attention_mask": torch.ones(2, seq, dtype=torch.long)}
    if "token_type_ids" in input_names:
        example["token_type_ids"] = torch.zeros(2, seq, dtype=torch.long)
    default_len = ctx.defaults.get("sequence_length", 128)
    check_len = min(model.sequence_length if model.sequence_length is not None else default_len, max_pos)
    batch = model.batch_size if model.batch_size is not None else 1
    ctx.seq_max = max_pos
    ctx.vocab = vocab
    return ExportIO(wrapper=TextWrapper(net), input_names=input_names, output_names=output_names,
                    example=example, dyn={n: {0: "batch", 1: "sequence"} for n in input_names},
                    check_shapes={n: (batch, check_len) for n in input_names})
