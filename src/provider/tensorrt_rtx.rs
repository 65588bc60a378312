//! NVIDIA TensorRT for RTX as the `onnxruntime-ep-nv-tensorrt-rtx-cu13` plugin: TensorRT's engine
//! builder for RTX-class GPUs (Ampere and newer), which works with the CPU build of ONNX Runtime and
//! brings its own CUDA runtime. Its engines go into a compiled-model cache like TensorRT's.

use super::options::{OptionKind, OptionSpec, Options};
use super::plugin::PluginSpec;
use super::{Backend, CacheLever, MemoryKind, Source};

pub(super) struct TensorRtRtx;

static PLUGIN: PluginSpec = PluginSpec {
    package: "onnxruntime-ep-nv-tensorrt-rtx-cu13",
    folder: "onnxruntime_ep_nv_tensorrt_rtx",
    library: "libonnxruntime_providers_nv_tensorrt_rtx.so",
    install: "run `scripts/setup.sh --tensorrt` (installs the pinned plugin from scripts/requirements-tensorrt.txt)",
};

static OPTIONS: &[OptionSpec] = &[
    OptionSpec { key: "device_id", kind: OptionKind::Int { min: 0, max: 1023 }, help: "the CUDA device" },
    OptionSpec { key: "nv_runtime_cache_path", kind: OptionKind::Path, help: "where compiled kernels are kept" },
];

static CACHE: CacheLever =
    CacheLever { name: "tensorrt-rtx-cache", key: "nv_runtime_cache_path", with: &[], holds: "TensorRT-RTX runtime" };

static SOURCES: [Source; 1] = [Source::Plugin(&PLUGIN)];

impl Backend for TensorRtRtx {
    fn name(&self) -> &'static str {
        "tensorrt-rtx"
    }
    fn ort_name(&self) -> &'static str {
        "NvTensorRTRTXExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "NVIDIA TensorRT for RTX GPUs, as a plugin"
    }
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }
    fn memory(&self, _: &Options) -> MemoryKind {
        super::cuda::NVIDIA_GPU
    }
    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }
    fn cache_lever(&self) -> Option<&'static CacheLever> {
        Some(&CACHE)
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}
