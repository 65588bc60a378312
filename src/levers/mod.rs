//! The load-path levers: each a configuration of ONNX Runtime that a model server can choose, applied
//! on top of a trial's provider setup; their outputs checked against the default's ([`outputs`]);
//! the hardware's floor for a load ([`floor`]); and a pre-optimised model with its manifest
//! ([`optimized`], which `mora optimize` writes).

pub mod breakdown;
pub mod choice;
pub mod floor;
pub mod memory;
pub mod optimized;
pub mod outputs;
pub mod residence;
pub(crate) mod session;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ArenaStrategy, ConvAlgoSearch};
use crate::provider::setup::{OptLevel, ProviderSetup, SessionExtras};

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
    /// The pre-optimised ONNX written with its pre-packed weights in its external data file
    /// (`session.save_external_prepacked_constant_initializers`): a load reads the packed weights
    /// instead of packing them.
    PreOptimizedPrepacked,
    /// The pre-optimised ORT format mapped from its file (`session.use_memory_mapped_ort_model`), the
    /// initializers used where they lie in the mapping (`session.use_ort_model_bytes_for_initializers`).
    PreOptimizedOrtMapped,
    /// The pre-optimised ORT format from bytes already in memory, used in place: neither the model
    /// nor its initializers copied (`session.use_ort_model_bytes_directly`, `..._for_initializers`).
    PreOptimizedOrtBytes,
}

/// The pre-optimised copies the levers load, each written once per trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreOptimized {
    /// ONNX, its initializers in `<name>.data` beside it.
    Onnx,
    /// ORT format.
    Ort,
    /// ONNX with the pre-packed weights in its external data as well.
    Prepacked,
}

impl PreOptimized {
    pub(crate) const ALL: [PreOptimized; 3] = [PreOptimized::Onnx, PreOptimized::Ort, PreOptimized::Prepacked];

    pub(crate) fn file_name(self) -> &'static str {
        match self {
            PreOptimized::Onnx => "model.optimized.onnx",
            PreOptimized::Ort => "model.optimized.ort",
            PreOptimized::Prepacked => "model.prepacked.onnx",
        }
    }

    /// The session config entries that write this copy, beyond the optimised model's path.
    pub(crate) fn save_entries(self) -> &'static [(&'static str, &'static str)] {
        match self {
            PreOptimized::Prepacked => &[(SAVE_PREPACKED, "1")],
            PreOptimized::Onnx | PreOptimized::Ort => &[],
        }
    }
}

impl LoadFrom {
    /// The pre-optimised copy this source reads, if any.
    pub(crate) fn copy(self) -> Option<PreOptimized> {
        match self {
            LoadFrom::File | LoadFrom::Memory => None,
            LoadFrom::PreOptimizedOnnx => Some(PreOptimized::Onnx),
            LoadFrom::PreOptimizedOrt | LoadFrom::PreOptimizedOrtMapped | LoadFrom::PreOptimizedOrtBytes => Some(PreOptimized::Ort),
            LoadFrom::PreOptimizedPrepacked => Some(PreOptimized::Prepacked),
        }
    }
}

// The session config keys the levers set, as ONNX Runtime 1.31 names them
// (onnxruntime_session_options_config_keys.h).
pub(crate) const SAVE_PREPACKED: &str = "session.save_external_prepacked_constant_initializers";
pub(crate) const MAPPED_ORT: &str = "session.use_memory_mapped_ort_model";
pub(crate) const ORT_BYTES_FOR_INITIALIZERS: &str = "session.use_ort_model_bytes_for_initializers";
pub(crate) const PARALLEL_PREPACK: &str = "session.prepack.enable_parallel";
pub(crate) const DISABLE_OPTIMIZERS: &str = "optimization.disable_specified_optimizers";
/// ONNX Runtime's INFO line when it mapped an ORT format model (inference_session.cc).
pub(crate) const MAPPED_ORT_LOG: &str = "ORT model loaded via memory-mapped I/O.";

