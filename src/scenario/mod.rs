//! The scenarios, one file each, as they run inside a worker. Isolation and memory-limit are measured
//! from the parent's side ([`isolation`], beside their worker half `isolation::serve`); `replay` is
//! `mora simulate --replay`'s worker half. Every worker starts its provider first
//! ([`init_provider`], the provider baseline). Every scenario but isolation starts with the model's
//! first load in the fresh worker ([`first_load`]), so that the worker's one-time warm-up is
//! measured apart and kept out of the model's figures.

pub mod cold;
pub mod concurrent;
pub mod idle;
pub mod isolation;
pub mod leak;
pub mod levers;
pub mod memory_levers;
pub mod replay;
pub mod rotation;
pub mod shapes;
pub mod single;
pub mod soak;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use ort::value::Tensor;

use crate::fault;
use crate::inputs::ModelInputs;
use crate::loaded_model::{LoadedModel, ms_since};
use crate::onnx_writer::warmup_model;
use crate::phase::Phase;
use crate::probe::{GpuReading, MemorySnapshot, Probe, malloc_trim, page_cache};
use crate::protocol::{Channel, ModelSpec, ReadyReport, TrialSpec, WorkerMessage};
use crate::provider::placement::NodePlacement;
use crate::provider::setup::ProviderSetup;
use crate::results::{FirstLoad, ProviderBaseline};
use crate::runtime::{Runtime, RuntimeLibrary};

/// What a scenario works with inside the worker: the trial, the runtime, the probe, the channel to
/// the parent, and what it has to report besides its measurements.
pub(crate) struct TrialContext<'a> {
    pub spec: &'a TrialSpec,
    pub runtime: Runtime,
    pub probe: Probe,
    pub channel: &'a mut Channel,
    pub warnings: Vec<crate::warnings::Warning>,
    pub provider_baseline: ProviderBaseline,
}

impl TrialContext<'_> {
    /// Enters a phase: the parent hears of it, and a crash from here on is reported as in this phase.
    pub(crate) fn phase(&mut self, phase: Phase) {
        self.meter().0.phase(phase);
    }

    pub(crate) fn snapshot(&self) -> MemorySnapshot {
        self.probe.snapshot()
    }

    /// The channel and the probe as a [`Meter`], beside the runtime: a loop can then measure while a
    /// [`crate::loaded_model::SessionLoader`] holds the runtime.
    pub(crate) fn meter(&mut self) -> (WorkerMeter<'_>, &Runtime) {
        (WorkerMeter { channel: &mut *self.channel, probe: &self.probe }, &self.runtime)
    }
}

/// Where a scenario's loop says which phase it is in and reads memory: the worker's channel and
/// probe ([`WorkerMeter`]), a fake in the scenarios' unit tests.
pub(crate) trait Meter {
    /// Enters a phase, as [`TrialContext::phase`] does.
    fn phase(&mut self, phase: Phase);
    fn snapshot(&self) -> MemorySnapshot;
}

/// The worker's [`Meter`]: [`TrialContext`]'s channel and probe.
pub(crate) struct WorkerMeter<'a> {
    channel: &'a mut Channel,
    probe: &'a Probe,
}

impl Meter for WorkerMeter<'_> {
    fn phase(&mut self, phase: Phase) {
        self.channel.phase(phase);
        fault::inject(self.channel.current_phase());
    }

    fn snapshot(&self) -> MemorySnapshot {
        self.probe.snapshot()
    }
}

/// The one model of a single-model scenario.
pub(crate) fn only_model<'a>(worker: &TrialContext<'a>) -> Result<&'a ModelSpec> {
    match worker.spec.models.as_slice() {
        [model] => Ok(model),
        models => bail!("scenario {} takes one model, got {}", worker.spec.scenario, models.len()),
    }
}

