//! The memory levers: what a model server can do about the memory that stays after an unload. Each
//! configuration runs in a worker of its own, since a process allocator is chosen when the process
//! starts (preloaded with LD_PRELOAD).

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::ArenaStrategy;
use crate::probe::Allocator;
use crate::provider::setup::{ProviderSetup, SessionExtras};
use crate::runtime::Provider;

/// One memory configuration of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "config", rename_all = "kebab-case")]
pub enum MemoryConfig {
    /// ONNX Runtime's defaults under glibc's malloc.
    Default,
    /// Run option `memory.enable_memory_arena_shrinkage`: the arena gives memory back after each run.
    ArenaShrinkage,
    /// `session.use_device_allocator_for_initializers`: weights outside the arena.
    DeviceAllocatorForInitializers,
    CpuArenaOff,
    /// CUDA: the arena grows by what is asked, not the next power of two.
    CudaArenaSameAsRequested,
    /// Another process allocator, preloaded into the worker.
    Allocator {
        allocator: Allocator,
    },
}

/// Where Debian puts the preloadable allocators (packages libjemalloc2, libmimalloc2.0,
/// libtcmalloc-minimal4).
const LIBRARIES: &[(Allocator, &str, &str)] = &[
    (Allocator::Jemalloc, "libjemalloc.so.2", "libjemalloc2"),
    (Allocator::Mimalloc, "libmimalloc.so.2", "libmimalloc2.0"),
    (Allocator::Tcmalloc, "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
];

const LIBRARY_DIRS: &[&str] = &["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

impl MemoryConfig {
    pub(crate) fn all(provider: Provider) -> Vec<MemoryConfig> {
        let mut configs = vec![
            MemoryConfig::Default,
            MemoryConfig::ArenaShrinkage,
            MemoryConfig::DeviceAllocatorForInitializers,
            MemoryConfig::CpuArenaOff,
        ];
        if provider.takes("arena_extend_strategy") {
            configs.push(MemoryConfig::CudaArenaSameAsRequested);
        }
        configs.extend(LIBRARIES.iter().map(|(allocator, ..)| MemoryConfig::Allocator { allocator: *allocator }));
        configs
    }

    /// The library to preload for this configuration, or why it cannot be tried here.
    pub(crate) fn preload(self) -> anyhow::Result<Option<PathBuf>> {
        let MemoryConfig::Allocator { allocator } = self else { return Ok(None) };
        let (_, file, package) = LIBRARIES.iter().find(|(a, ..)| *a == allocator).expect("every preloadable allocator is listed");
        LIBRARY_DIRS
            .iter()
            .map(|d| PathBuf::from(d).join(file))
            .find(|p| p.exists())
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("{file} is not installed (Debian: apt-get install {package})"))
    }

    /// The provider setup and session options this configuration loads with, on top of `base`.
    pub(crate) fn apply(self, base: &ProviderSetup) -> (ProviderSetup, SessionExtras) {
        let mut setup = base.clone();
        let mut extras = SessionExtras::default();
        match self {
            MemoryConfig::DeviceAllocatorForInitializers => extras.device_allocator_for_initializers = true,
            MemoryConfig::CpuArenaOff => setup.cpu.arena = false,
            MemoryConfig::CudaArenaSameAsRequested => crate::provider::cuda::set_arena(&mut setup.options, ArenaStrategy::SameAsRequested),
            MemoryConfig::Default | MemoryConfig::ArenaShrinkage | MemoryConfig::Allocator { .. } => {}
        }
        (setup, extras)
    }

    /// The run option `memory.enable_memory_arena_shrinkage`, where this configuration sets it.
    pub(crate) fn shrinkage(self, provider: Provider) -> Option<&'static str> {
        // The device arena is shrunk too where the provider has one (CUDA's, by device 0).
        match self {
            MemoryConfig::ArenaShrinkage if provider.takes("arena_extend_strategy") => Some("cpu:0;gpu:0"),
            MemoryConfig::ArenaShrinkage => Some("cpu:0"),
            _ => None,
        }
    }
}

impl fmt::Display for MemoryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryConfig::Default => f.write_str("default (glibc malloc, ONNX Runtime's arenas)"),
            MemoryConfig::ArenaShrinkage => f.write_str("arena shrinkage after each run"),
            MemoryConfig::DeviceAllocatorForInitializers => f.write_str("weights outside the arena"),
            MemoryConfig::CpuArenaOff => f.write_str("CPU arena off"),
            MemoryConfig::CudaArenaSameAsRequested => f.write_str("CUDA arena same-as-requested"),
            MemoryConfig::Allocator { allocator } => write!(f, "{} preloaded", format!("{allocator:?}").to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocators_are_preloaded_from_their_files_or_say_how_to_install_them() {
        for config in MemoryConfig::all(Provider::CPU) {
            match (config, config.preload()) {
                (MemoryConfig::Allocator { .. }, Ok(Some(path))) => assert!(path.exists()),
                (MemoryConfig::Allocator { .. }, Err(why)) => assert!(why.to_string().contains("apt-get install"), "{why}"),
                (_, result) => assert_eq!(result.ok(), Some(None)),
            }
        }
        assert!(!MemoryConfig::all(Provider::CPU).contains(&MemoryConfig::CudaArenaSameAsRequested));
        assert_eq!(MemoryConfig::ArenaShrinkage.shrinkage(Provider::named("cuda")), Some("cpu:0;gpu:0"));
        assert_eq!(MemoryConfig::Default.shrinkage(Provider::CPU), None);
    }
}
