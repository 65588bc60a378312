//! A provider with the options a trial runs it with, and the session builder that registers it. A
//! requested provider that fails to register is an error, never a silent fall back to CPU.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use ort::session::Session;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::options::Options;
use super::plugin::FoundLibrary;
use super::{MemoryKind, Provider};
use crate::config::CpuOptions;
use crate::runtime::RuntimeLibrary;

/// A provider with the options a trial registers it with; recorded in every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderSetup {
    pub provider: Provider,
    /// Session options every provider's sessions take (CPU is every provider's fallback).
    pub cpu: CpuOptions,
    /// The provider's own options, as ONNX Runtime names them (`device_id`, `cache_dir`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: Options,
    /// The plugin library the worker registers, for a plugin provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<FoundLibrary>,
    /// The runtime build the worker loads instead of the run's, for a provider that comes with its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeLibrary>,
    /// The GPU behind CUDA device `cuda.device_id` as NVML numbers it, matched by PCI bus id:
    /// CUDA_VISIBLE_DEVICES and CUDA's device order can make the two numberings differ, and the
    /// memory probes read NVML. `None` where NVML is absent or the match failed: no GPU figures then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvml_device: Option<NvmlDevice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NvmlDevice {
    pub index: u32,
    pub pci_bus_id: String,
}

impl ProviderSetup {
    /// A setup with default options: what a test or a tool that only needs a session builds.
    pub fn new(provider: Provider) -> ProviderSetup {
        ProviderSetup { provider, cpu: CpuOptions::default(), options: Options::new(), plugin: None, runtime: None, nvml_device: None }
    }

