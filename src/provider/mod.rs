//! Execution providers as data. Each provider mora knows is one file in this folder implementing
//! [`Backend`] and one line in [`BACKENDS`]: its names, where its code comes from (built into the
//! runtime, a plugin library from a wheel, or a runtime build of its own), the memory its figures are
//! in, its options, how it is appended to a session and how `mora doctor` diagnoses it. The rest of
//! mora asks a provider (`provider.backend().memory()`), never compares it with a name, so a provider
//! it has never seen (a `--ep-lib NAME=PATH` plugin, or a run written by a newer mora) falls to
//! [`generic`] with its figures labelled as what they are.

mod cpu;
pub mod cuda;
pub mod diagnosis;
mod generic;
pub mod memory;
mod name;
mod openvino;
pub mod options;
pub mod placement;
pub mod plugin;
pub mod setup;
mod tensorrt;
mod tensorrt_rtx;
mod webgpu;

use std::path::PathBuf;

use anyhow::Result;
use ort::session::builder::SessionBuilder;

pub use memory::{DeviceProbe, MemoryKind};
pub use name::{Provider, ProviderRequest};
pub use options::{OptionKind, OptionSpec};
pub use setup::ProviderSetup;

use diagnosis::{DiagnoseContext, Diagnosis};

/// Every provider mora knows, in the order `--provider auto` tries them. A new provider is a file in
/// this folder and a line here.
pub(crate) static BACKENDS: &[&dyn Backend] =
    &[&cpu::Cpu, &cuda::Cuda, &tensorrt::TensorRt, &tensorrt_rtx::TensorRtRtx, &openvino::OpenVino, &webgpu::WebGpu];

/// Where a provider's code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Compiled into the ONNX Runtime library mora loads (CPU always; CUDA and TensorRT in the GPU build).
    BuiltIn,
    /// A plugin library that registers with the runtime (`RegisterExecutionProviderLibrary`), shipped
    /// in a Python wheel installed next to onnxruntime.
    Plugin(&'static plugin::PluginSpec),
    /// A whole ONNX Runtime build with the provider compiled in, in a folder of its own: the worker
    /// loads that library instead of the project's (a worker is one process, one runtime).
    OwnRuntime(&'static plugin::RuntimeSpec),
}

/// A provider's own lever for the levers scenario: a load measured with an option off and on, the
/// second session reusing what the first one wrote (a compiled-model or engine cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLever {
    /// The lever's name in tables, e.g. `openvino-cache`.
    pub name: &'static str,
    /// The option that points the provider at its cache folder.
    pub key: &'static str,
    /// Options set beside it (`trt_engine_cache_enable=1`).
    pub with: &'static [(&'static str, &'static str)],
    /// What the cache holds, for the report.
    pub holds: &'static str,
}

/// One execution provider. Methods with a default are what most providers do.
pub trait Backend: Sync {
    /// mora's name for it (`--provider NAME`, tables, results.json).
    fn name(&self) -> &'static str;
    /// Other names `--provider` accepts.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// ONNX Runtime's name for it (`OpenVINOExecutionProvider`).
    fn ort_name(&self) -> &'static str;
    /// One line for `mora doctor` and the docs.
    fn summary(&self) -> &'static str;
    /// Where its code can come from, tried in this order.
    fn sources(&self) -> &'static [Source];
    /// The memory a model's figures are in on this provider, given its options.
    fn memory(&self, options: &options::Options) -> MemoryKind;
    /// The options models.yaml and `--ep-option` accept, as ONNX Runtime names them.
    fn options(&self) -> &'static [OptionSpec] {
        &[]
    }
    /// Whether `--provider auto` tries it (a provider that places no node of the default suite
    /// would only add rows of CPU figures).
    fn in_auto(&self) -> bool {
        true
    }
    /// Can it run here, and if not which piece is missing; fills in `setup` (the library found, the
    /// GPU the probes watch) as it goes.
    fn diagnose(&self, ctx: &DiagnoseContext, setup: &mut ProviderSetup) -> Diagnosis {
        diagnosis::standard(self.as_dyn(), ctx, setup)
    }
    /// Adds it to a session builder, with `setup`'s options. Runs in the worker, after
    /// [`Backend::prepare`] and after its plugin (if any) registered.
    fn append(&self, builder: SessionBuilder, setup: &ProviderSetup, env: &ort::environment::Environment) -> Result<SessionBuilder> {
        plugin::append_devices(builder, self.ort_name(), setup, env)
    }
    /// What must happen in the worker before the runtime is initialised (CUDA preloads its wheels).
    fn prepare(&self, _setup: &ProviderSetup, _library: &crate::runtime::RuntimeLibrary) {}
    /// What a reader of its memory figures must know (CUDA's arena reserves in steps).
    fn memory_note(&self) -> Option<&'static str> {
        None
    }
    /// Why it may offer no device here, for the diagnosis (OpenVINO's plugin serves Intel hardware only).
    fn no_device_hint(&self) -> Option<&'static str> {
        None
    }
    /// Its cache lever for the levers scenario, where it has one.
    fn cache_lever(&self) -> Option<&'static CacheLever> {
        None
    }
    /// What a reader of the cold scenario must know about its state: the provider's compile cache.
    fn cache_state(&self, setup: &ProviderSetup) -> Option<String> {
        let lever = self.cache_lever()?;
        Some(match setup.options.get(lever.key) {
            Some(dir) => format!("{} cache at {dir} (a load after the first reads it)", lever.holds),
            None => format!("no {} cache: every load compiles", lever.holds),
        })
    }
    /// Itself as a trait object, for the provided methods' helpers.
    fn as_dyn(&self) -> &dyn Backend;
}

/// The backend behind a name or an alias, if mora knows one.
pub(crate) fn known(name: &str) -> Option<&'static dyn Backend> {
    let name = name.trim().to_ascii_lowercase();
    BACKENDS.iter().copied().find(|b| b.name() == name || b.aliases().contains(&name.as_str()))
}

/// The names `--provider` accepts, for error messages.
pub(crate) fn known_names() -> String {
    BACKENDS.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
}

/// A library path given with `--ep-lib NAME=PATH`, for a plugin mora cannot find or does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpLib {
    pub provider: Provider,
    pub path: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_has_one_name_and_the_names_are_unique() {
        let mut names: Vec<&str> = BACKENDS.iter().flat_map(|b| std::iter::once(b.name()).chain(b.aliases().iter().copied())).collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all, "a name or alias used twice: {names:?}");
        for b in BACKENDS {
            assert_eq!(b.name(), b.name().to_ascii_lowercase());
            assert!(!b.sources().is_empty(), "{} has no source", b.name());
            assert!(b.ort_name().ends_with("ExecutionProvider"), "{}", b.ort_name());
            assert!(std::ptr::addr_eq(b.as_dyn(), *b), "{}: as_dyn must return itself", b.name());
        }
        assert_eq!(BACKENDS[0].name(), "cpu", "CPU first: the fallback every other provider keeps");
    }

    #[test]
    fn every_option_a_backend_declares_is_well_formed() {
        for b in BACKENDS {
            let mut keys: Vec<&str> = b.options().iter().map(|o| o.key).collect();
            let all = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), all, "{}: an option declared twice", b.name());
            if let Some(lever) = b.cache_lever() {
                assert!(b.options().iter().any(|o| o.key == lever.key), "{}: its cache lever's option is not declared", b.name());
            }
        }
    }
}