/// Reads every file of the model through the page cache: the loads after it are cached ones.
pub(crate) fn read_through(model: &ModelSpec) -> Result<()> {
    for file in &model.files {
        page_cache::read_through(file).with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(())
}

/// The model's first load in this worker: load, first inference, then a `Ready` message (the parent
/// times spawn-to-ready by it), unload and trim. Whatever the provider sets up on first use stays in
/// the process and is measured here instead of in the model's figures. Inputs are planned here and
/// reused by later loads.
pub(crate) fn first_load(w: &mut TrialContext, model: &ModelSpec, inputs: &mut Option<ModelInputs>) -> Result<FirstLoad> {
    w.phase(Phase::FirstLoad);
    malloc_trim();
    let before_load = w.snapshot();
    let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, inputs)?;
    let placement = NodePlacement::of(loaded.session());
    if let Some(warning) = placement.as_ref().and_then(|p| placement_warning(&w.spec.provider, p)) {
        w.warnings.push(warning);
    }
    w.phase(Phase::FirstLoadInference);
    let first_inference_ms = loaded.run()?;
    let after_first_inference = w.snapshot();
    w.channel.send(&WorkerMessage::Ready(Box::new(ReadyReport {
        provider_baseline: w.provider_baseline.clone(),
        load_time_ms,
        first_inference_ms,
        providers_registered: w.spec.provider.registered_names(),
    })));
    w.phase(Phase::FirstLoadUnload);
    loaded.unload();
    let after_unload = w.snapshot();
    malloc_trim();
    let after_trim = w.snapshot();
    Ok(FirstLoad { load_time_ms, first_inference_ms, before_load, after_first_inference, after_unload, after_trim, placement })
}

/// A warning where a provider other than the fallback left nodes to it.
pub(crate) fn placement_warning(setup: &ProviderSetup, p: &NodePlacement) -> Option<crate::warnings::Warning> {
    let ort_name = setup.provider.ort_name();
    if setup.provider == crate::provider::Provider::CPU || p.total() == 0 {
        return None;
    }
    let on = p.on(ort_name);
    let provider = setup.provider.to_string();
    match on {
        0 => Some(crate::warnings::Warning::NothingPlaced { provider, total: p.total() }),
        n if n < p.total() => Some(crate::warnings::Warning::PartialPlacement { provider, on_provider: n, total: p.total() }),
        _ => None,
    }
}

/// The model's external data files in memory, by the names the model gives them: what a load from
/// memory needs besides the model's own bytes.
pub(crate) fn external_data(model: &ModelSpec) -> Result<Vec<(String, std::sync::Arc<[u8]>)>> {
    let dir = model.path.parent().unwrap_or(std::path::Path::new("."));
    let summary = crate::onnx_graph::GraphSummary::read(&model.path).with_context(|| format!("cannot read {}", model.path.display()))?;
    summary
        .external_data
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((name.clone(), std::sync::Arc::from(bytes.into_boxed_slice())))
        })
        .collect()
}

/// Initialises the environment and the provider with the tiny embedded model, measuring what that
/// costs and what stays after it is dropped: the provider baseline every worker pays.
pub(crate) fn init_provider(library: &RuntimeLibrary, setup: &ProviderSetup, probe: &Probe) -> Result<(Runtime, ProviderBaseline)> {
    let before = probe.snapshot();
    let start = Instant::now();
    let runtime = setup.start_runtime(library)?;
    let mut session =
        setup.session_from_memory(&runtime.env, &warmup_model()).context("initialising the provider with the warm-up model")?;
    let init_ms = ms_since(start);
    let x = Tensor::from_array(([1i64, 16], vec![0.5f32; 16])).context("the warm-up model's input")?;
    let start = Instant::now();
    let outputs = session.run(ort::inputs!["x" => x]).context("the warm-up model failed to run")?;
    let first_run_ms = ms_since(start);
    drop(outputs);
    drop(session);
    let after = probe.snapshot();
    let rss_mb = crate::probe::process::delta(after.process.rss_mb, before.process.rss_mb);
    // Before the context exists the process is absent from NVML's list: it read as zero then.
    let reading = GpuReading::choose([&after]);
    let gpu_mb = reading.and_then(|r| crate::probe::process::delta(r.read(&after), r.read(&before)));
    Ok((runtime, ProviderBaseline { init_ms, first_run_ms, before, after, rss_mb, gpu_mb }))
}