    /// Every option in effect, as ONNX Runtime names them, for results and tables: the session's and
    /// the provider's own.
    pub(crate) fn all_options(&self) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        o.insert("cpu_arena".into(), self.cpu.arena.to_string());
        if let Some(n) = self.cpu.intra_threads {
            o.insert("intra_op_num_threads".into(), n.to_string());
        }
        o.extend(self.options.iter().map(|(k, v)| (k.clone(), v.clone())));
        o
    }

    /// The memory this setup's figures are in.
    pub(crate) fn memory(&self) -> MemoryKind {
        self.provider.backend().memory(&self.options)
    }

    /// The GPU whose memory the probes watch, by NVML's index.
    pub(crate) fn gpu_index(&self) -> Option<u32> {
        if !self.memory().uses_nvml() {
            return None;
        }
        self.nvml_device.as_ref().map(|d| d.index)
    }

    /// The runtime library a worker of this setup loads: its own build, or the run's.
    pub(crate) fn library<'a>(&'a self, run: &'a RuntimeLibrary) -> &'a RuntimeLibrary {
        self.runtime.as_ref().unwrap_or(run)
    }

    /// The process's ONNX Runtime for this setup: its library (the provider's own build or the run's),
    /// what the provider must do before it (CUDA preloads its wheels), and its plugin registered.
    pub(crate) fn start_runtime(&self, run: &RuntimeLibrary) -> Result<crate::runtime::Runtime> {
        let library = self.library(run);
        self.provider.backend().prepare(self, library);
        let runtime = crate::runtime::Runtime::init(library.clone())?;
        super::plugin::register(&runtime.env, self)?;
        Ok(runtime)
    }

    /// The ONNX Runtime names of the providers a session of this setup registers, in order: the
    /// provider, then CPU, which takes the nodes it has no kernel for.
    pub(crate) fn registered_names(&self) -> Vec<String> {
        let cpu = Provider::CPU.ort_name().to_string();
        if self.provider == Provider::CPU { vec![cpu] } else { vec![self.provider.ort_name().into(), cpu] }
    }

    /// A session builder with this provider and `extras`; the options it applied can be read back
    /// from it ([`read_config_entry`]).
    pub(crate) fn builder(
        &self,
        env: &ort::environment::Environment,
        extras: &SessionExtras,
    ) -> Result<ort::session::builder::SessionBuilder> {
        let mut builder = Session::builder(env).context("cannot create a session builder")?;
        if let Some(n) = self.cpu.intra_threads {
            builder = builder.with_intra_threads(n).map_err(unbuilt).with_context(|| format!("intra_threads {n}"))?;
        }
        if let Some(level) = extras.optimization {
            builder =
                builder.with_optimization_level(level.ort()).map_err(unbuilt).with_context(|| format!("optimization level {level}"))?;
        }
        if let Some(on) = extras.prepacking {
            builder = builder.with_prepacking(on).map_err(unbuilt).with_context(|| format!("prepacking {on}"))?;
        }
        if extras.device_allocator_for_initializers {
            builder = builder.with_device_allocated_initializers().map_err(unbuilt).context("device allocator for initializers")?;
        }
        if let Some(path) = &extras.save_optimized {
            builder = save_optimized_to(builder, path)?;
        }
        // Which provider ran each node is recorded for the placement check (ONNX Runtime 1.24+).
        builder = builder
            .with_config_entry(crate::provider::placement::RECORD_KEY, "1")
            .map_err(unbuilt)
            .context("session option session.record_ep_graph_assignment_info")?;
        self.provider
            .backend()
            .append(builder, self, env)
            .with_context(|| format!("the {} execution provider did not register", self.provider))
    }

    /// Creates a session from a model file (ONNX Runtime finds external data next to it).
    pub(crate) fn session_from_file(&self, env: &ort::environment::Environment, path: &Path) -> Result<Session> {
        self.session(env, &ModelSource::File(path), &SessionExtras::default())
    }

    /// Creates a session from model bytes in memory (the embedded warm-up model).
    pub(crate) fn session_from_memory(&self, env: &ort::environment::Environment, bytes: &[u8]) -> Result<Session> {
        self.session(env, &ModelSource::Memory { model: bytes, external: &[] }, &SessionExtras::default())
    }

    /// Creates a session from a file or from bytes already in memory, with `extras`.
    pub(crate) fn session(&self, env: &ort::environment::Environment, source: &ModelSource, extras: &SessionExtras) -> Result<Session> {
        self.commit(self.builder(env, extras)?, source)
    }

    /// Creates the session of a builder of this setup (one [`ProviderSetup::builder`] made, with any
    /// options added on top) from a file or from bytes in memory.
    pub(crate) fn commit(&self, mut builder: ort::session::builder::SessionBuilder, source: &ModelSource) -> Result<Session> {
        match source {
            ModelSource::File(path) => builder
                .commit_from_file(path)
                .with_context(|| format!("ONNX Runtime could not load {} on {}", path.display(), self.provider)),
            ModelSource::Memory { model, external } => {
                for (name, bytes) in external.iter() {
                    builder = builder
                        .with_external_initializer_file_in_memory(name, Arc::clone(bytes))
                        .map_err(unbuilt)
                        .with_context(|| format!("external data {name} in memory"))?;
                }
                builder.commit_from_memory(model).with_context(|| format!("ONNX Runtime could not create a session on {}", self.provider))
            }
        }
    }
}

/// A session builder's error without the builder it hands back for recovery (which is not `Send`),
/// so that it can carry context.
pub(crate) fn unbuilt(e: ort::Error<ort::session::builder::SessionBuilder>) -> ort::Error {
    e.into()
}

/// Where a session's model comes from.
pub(crate) enum ModelSource<'a> {
    File(&'a Path),
    /// The model's bytes, and its external data files by the names the model gives them.
    Memory {
        model: &'a [u8],
        external: &'a [(String, Arc<[u8]>)],
    },
}

/// ONNX Runtime's graph optimisation levels (its default is `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptLevel {
    Disabled,
    Basic,
    Extended,
    All,
}

impl OptLevel {
    fn ort(self) -> ort::session::builder::GraphOptimizationLevel {
        use ort::session::builder::GraphOptimizationLevel as L;
        match self {
            OptLevel::Disabled => L::Disable,
            OptLevel::Basic => L::Level1,
            OptLevel::Extended => L::Level2,
            OptLevel::All => L::All,
        }
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptLevel::Disabled => "disabled",
            OptLevel::Basic => "basic",
            OptLevel::Extended => "extended",
            OptLevel::All => "all",
        })
    }
}

/// Session options beyond the provider's own, which the load-path levers vary. The default is what
/// ONNX Runtime does unasked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionExtras {
    /// Graph optimisation level (`None`: ONNX Runtime's default, all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimization: Option<OptLevel>,
    /// Weight prepacking (`None`: ONNX Runtime's default, on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepacking: Option<bool>,
    /// `session.use_device_allocator_for_initializers`: weights outside the arena.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub device_allocator_for_initializers: bool,
    /// Save the graph as optimised for this provider here (ORT format where the name ends in `.ort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_optimized: Option<PathBuf>,
}

