//! Intel's OpenVINO: it compiles the whole graph for its device (CPU, GPU or NPU) when a session is
//! created, and can keep the compiled model in `cache_dir`. Two sources: the `onnxruntime-ep-openvino`
//! plugin for the run's own ONNX Runtime, which offers devices on Intel hardware only, and the
//! `onnxruntime-openvino` runtime build, which runs OpenVINO's CPU plugin on any x86-64 CPU with AVX2.
//! The status line of a run says which one ran.

use anyhow::Result;
use ort::ep::{self, ArbitrarilyConfigurableExecutionProvider};
use ort::session::builder::SessionBuilder;

use super::memory::DeviceProbe;
use super::options::{OptionKind, OptionSpec};
use super::plugin::{PluginSpec, RuntimeSpec};
use super::setup::{ProviderSetup, unbuilt};
use super::{Backend, CacheLever, MemoryKind, Source, options::Options};

pub(super) struct OpenVino;

static PLUGIN: PluginSpec = PluginSpec {
    package: "onnxruntime-ep-openvino",
    folder: "onnxruntime_ep_openvino",
    library: "libonnxruntime_providers_openvino_plugin.so",
    install: "run `scripts/setup.sh` (installs the pinned onnxruntime-ep-openvino from scripts/requirements-providers.txt)",
};

static RUNTIME: RuntimeSpec = RuntimeSpec {
    package: "onnxruntime-openvino",
    target: "providers/openvino",
    install: "run `scripts/setup.sh` (installs the pinned onnxruntime-openvino from scripts/requirements-openvino.txt into .venv/providers/openvino)",
};

/// The plugin first: it runs with the run's own ONNX Runtime where it offers a device.
static SOURCES: [Source; 2] = [Source::Plugin(&PLUGIN), Source::OwnRuntime(&RUNTIME)];

static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "device_type",
        kind: OptionKind::Choice(&["CPU", "GPU", "NPU", "AUTO"]),
        help: "the OpenVINO device (CPU by default)",
    },
    OptionSpec { key: "precision", kind: OptionKind::Choice(&["FP32", "FP16", "ACCURACY"]), help: "inference precision" },
    OptionSpec { key: "num_of_threads", kind: OptionKind::Int { min: 1, max: 1024 }, help: "CPU threads OpenVINO uses" },
    OptionSpec { key: "num_streams", kind: OptionKind::Int { min: 1, max: 256 }, help: "parallel inference streams" },
    OptionSpec { key: "cache_dir", kind: OptionKind::Path, help: "keep compiled models here; a later load reads them" },
];

static CACHE: CacheLever = CacheLever { name: "openvino-cache", key: "cache_dir", with: &[], holds: "OpenVINO compiled-model" };

impl Backend for OpenVino {
    fn name(&self) -> &'static str {
        "openvino"
    }
    fn ort_name(&self) -> &'static str {
        "OpenVINOExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "Intel OpenVINO: compiles the graph for a CPU, GPU or NPU at session creation"
    }
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }
    fn memory(&self, options: &Options) -> MemoryKind {
        match options.get("device_type").map(String::as_str) {
            Some(d) if d.starts_with("GPU") => MemoryKind::Device {
                name: "Intel GPU memory",
                short: "GPU",
                probe: DeviceProbe::None { why: "mora has no probe for Intel GPUs" },
            },
            Some(d) if d.starts_with("NPU") => {
                MemoryKind::Device { name: "NPU memory", short: "NPU", probe: DeviceProbe::None { why: "mora has no probe for NPUs" } }
            }
            _ => MemoryKind::Host,
        }
    }
    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }
    fn no_device_hint(&self) -> Option<&'static str> {
        Some("OpenVINO's plugin offers devices on Intel CPUs, GPUs and NPUs only")
    }
    fn cache_lever(&self) -> Option<&'static CacheLever> {
        Some(&CACHE)
    }
    fn append(&self, builder: SessionBuilder, setup: &ProviderSetup, env: &ort::environment::Environment) -> Result<SessionBuilder> {
        if setup.plugin.is_some() {
            return super::plugin::append_devices(builder, self.ort_name(), setup, env);
        }
        // The runtime build has it compiled in: appended by name, CPU after it for what it cannot take.
        let mut ov = ep::OpenVINO::default();
        for (k, v) in &setup.options {
            ov = ov.with_arbitrary_config(k, v);
        }
        let cpu = super::cpu::cpu_dispatch(setup);
        Ok(builder.with_execution_providers([ov.build().error_on_failure(), cpu]).map_err(unbuilt)?)
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}
