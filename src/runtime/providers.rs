//! Execution providers: which one a trial asks for, with which options, and the session builder that
//! registers it. A requested provider that fails to register is an error (`error_on_failure`), never
//! a silent fall back to CPU.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ort::ep::{self, ArenaExtendStrategy};
use ort::session::Session;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ArenaStrategy, ConvAlgoSearch, CpuOptions, CudaOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Cpu,
    Cuda,
}

impl Provider {
    pub(crate) const ALL: [Provider; 2] = [Provider::Cpu, Provider::Cuda];

    /// ONNX Runtime's name for it.
    pub(crate) fn ort_name(self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::Cuda => "CUDAExecutionProvider",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
        })
    }
}

impl FromStr for Provider {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Provider::Cpu),
            "cuda" | "gpu" => Ok(Provider::Cuda),
            other => bail!("unknown provider `{other}`: use cpu, cuda, cpu,cuda or auto"),
        }
    }
}

/// What `--provider` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRequest {
    /// Every provider that works on this machine; the ones that don't are skipped with the reason.
    Auto,
    /// Exactly these; one that cannot run here is an error.
    Explicit(Vec<Provider>),
}

impl FromStr for ProviderRequest {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(ProviderRequest::Auto);
        }
        let mut list = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let p: Provider = part.parse()?;
            if !list.contains(&p) {
                list.push(p);
            }
        }
        if list.is_empty() {
            bail!("--provider needs cpu, cuda, cpu,cuda or auto");
        }
        Ok(ProviderRequest::Explicit(list))
    }
}

/// A provider with the options a trial registers it with; recorded in every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderSetup {
    pub provider: Provider,
    pub cpu: CpuOptions,
    pub cuda: CudaOptions,
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
    /// The options in effect, as ONNX Runtime names them, for results and tables.
    pub(crate) fn options(&self) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        o.insert("cpu_arena".into(), self.cpu.arena.to_string());
        if let Some(n) = self.cpu.intra_threads {
            o.insert("intra_op_num_threads".into(), n.to_string());
        }
        if self.provider == Provider::Cuda {
            o.insert("device_id".into(), self.cuda.device_id.to_string());
            if let Some(bytes) = self.cuda.gpu_mem_limit_bytes() {
                o.insert("gpu_mem_limit".into(), bytes.to_string());
            }
            if let Some(s) = self.cuda.arena_extend_strategy {
                o.insert("arena_extend_strategy".into(), arena_name(s).into());
            }
            if let Some(s) = self.cuda.cudnn_conv_algo_search {
                o.insert("cudnn_conv_algo_search".into(), format!("{s:?}").to_uppercase());
            }
        }
        o
    }

    /// The GPU whose memory the probes watch, by NVML's index.
    pub(crate) fn gpu_index(&self) -> Option<u32> {
        if self.provider != Provider::Cuda {
            return None;
        }
        self.nvml_device.as_ref().map(|d| d.index)
    }

    fn dispatches(&self) -> Vec<ep::ExecutionProviderDispatch> {
        let cpu = ep::CPU::default().with_arena_allocator(self.cpu.arena).build();
        match self.provider {
            Provider::Cpu => vec![cpu.error_on_failure()],
            Provider::Cuda => {
                let mut cuda = ep::CUDA::default().with_device_id(self.cuda.device_id as i32);
                if let Some(bytes) = self.cuda.gpu_mem_limit_bytes() {
                    cuda = cuda.with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
                }
                if let Some(s) = self.cuda.arena_extend_strategy {
                    cuda = cuda.with_arena_extend_strategy(match s {
                        ArenaStrategy::NextPowerOfTwo => ArenaExtendStrategy::NextPowerOfTwo,
                        ArenaStrategy::SameAsRequested => ArenaExtendStrategy::SameAsRequested,
                    });
                }
                if let Some(s) = self.cuda.cudnn_conv_algo_search {
                    cuda = cuda.with_conv_algorithm_search(match s {
                        ConvAlgoSearch::Exhaustive => ep::cuda::ConvAlgorithmSearch::Exhaustive,
                        ConvAlgoSearch::Heuristic => ep::cuda::ConvAlgorithmSearch::Heuristic,
                        ConvAlgoSearch::Default => ep::cuda::ConvAlgorithmSearch::Default,
                    });
                }
                // CUDA first and required; CPU after it takes the nodes CUDA has no kernel for.
                vec![cuda.build().error_on_failure(), cpu]
            }
        }
    }

    /// The ONNX Runtime names of the providers a session of this setup registers, in order.
    pub(crate) fn registered_names(&self) -> Vec<String> {
        match self.provider {
            Provider::Cpu => vec![Provider::Cpu.ort_name().into()],
            Provider::Cuda => vec![Provider::Cuda.ort_name().into(), Provider::Cpu.ort_name().into()],
        }
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
        builder
            .with_execution_providers(self.dispatches())
            .map_err(unbuilt)
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
        let mut builder = self.builder(env, extras)?;
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

fn arena_name(s: ArenaStrategy) -> &'static str {
    match s {
        ArenaStrategy::NextPowerOfTwo => "kNextPowerOfTwo",
        ArenaStrategy::SameAsRequested => "kSameAsRequested",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_requests_parse() {
        assert_eq!("auto".parse::<ProviderRequest>().unwrap(), ProviderRequest::Auto);
        assert_eq!("cpu".parse::<ProviderRequest>().unwrap(), ProviderRequest::Explicit(vec![Provider::Cpu]));
        assert_eq!("cpu, CUDA,cpu".parse::<ProviderRequest>().unwrap(), ProviderRequest::Explicit(vec![Provider::Cpu, Provider::Cuda]));
        let e = "tpu".parse::<ProviderRequest>().unwrap_err().to_string();
        assert!(e.contains("unknown provider `tpu`"), "{e}");
        assert!(",".parse::<ProviderRequest>().is_err());
    }

    #[test]
    fn options_are_recorded_as_onnx_runtime_names_them() {
        let setup = ProviderSetup {
            provider: Provider::Cuda,
            cpu: CpuOptions::default(),
            cuda: CudaOptions {
                device_id: 1,
                gpu_mem_limit_mb: Some(2048),
                arena_extend_strategy: Some(ArenaStrategy::SameAsRequested),
                cudnn_conv_algo_search: Some(ConvAlgoSearch::Heuristic),
            },
            nvml_device: None,
        };
        let o = setup.options();
        assert_eq!(o["device_id"], "1");
        assert_eq!(o["gpu_mem_limit"], (2048u64 << 20).to_string());
        assert_eq!(o["arena_extend_strategy"], "kSameAsRequested");
        assert_eq!(o["cudnn_conv_algo_search"], "HEURISTIC");
        assert_eq!(o["cpu_arena"], "true");
        assert_eq!(setup.gpu_index(), None, "without an NVML match no GPU is watched");
        // CUDA device 1 under CUDA_VISIBLE_DEVICES=2,3 is NVML's GPU 3: the probes follow NVML's number.
        let setup = ProviderSetup { nvml_device: Some(NvmlDevice { index: 3, pci_bus_id: "00000000:3B:00.0".into() }), ..setup };
        assert_eq!(setup.gpu_index(), Some(3));
        assert_eq!(setup.registered_names(), ["CUDAExecutionProvider", "CPUExecutionProvider"]);
        let cpu = ProviderSetup { provider: Provider::Cpu, ..setup };
        assert!(!cpu.options().contains_key("device_id"), "CUDA options are not recorded for CPU trials");
        assert_eq!(cpu.gpu_index(), None);
    }
}
