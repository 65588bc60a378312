//! The load-path levers: each a configuration of ONNX Runtime that a model server can choose, applied
//! on top of a trial's provider setup; their outputs checked against the default's ([`outputs`]);
//! the hardware's floor for a load ([`floor`]); and a pre-optimised model with its manifest
//! ([`optimized`], which `mora optimize` writes).

pub mod breakdown;
pub mod floor;
pub mod memory;
pub mod optimized;
pub mod outputs;
pub(crate) mod session;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ArenaStrategy, ConvAlgoSearch};
use crate::provider::setup::{OptLevel, ProviderSetup, SessionExtras};
use crate::runtime::Provider;

/// Where a lever's model comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoadFrom {
    /// The model file (ONNX Runtime reads it and its external data).
    File,
    /// Bytes already in memory (a parked model's reload, a model fetched into RAM).
    Memory,
    /// A copy optimised once by this runtime for this provider, saved as ONNX, loaded with
    /// optimisations disabled.
    PreOptimizedOnnx,
    /// The same in ONNX Runtime's own ORT format.
    PreOptimizedOrt,
}

/// One configuration of the load path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "lever", rename_all = "kebab-case")]
pub enum Lever {
    /// ONNX Runtime's defaults: what every other lever is compared with.
    Default,
    Optimization {
        level: OptLevel,
    },
    Load {
        from: LoadFrom,
    },
    IntraThreads {
        threads: usize,
    },
    CpuArena {
        on: bool,
    },
    Prepacking {
        on: bool,
    },
    CudaArena {
        strategy: ArenaStrategy,
    },
    ConvAlgoSearch {
        search: ConvAlgoSearch,
    },
    /// The provider's own compile cache (OpenVINO's `cache_dir`, TensorRT's engine cache), pointed
    /// at an empty folder: the first load fills it, the later ones read it.
    ProviderCache,
}

impl Lever {
    /// Every lever worth trying for `provider` on a machine with `physical_cores` cores.
    pub(crate) fn all(provider: Provider, physical_cores: usize) -> Vec<Lever> {
        let mut levers = vec![
            Lever::Default,
            Lever::Optimization { level: OptLevel::Disabled },
            Lever::Optimization { level: OptLevel::Basic },
            Lever::Optimization { level: OptLevel::Extended },
            Lever::Load { from: LoadFrom::PreOptimizedOnnx },
            Lever::Load { from: LoadFrom::PreOptimizedOrt },
            Lever::Load { from: LoadFrom::Memory },
            Lever::IntraThreads { threads: 1 },
            Lever::IntraThreads { threads: physical_cores.max(1) },
            Lever::CpuArena { on: false },
            Lever::Prepacking { on: false },
        ];
        if provider.takes("arena_extend_strategy") {
            levers.push(Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested });
        }
        if provider.backend().cache_lever().is_some() {
            levers.push(Lever::ProviderCache);
        }
        if provider.takes("cudnn_conv_algo_search") {
            levers.extend([
                Lever::ConvAlgoSearch { search: ConvAlgoSearch::Heuristic },
                Lever::ConvAlgoSearch { search: ConvAlgoSearch::Default },
            ]);
        }
        levers
    }

    /// The provider setup and session options this lever loads with, on top of `base`.
    pub(crate) fn apply(self, base: &ProviderSetup) -> (ProviderSetup, SessionExtras) {
        let mut setup = base.clone();
        let mut extras = SessionExtras::default();
        match self {
            Lever::Default => {}
            Lever::Optimization { level } => extras.optimization = Some(level),
            Lever::Load { from: LoadFrom::PreOptimizedOnnx | LoadFrom::PreOptimizedOrt } => {
                extras.optimization = Some(OptLevel::Disabled);
            }
            Lever::Load { from: LoadFrom::File | LoadFrom::Memory } => {}
            Lever::IntraThreads { threads } => setup.cpu.intra_threads = Some(threads),
            Lever::CpuArena { on } => setup.cpu.arena = on,
            Lever::Prepacking { on } => extras.prepacking = Some(on),
            Lever::CudaArena { strategy } => crate::provider::cuda::set_arena(&mut setup.options, strategy),
            Lever::ConvAlgoSearch { search } => crate::provider::cuda::set_conv_search(&mut setup.options, search),
            // The folder is the scenario's to make (`with_cache`): it must be new for each trial.
            Lever::ProviderCache => {}
        }
        (setup, extras)
    }

    /// Where the model comes from under this lever.
    pub(crate) fn load_from(self) -> LoadFrom {
        match self {
            Lever::Load { from } => from,
            _ => LoadFrom::File,
        }
    }
}

