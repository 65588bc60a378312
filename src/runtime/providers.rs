//! Execution providers: which one a trial asks for, with which options, and the session builder that
//! registers it. A requested provider that fails to register is an error (`error_on_failure`), never
//! a silent fall back to CPU.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Result, anyhow, bail};
use ort::ep::{self, ArenaExtendStrategy};
use ort::session::Session;
use serde::{Deserialize, Serialize};

use crate::config::{ArenaStrategy, ConvAlgoSearch, CpuOptions, CudaOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Cpu,
    Cuda,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Cpu, Provider::Cuda];

    /// ONNX Runtime's name for it.
    pub fn ort_name(self) -> &'static str {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvmlDevice {
    pub index: u32,
    pub pci_bus_id: String,
}

impl ProviderSetup {
    /// The options in effect, as ONNX Runtime names them, for results and tables.
    pub fn options(&self) -> BTreeMap<String, String> {
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
    pub fn gpu_index(&self) -> Option<u32> {
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
    pub fn registered_names(&self) -> Vec<String> {
        match self.provider {
            Provider::Cpu => vec![Provider::Cpu.ort_name().into()],
            Provider::Cuda => vec![Provider::Cuda.ort_name().into(), Provider::Cpu.ort_name().into()],
        }
    }

    fn builder(&self, env: &ort::environment::Environment) -> Result<ort::session::builder::SessionBuilder> {
        let mut builder = Session::builder(env).map_err(|e| anyhow!("cannot create a session builder: {e}"))?;
        if let Some(n) = self.cpu.intra_threads {
            builder = builder.with_intra_threads(n).map_err(|e| anyhow!("intra_threads {n}: {e}"))?;
        }
        builder
            .with_execution_providers(self.dispatches())
            .map_err(|e| anyhow!("the {} execution provider did not register: {e}", self.provider))
    }

    /// Creates a session from a model file (ONNX Runtime finds external data next to it).
    pub fn session_from_file(&self, env: &ort::environment::Environment, path: &Path) -> Result<Session> {
        self.builder(env)?
            .commit_from_file(path)
            .map_err(|e| anyhow!("ONNX Runtime could not load {} on {}: {e}", path.display(), self.provider))
    }

    /// Creates a session from model bytes in memory (the embedded warm-up model).
    pub fn session_from_memory(&self, env: &ort::environment::Environment, bytes: &[u8]) -> Result<Session> {
        self.builder(env)?
            .commit_from_memory(bytes)
            .map_err(|e| anyhow!("ONNX Runtime could not create a session on {}: {e}", self.provider))
    }
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
