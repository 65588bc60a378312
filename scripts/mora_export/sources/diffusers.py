"""Source kind `diffusers`: a Stable Diffusion component (UNet, VAE decoder, CLIP text encoder) at the
fixed input shapes of models.yaml's `inputs`, with random weights from `config` (real ones only from a
local folder in `pretrained`), exported with torch.onnx.export and checked in onnxruntime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ModelError
from ..packages import need_module
from .pretrained import resolve_local
from .registry import SourceKind, register
from .torch_export import import_torch_stack, ort_check, quiet_warnings, torch_export

if TYPE_CHECKING:
    from ..config import ModelEntry, SourceSpec
    from ..context import ExportContext
    from ..downloads import Downloads

DIFFUSERS_COMPONENTS = ("unet", "vae-decoder", "text-encoder")


@dataclass
class Component:
    """A built component: the module whose parameters count, and its wrapper with inputs and outputs."""

    net: Any
    wrapper: Any
    input_names: list[str]
    output_names: list[str]
    example: dict[str, Any]


Shapes = dict[str, tuple[int, ...]]


@register
class DiffusersSource(SourceKind):
    kind = "diffusers"

    def check(self, source: dict[str, Any], where: str) -> None:
        if source["component"] not in DIFFUSERS_COMPONENTS:
            raise ConfigError(f"{where}: unknown component {source['component']!r} "
                              f"(this exporter builds {', '.join(DIFFUSERS_COMPONENTS)})")

    def label(self, source: SourceSpec) -> str:
        return f"{source.kind}, {source.raw.get('architecture', source.raw.get('component', ''))}"

    def export(self, model: ModelEntry, dl: Downloads, out: Path, ctx: ExportContext) -> None:
        src = model.source
        comp = src.component
        assert comp is not None and model.inputs is not None  # mora checked: a diffusers model has inputs
        torch = import_torch_stack(f"a diffusers {comp} export")
        if comp == "text-encoder":
            need_module("transformers", "a diffusers text-encoder export")
        else:
            need_module("diffusers", f"a diffusers {comp} export")
        quiet_warnings()
        ctx.use("torch", "onnx", "onnxscript", "diffusers" if comp != "text-encoder" else "transformers")
        shapes = {k: tuple(v) for k, v in model.inputs.items()}
        local = resolve_local(src.raw["pretrained"], ctx.config_dir)  # mora checked: it is there
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        c = _BUILDERS[comp](torch, shapes, dict(src.config), local, gen, ctx)

        if model.weights == "real" and ctx.weights != "real":
            raise ModelError("models.yaml says weights: real, but a diffusers component is built with random "
                             "weights unless `pretrained` is a local folder")
        c.net.eval()
        c.wrapper.eval()
        ctx.params = sum(p.numel() for p in c.net.parameters())
        torch_export(torch, c.wrapper, c.example, c.input_names, c.output_names, None, out, ctx)
        ort_check(torch, c.wrapper, out / "model.onnx", c.input_names, c.output_names,
                  {k: tuple(v.shape) for k, v in c.example.items()}, ctx, example=c.example)


def _unet(torch: Any, shapes: Shapes, cfg: dict[str, Any], local: Path | None, gen: Any,
          ctx: ExportContext) -> Component:
    from diffusers import UNet2DConditionModel

    expected = {"sample", "timestep", "encoder_hidden_states"}
    if set(shapes) != expected:
        raise ModelError(f"a unet needs inputs {sorted(expected)}, models.yaml has {sorted(shapes)}")
    if local is not None:
        sub = local / "unet" if (local / "unet").is_dir() else local
        net = UNet2DConditionModel.from_pretrained(str(sub), torch_dtype=torch.float32)
        ctx.weights = "real"
        ctx.note(f"real weights from the local folder {sub}")
    else:
        net = UNet2DConditionModel(**cfg)
        ctx.weights = "random"
        ctx.note("random weights (torch.manual_seed(0)) from the models.yaml config")

    class UNetWrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, sample: Any, timestep: Any, encoder_hidden_states: Any) -> tuple[Any]:
            return (self.inner(sample, timestep, encoder_hidden_states, return_dict=False)[0],)

    example = {"sample": torch.randn(*shapes["sample"], generator=gen),
               "timestep": torch.full(shapes["timestep"], 999.0),
               "encoder_hidden_states": torch.randn(*shapes["encoder_hidden_states"], generator=gen)}
    return Component(net, UNetWrapper(net), ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], example)


def _vae_decoder(torch: Any, shapes: Shapes, cfg: dict[str, Any], local: Path | None, gen: Any,
                 ctx: ExportContext) -> Component:
    from diffusers import AutoencoderKL

    if set(shapes) != {"latent_sample"}:
        raise ModelError(f"a vae-decoder needs the input latent_sample, models.yaml has {sorted(shapes)}")
    if local is not None:
        sub = local / "vae" if (local / "vae").is_dir() else local
        vae = AutoencoderKL.from_pretrained(str(sub), torch_dtype=torch.float32)
        ctx.weights = "real"
        ctx.note(f"real weights from the local folder {sub}")
    else:
        vae = AutoencoderKL(**cfg)
        ctx.weights = "random"
        ctx.note("random weights (torch.manual_seed(0)) from the models.yaml config")
    vae.encoder = None  # only the decoder is exported; do not count the encoder's parameters

    class VaeDecoderWrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, latent_sample: Any) -> tuple[Any]:
            return (self.inner.decode(latent_sample, return_dict=False)[0],)

    example = {"latent_sample": torch.randn(*shapes["latent_sample"], generator=gen)}
    return Component(vae, VaeDecoderWrapper(vae), ["latent_sample"], ["sample"], example)


def _text_encoder(torch: Any, shapes: Shapes, cfg: dict[str, Any], local: Path | None, gen: Any,
                  ctx: ExportContext) -> Component:
    from transformers import CLIPTextConfig, CLIPTextModel

    if set(shapes) != {"input_ids"}:
        raise ModelError(f"a text-encoder needs the input input_ids, models.yaml has {sorted(shapes)}")
    net = CLIPTextModel(CLIPTextConfig(**cfg))
    ctx.weights = "random"
    ctx.note("random weights (torch.manual_seed(0)) from the models.yaml config")

    class TextEncoderWrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any) -> tuple[Any, Any]:
            o = self.inner(input_ids=input_ids, return_dict=True)
            return o.last_hidden_state, o.pooler_output

    example = {"input_ids": torch.randint(0, int(net.config.vocab_size), shapes["input_ids"], generator=gen)}
    ctx.vocab = int(net.config.vocab_size)
    return Component(net, TextEncoderWrapper(net), ["input_ids"], ["last_hidden_state", "pooler_output"], example)


_BUILDERS: dict[str, Callable[[Any, Shapes, dict[str, Any], Path | None, Any, ExportContext], Component]] = {
    "unet": _unet,
    "vae-decoder": _vae_decoder,
    "text-encoder": _text_encoder,
}