/// Asks ONNX Runtime to write the optimised graph to `path` when the session is created: ORT format
/// for `.ort`, else ONNX with the weights in `<name>.data` beside it (a protobuf cannot exceed 2 GB).
fn save_optimized_to(builder: ort::session::builder::SessionBuilder, path: &Path) -> Result<ort::session::builder::SessionBuilder> {
    let mut builder =
        builder.with_optimized_model_path(path).map_err(unbuilt).with_context(|| format!("optimised model path {}", path.display()))?;
    let entry = |b: ort::session::builder::SessionBuilder, k: &str, v: &str| {
        b.with_config_entry(k, v).map_err(unbuilt).with_context(|| format!("session option {k}={v}"))
    };
    if path.extension().is_some_and(|e| e == "ort") {
        builder = entry(builder, "session.save_model_format", "ORT")?;
    } else {
        let data = format!("{}.data", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        builder = entry(builder, "session.optimized_model_external_initializers_file_name", &data)?;
        builder = entry(builder, "session.optimized_model_external_initializers_min_size_in_bytes", "1024")?;
    }
    Ok(builder)
}

/// Reads back a session option as ONNX Runtime holds it (`None` where it was never set): proof that
/// an option mora set reached the runtime.
pub(crate) fn read_config_entry(builder: &ort::session::builder::SessionBuilder, key: &str) -> Option<String> {
    use ort::AsPointer;
    let api = ort::api();
    let key = std::ffi::CString::new(key).ok()?;
    let mut has: std::ffi::c_int = 0;
    // SAFETY: the options pointer is the live builder's; `key` is NUL-terminated and outlives the call.
    let status = unsafe { (api.HasSessionConfigEntry)(builder.ptr(), key.as_ptr(), &mut has) };
    if !status.0.is_null() {
        // SAFETY: a non-null status is ours to release.
        unsafe { (api.ReleaseStatus)(status.0) };
        return None;
    }
    if has == 0 {
        return None;
    }
    let mut value = vec![0u8; 256];
    let mut len = value.len();
    // SAFETY: `value` has `len` writable bytes; ONNX Runtime writes at most that many and sets `len`.
    let status = unsafe { (api.GetSessionConfigEntry)(builder.ptr(), key.as_ptr(), value.as_mut_ptr().cast(), &mut len) };
    if !status.0.is_null() {
        // SAFETY: as above.
        unsafe { (api.ReleaseStatus)(status.0) };
        return None;
    }
    value.truncate(len.saturating_sub(1));
    String::from_utf8(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_in_effect_are_the_sessions_and_the_providers() {
        let mut setup = ProviderSetup::new(Provider::named("openvino"));
        setup.options.insert("cache_dir".into(), "/tmp/ov".into());
        let o = setup.all_options();
        assert_eq!((o["cpu_arena"].as_str(), o["cache_dir"].as_str()), ("true", "/tmp/ov"));
        assert_eq!(setup.registered_names(), ["OpenVINOExecutionProvider", "CPUExecutionProvider"]);
        assert_eq!(ProviderSetup::new(Provider::CPU).registered_names(), ["CPUExecutionProvider"]);
        assert_eq!(setup.gpu_index(), None, "OpenVINO on its CPU device watches no GPU");
    }

    #[test]
    fn the_gpu_is_watched_only_where_nvml_reads_the_providers_memory_and_matched() {
        let cuda = ProviderSetup::new(Provider::named("cuda"));
        assert_eq!(cuda.gpu_index(), None, "without an NVML match no GPU is watched");
        // CUDA device 1 under CUDA_VISIBLE_DEVICES=2,3 is NVML's GPU 3: the probes follow NVML's number.
        let cuda = ProviderSetup { nvml_device: Some(NvmlDevice { index: 3, pci_bus_id: "00000000:3B:00.0".into() }), ..cuda };
        assert_eq!(cuda.gpu_index(), Some(3));
        let cpu = ProviderSetup { provider: Provider::CPU, ..cuda };
        assert_eq!(cpu.gpu_index(), None);
    }
}
