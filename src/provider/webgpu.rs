//! WebGPU through Dawn (Vulkan on Linux), as the `onnxruntime-ep-webgpu` plugin: a GPU provider that
//! is not NVIDIA's, whose device memory no probe of mora reads.

use super::memory::DeviceProbe;
use super::plugin::PluginSpec;
use super::{Backend, MemoryKind, Source, options::Options};

pub(super) struct WebGpu;

static PLUGIN: PluginSpec = PluginSpec {
    package: "onnxruntime-ep-webgpu",
    folder: "onnxruntime_ep_webgpu",
    library: "libonnxruntime_providers_webgpu.so",
    install: "run `scripts/setup.sh` (installs the pinned onnxruntime-ep-webgpu from scripts/requirements-providers.txt)",
};

static SOURCES: [Source; 1] = [Source::Plugin(&PLUGIN)];

impl Backend for WebGpu {
    fn name(&self) -> &'static str {
        "webgpu"
    }
    fn ort_name(&self) -> &'static str {
        "WebGpuExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "WebGPU (Dawn over Vulkan), any vendor's GPU, as a plugin"
    }
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }
    fn memory(&self, _: &Options) -> MemoryKind {
        MemoryKind::Device { name: "GPU memory", short: "VRAM", probe: DeviceProbe::None { why: "WebGPU reports no per-process memory" } }
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}