impl fmt::Display for Lever {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lever::Default => f.write_str("default (ONNX Runtime's own settings)"),
            Lever::Optimization { level } => write!(f, "graph optimisation {level}"),
            Lever::Load { from: LoadFrom::File } => f.write_str("from file"),
            Lever::Load { from: LoadFrom::Memory } => f.write_str("from bytes in memory"),
            Lever::Load { from: LoadFrom::PreOptimizedOnnx } => f.write_str("pre-optimised ONNX, optimisation disabled"),
            Lever::Load { from: LoadFrom::PreOptimizedOrt } => f.write_str("pre-optimised ORT format, optimisation disabled"),
            Lever::IntraThreads { threads } => write!(f, "{threads} intra-op thread{}", if *threads == 1 { "" } else { "s" }),
            Lever::CpuArena { on } => write!(f, "CPU arena {}", if *on { "on" } else { "off" }),
            Lever::Prepacking { on } => write!(f, "weight prepacking {}", if *on { "on" } else { "off" }),
            Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested } => f.write_str("CUDA arena same-as-requested"),
            Lever::CudaArena { strategy: ArenaStrategy::NextPowerOfTwo } => f.write_str("CUDA arena next-power-of-two"),
            Lever::ConvAlgoSearch { search } => write!(f, "cuDNN conv algorithm search {}", format!("{search:?}").to_lowercase()),
            Lever::ProviderCache => f.write_str("provider compile cache, loads after the first"),
        }
    }
}

/// `setup` with its provider's compile cache in `dir` (and the options that switch it on).
pub(crate) fn with_cache(setup: &mut ProviderSetup, dir: &std::path::Path) {
    if let Some(lever) = setup.provider.backend().cache_lever() {
        setup.options.insert(lever.key.into(), dir.display().to_string());
        for (k, v) in lever.with {
            setup.options.insert((*k).into(), (*v).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(provider: Provider) -> ProviderSetup {
        ProviderSetup::new(provider)
    }

    #[test]
    fn cuda_levers_only_on_cuda() {
        let cpu = Lever::all(Provider::CPU, 8);
        assert!(!cpu.iter().any(|l| matches!(l, Lever::CudaArena { .. } | Lever::ConvAlgoSearch { .. })));
        assert!(cpu.contains(&Lever::IntraThreads { threads: 8 }));
        let cuda = Lever::all(Provider::named("cuda"), 8);
        assert!(cuda.contains(&Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested }));
        assert_eq!(cuda[0], Lever::Default);
        assert!(!cpu.contains(&Lever::ProviderCache) && !cuda.contains(&Lever::ProviderCache), "neither keeps a compile cache");
        let ov = Lever::all(Provider::named("openvino"), 8);
        assert!(ov.contains(&Lever::ProviderCache) && !ov.iter().any(|l| matches!(l, Lever::CudaArena { .. })), "{ov:?}");
        let mut trt = ProviderSetup::new(Provider::named("tensorrt"));
        with_cache(&mut trt, std::path::Path::new("/tmp/engines"));
        assert_eq!((trt.options["trt_engine_cache_path"].as_str(), trt.options["trt_engine_cache_enable"].as_str()), ("/tmp/engines", "1"));
    }

    #[test]
    fn each_lever_changes_one_thing() {
        let b = base(Provider::named("cuda"));
        assert_eq!(Lever::Default.apply(&b), (b.clone(), SessionExtras::default()));
        let (setup, extras) = Lever::IntraThreads { threads: 1 }.apply(&b);
        assert_eq!((setup.cpu.intra_threads, extras), (Some(1), SessionExtras::default()));
        let (setup, extras) = Lever::Load { from: LoadFrom::PreOptimizedOrt }.apply(&b);
        assert_eq!((setup, extras.optimization), (b.clone(), Some(OptLevel::Disabled)));
        let (setup, _) = Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested }.apply(&b);
        assert_eq!(setup.options["arena_extend_strategy"], "kSameAsRequested");
        let (_, extras) = Lever::Prepacking { on: false }.apply(&b);
        assert_eq!(extras.prepacking, Some(false));
    }
}