/// One configuration of the load path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// The pre-optimised ONNX with prepacking off: its external initializers stay in the file's
    /// mapping, nothing is packed onto the heap (the process's file-backed memory shows it).
    MappedInitializers,
    /// `session.prepack.enable_parallel`: the weights packed on the intra-op pool, `threads` of them
    /// (ONNX Runtime packs serially on one).
    ParallelPrepacking {
        threads: usize,
    },
    /// `optimization.disable_specified_optimizers`: one graph transformer that costs load time
    /// skipped (chosen from the default's logged load).
    DisableOptimizer {
        name: String,
    },
    /// Levers applied together: the best two to first answer that change different things.
    Combined {
        of: Vec<Lever>,
    },
}

/// What a lever changes or needs left alone; two levers that change the same thing, or one what the
/// other needs, cannot be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Knob {
    Source,
    Optimization,
    Prepacking,
    Threads,
    CpuArena,
    ProviderOptions,
    /// Mergeable: two levers' lists join.
    DisabledOptimizers,
}

/// A lever's setup, session options and config entries, on top of a trial's provider setup.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Applied {
    pub setup: ProviderSetup,
    pub extras: SessionExtras,
    /// Session config entries (`session.*`, `optimization.*`) and their values.
    pub entries: Vec<(String, String)>,
}

