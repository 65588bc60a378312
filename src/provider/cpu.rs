//! ONNX Runtime's own CPU provider: always there, and every other provider's fallback.

use anyhow::Result;
use ort::ep;
use ort::session::builder::SessionBuilder;

use super::diagnosis::{Check, DiagnoseContext, Diagnosis};
use super::setup::{ProviderSetup, unbuilt};
use super::{Backend, MemoryKind, Source, options::Options};

pub(super) struct Cpu;

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn ort_name(&self) -> &'static str {
        "CPUExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "ONNX Runtime's CPU kernels (MLAS), in every build"
    }
    fn sources(&self) -> &'static [Source] {
        &[Source::BuiltIn]
    }
    fn memory(&self, _: &Options) -> MemoryKind {
        MemoryKind::Host
    }
    /// Nothing to find and nothing to probe: it is in every runtime, and every worker's provider
    /// initialisation runs the warm-up model on it before any trial (no probe worker is spent on it).
    fn diagnose(&self, ctx: &DiagnoseContext, _: &mut ProviderSetup) -> Diagnosis {
        let mut d = Diagnosis::from_checks(vec![Check::ok("built into the runtime", format!("ONNX Runtime {}", ctx.runtime.version))]);
        d.session_checked = true;
        d
    }
    fn append(&self, builder: SessionBuilder, setup: &ProviderSetup, _: &ort::environment::Environment) -> Result<SessionBuilder> {
        Ok(builder.with_execution_providers([cpu_dispatch(setup).error_on_failure()]).map_err(unbuilt)?)
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}

/// The CPU provider with the setup's arena choice: first for CPU trials, the fallback after any other.
pub(crate) fn cpu_dispatch(setup: &ProviderSetup) -> ep::ExecutionProviderDispatch {
    ep::CPU::default().with_arena_allocator(setup.cpu.arena).build()
}