impl Lever {
    /// Every fixed lever worth trying for `base` on a machine with `physical_cores` cores; the
    /// optimizer levers and the combination depend on what the default's load showed and are added
    /// by the scenario.
    pub(crate) fn all(base: &ProviderSetup, physical_cores: usize) -> Vec<Lever> {
        let provider = base.provider;
        let mut levers = vec![
            Lever::Default,
            Lever::Optimization { level: OptLevel::Disabled },
            Lever::Optimization { level: OptLevel::Basic },
            Lever::Optimization { level: OptLevel::Extended },
            Lever::Load { from: LoadFrom::PreOptimizedOnnx },
            Lever::Load { from: LoadFrom::PreOptimizedPrepacked },
            Lever::MappedInitializers,
            Lever::Load { from: LoadFrom::PreOptimizedOrt },
            Lever::Load { from: LoadFrom::PreOptimizedOrtMapped },
            Lever::Load { from: LoadFrom::PreOptimizedOrtBytes },
            Lever::Load { from: LoadFrom::Memory },
            Lever::IntraThreads { threads: 1 },
            Lever::IntraThreads { threads: physical_cores.max(1) },
            Lever::CpuArena { on: false },
            Lever::Prepacking { on: false },
            // The pool the session would have: the setup's threads, else ONNX Runtime's one per core.
            Lever::ParallelPrepacking { threads: base.cpu.intra_threads.unwrap_or(physical_cores).max(1) },
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

    /// Why this lever cannot be tried at all, before any load: ONNX Runtime's own conditions.
    pub(crate) fn not_applicable(&self) -> Option<String> {
        match self {
            Lever::ParallelPrepacking { threads } if *threads < 2 => Some(format!(
                "not applicable: parallel prepacking needs more than one intra-op thread, and this session has {threads} (ONNX Runtime packs serially on one)"
            )),
            _ => None,
        }
    }

    /// The provider setup, session options and config entries this lever loads with, on top of `base`.
    pub(crate) fn apply(&self, base: &ProviderSetup) -> Applied {
        let mut a = Applied { setup: base.clone(), extras: SessionExtras::default(), entries: Vec::new() };
        self.apply_to(&mut a);
        a
    }

    fn apply_to(&self, a: &mut Applied) {
        let entry = |a: &mut Applied, key: &str, value: &str| match a.entries.iter_mut().find(|(k, _)| k == key) {
            // Only the optimizer list is ever set twice (a combination): the names join.
            Some((_, v)) => *v = format!("{v},{value}"),
            None => a.entries.push((key.to_string(), value.to_string())),
        };
        match self {
            Lever::Default => {}
            Lever::Optimization { level } => a.extras.optimization = Some(*level),
            Lever::Load { from: LoadFrom::File | LoadFrom::Memory } => {}
            Lever::Load { from } => {
                a.extras.optimization = Some(OptLevel::Disabled);
                match from {
                    LoadFrom::PreOptimizedOrtMapped => {
                        entry(a, MAPPED_ORT, "1");
                        entry(a, ORT_BYTES_FOR_INITIALIZERS, "1");
                    }
                    // `session.use_ort_model_bytes_directly` comes with the bytes (LoadOptions).
                    LoadFrom::PreOptimizedOrtBytes => entry(a, ORT_BYTES_FOR_INITIALIZERS, "1"),
                    _ => {}
                }
            }
            Lever::MappedInitializers => {
                a.extras.optimization = Some(OptLevel::Disabled);
                a.extras.prepacking = Some(false);
            }
            Lever::IntraThreads { threads } => a.setup.cpu.intra_threads = Some(*threads),
            Lever::CpuArena { on } => a.setup.cpu.arena = *on,
            Lever::Prepacking { on } => a.extras.prepacking = Some(*on),
            Lever::ParallelPrepacking { threads } => {
                a.setup.cpu.intra_threads = Some(*threads);
                entry(a, PARALLEL_PREPACK, "1");
            }
            Lever::DisableOptimizer { name } => entry(a, DISABLE_OPTIMIZERS, name),
            Lever::CudaArena { strategy } => crate::provider::cuda::set_arena(&mut a.setup.options, *strategy),
            Lever::ConvAlgoSearch { search } => crate::provider::cuda::set_conv_search(&mut a.setup.options, *search),
            // The folder is the scenario's to make (`with_cache`): it must be new for each trial.
            Lever::ProviderCache => {}
            Lever::Combined { of } => of.iter().for_each(|l| l.apply_to(a)),
        }
    }

    /// Where the model comes from under this lever.
    pub(crate) fn load_from(&self) -> LoadFrom {
        match self {
            Lever::Load { from } => *from,
            Lever::MappedInitializers => LoadFrom::PreOptimizedOnnx,
            Lever::Combined { of } => of.iter().map(Lever::load_from).find(|f| *f != LoadFrom::File).unwrap_or(LoadFrom::File),
            _ => LoadFrom::File,
        }
    }

    /// What this lever changes, and what it needs left at ONNX Runtime's default to mean anything.
    fn knobs(&self) -> (Vec<Knob>, Vec<Knob>) {
        use Knob as K;
        match self {
            Lever::Default | Lever::Load { from: LoadFrom::File } => (vec![], vec![]),
            Lever::Optimization { .. } => (vec![K::Optimization], vec![]),
            Lever::Load { from: LoadFrom::Memory } => (vec![K::Source], vec![]),
            // The saved pre-packed weights are only read with prepacking on.
            Lever::Load { from: LoadFrom::PreOptimizedPrepacked } => (vec![K::Source, K::Optimization], vec![K::Prepacking]),
            Lever::MappedInitializers => (vec![K::Source, K::Optimization, K::Prepacking], vec![]),
            Lever::Load { .. } => (vec![K::Source, K::Optimization], vec![]),
            Lever::IntraThreads { .. } => (vec![K::Threads], vec![]),
            Lever::CpuArena { .. } => (vec![K::CpuArena], vec![]),
            Lever::Prepacking { .. } => (vec![K::Prepacking], vec![]),
            Lever::ParallelPrepacking { .. } => (vec![K::Threads], vec![K::Prepacking]),
            Lever::CudaArena { .. } | Lever::ConvAlgoSearch { .. } | Lever::ProviderCache => (vec![K::ProviderOptions], vec![]),
            // An optimizer can only be skipped where the graph is optimised.
            Lever::DisableOptimizer { .. } => (vec![K::DisabledOptimizers], vec![K::Optimization]),
            Lever::Combined { of } => of.iter().map(Lever::knobs).fold((vec![], vec![]), |(mut c, mut n), (c2, n2)| {
                c.extend(c2);
                n.extend(n2);
                (c, n)
            }),
        }
    }

    /// Whether `self` and `other` change different things, neither what the other needs left alone,
    /// so that both can apply at once; the default, the compile cache (its first load is its own)
    /// and a combination are not combined again.
    pub(crate) fn combines_with(&self, other: &Lever) -> bool {
        let alone = |l: &Lever| matches!(l, Lever::Default | Lever::ProviderCache | Lever::Combined { .. });
        if alone(self) || alone(other) || self == other {
            return false;
        }
        let ((changes_a, needs_a), (changes_b, needs_b)) = (self.knobs(), other.knobs());
        let clash = changes_a.iter().any(|k| *k != Knob::DisabledOptimizers && changes_b.contains(k));
        let undoes = changes_a.iter().any(|k| needs_b.contains(k)) || changes_b.iter().any(|k| needs_a.contains(k));
        !clash && !undoes
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
            Lever::Load { from: LoadFrom::PreOptimizedPrepacked } => {
                f.write_str("pre-optimised ONNX with saved pre-packed weights, optimisation disabled")
            }
            Lever::Load { from: LoadFrom::PreOptimizedOrtMapped } => f.write_str("pre-optimised ORT format mapped from the file"),
            Lever::Load { from: LoadFrom::PreOptimizedOrtBytes } => {
                f.write_str("pre-optimised ORT format used in place from bytes in memory")
            }
            Lever::MappedInitializers => f.write_str("pre-optimised ONNX, initializers left mapped (prepacking off)"),
            Lever::IntraThreads { threads } => write!(f, "{threads} intra-op thread{}", if *threads == 1 { "" } else { "s" }),
            Lever::CpuArena { on } => write!(f, "CPU arena {}", if *on { "on" } else { "off" }),
            Lever::Prepacking { on } => write!(f, "weight prepacking {}", if *on { "on" } else { "off" }),
            Lever::ParallelPrepacking { threads } => {
                write!(f, "parallel prepacking on {threads} intra-op thread{}", if *threads == 1 { "" } else { "s" })
            }
            Lever::DisableOptimizer { name } => write!(f, "optimizer {name} disabled"),
            Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested } => f.write_str("CUDA arena same-as-requested"),
            Lever::CudaArena { strategy: ArenaStrategy::NextPowerOfTwo } => f.write_str("CUDA arena next-power-of-two"),
            Lever::ConvAlgoSearch { search } => write!(f, "cuDNN conv algorithm search {}", format!("{search:?}").to_lowercase()),
            Lever::ProviderCache => f.write_str("provider compile cache, loads after the first"),
            Lever::Combined { of } => {
                let labels: Vec<String> = of.iter().map(Lever::to_string).collect();
                f.write_str(&labels.join(" + "))
            }
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
    use crate::runtime::Provider;

    fn base(provider: Provider) -> ProviderSetup {
        ProviderSetup::new(provider)
    }

    #[test]
    fn cuda_levers_only_on_cuda() {
        let cpu = Lever::all(&base(Provider::CPU), 8);
        assert!(!cpu.iter().any(|l| matches!(l, Lever::CudaArena { .. } | Lever::ConvAlgoSearch { .. })));
        assert!(cpu.contains(&Lever::IntraThreads { threads: 8 }));
        assert!(cpu.contains(&Lever::ParallelPrepacking { threads: 8 }), "the pool ONNX Runtime would make: one per core");
        let cuda = Lever::all(&base(Provider::named("cuda")), 8);
        assert!(cuda.contains(&Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested }));
        assert_eq!(cuda[0], Lever::Default);
        assert!(!cpu.contains(&Lever::ProviderCache) && !cuda.contains(&Lever::ProviderCache), "neither keeps a compile cache");
        let ov = Lever::all(&base(Provider::named("openvino")), 8);
        assert!(ov.contains(&Lever::ProviderCache) && !ov.iter().any(|l| matches!(l, Lever::CudaArena { .. })), "{ov:?}");
        let mut trt = ProviderSetup::new(Provider::named("tensorrt"));
        with_cache(&mut trt, std::path::Path::new("/tmp/engines"));
        assert_eq!((trt.options["trt_engine_cache_path"].as_str(), trt.options["trt_engine_cache_enable"].as_str()), ("/tmp/engines", "1"));
    }

    #[test]
    fn each_lever_changes_one_thing() {
        let b = base(Provider::named("cuda"));
        assert_eq!(Lever::Default.apply(&b), Applied { setup: b.clone(), extras: SessionExtras::default(), entries: vec![] });
        let a = Lever::IntraThreads { threads: 1 }.apply(&b);
        assert_eq!((a.setup.cpu.intra_threads, a.extras), (Some(1), SessionExtras::default()));
        let a = Lever::Load { from: LoadFrom::PreOptimizedOrt }.apply(&b);
        assert_eq!((a.setup, a.extras.optimization, a.entries.len()), (b.clone(), Some(OptLevel::Disabled), 0));
        let a = Lever::CudaArena { strategy: ArenaStrategy::SameAsRequested }.apply(&b);
        assert_eq!(a.setup.options["arena_extend_strategy"], "kSameAsRequested");
        assert_eq!(Lever::Prepacking { on: false }.apply(&b).extras.prepacking, Some(false));
        let mapped = Lever::Load { from: LoadFrom::PreOptimizedOrtMapped }.apply(&b);
        assert_eq!(
            mapped.entries,
            [
                ("session.use_memory_mapped_ort_model".to_string(), "1".to_string()),
                ("session.use_ort_model_bytes_for_initializers".into(), "1".into())
            ]
        );
        let a = Lever::ParallelPrepacking { threads: 4 }.apply(&b);
        assert_eq!((a.setup.cpu.intra_threads, a.entries[0].0.as_str()), (Some(4), "session.prepack.enable_parallel"));
        let a = Lever::MappedInitializers.apply(&b);
        assert_eq!((a.extras.optimization, a.extras.prepacking), (Some(OptLevel::Disabled), Some(false)));
        assert_eq!(Lever::MappedInitializers.load_from().copy(), Some(PreOptimized::Onnx));
        assert_eq!(Lever::Load { from: LoadFrom::PreOptimizedOrtBytes }.load_from().copy(), Some(PreOptimized::Ort));
    }

    #[test]
    fn parallel_prepacking_on_one_thread_is_not_applicable_and_says_why() {
        let one = Lever::all(&base(Provider::CPU), 1);
        let parallel = one.iter().find(|l| matches!(l, Lever::ParallelPrepacking { .. })).unwrap();
        let why = parallel.not_applicable().expect("one thread cannot pack in parallel");
        assert!(why.contains("more than one intra-op thread") && why.contains("has 1"), "{why}");
        // The setup's own thread count wins over the cores.
        let mut pinned = base(Provider::CPU);
        pinned.cpu.intra_threads = Some(1);
        assert!(Lever::all(&pinned, 8).contains(&Lever::ParallelPrepacking { threads: 1 }));
        assert!(Lever::ParallelPrepacking { threads: 2 }.not_applicable().is_none());
    }

    #[test]
    fn levers_combine_only_where_they_change_different_things() {
        let b = base(Provider::CPU);
        let skip = |n: &str| Lever::DisableOptimizer { name: n.into() };
        let prepacked = Lever::Load { from: LoadFrom::PreOptimizedPrepacked };
        let parallel = Lever::ParallelPrepacking { threads: 2 };
        assert!(prepacked.combines_with(&parallel), "saved pre-packed weights, packing what remains in parallel");
        assert!(!parallel.combines_with(&Lever::Prepacking { on: false }), "nothing to pack in parallel with prepacking off");
        assert!(!parallel.combines_with(&Lever::IntraThreads { threads: 1 }));
        assert!(!skip("A").combines_with(&prepacked), "a pre-optimised copy loads with optimisation disabled: nothing to skip");
        assert!(!skip("A").combines_with(&Lever::Optimization { level: OptLevel::Basic }));
        assert!(skip("A").combines_with(&skip("B")) && !skip("A").combines_with(&skip("A")));
        assert!(!Lever::Default.combines_with(&parallel) && !Lever::ProviderCache.combines_with(&parallel));
        assert!(!Lever::Load { from: LoadFrom::Memory }.combines_with(&prepacked), "one source at a time");
        // Two optimizers skipped: one entry, the names joined.
        let both = Lever::Combined { of: vec![skip("A"), skip("B")] };
        assert_eq!(both.apply(&b).entries, [("optimization.disable_specified_optimizers".to_string(), "A,B".to_string())]);
        assert_eq!(both.to_string(), "optimizer A disabled + optimizer B disabled");
        let c = Lever::Combined { of: vec![parallel.clone(), prepacked.clone()] };
        let a = c.apply(&b);
        assert_eq!((a.setup.cpu.intra_threads, a.extras.optimization), (Some(2), Some(OptLevel::Disabled)));
        assert_eq!(c.load_from(), LoadFrom::PreOptimizedPrepacked);
        assert!(!c.combines_with(&skip("A")), "a combination is not combined again");
        // It reads back as it was written.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Lever>(&json).unwrap(), c, "{json}");
    }
}
