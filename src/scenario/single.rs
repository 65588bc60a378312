//! Scenario `single`, in one fresh worker: the model's first load (the worker's warm-up, measured
//! apart), then the measured load in the warmed worker (timed), first inference, warm-up curve,
//! steady state, unload, trim. Loads are cached ones: the files are read through first (the proof of
//! concept's load-time verdicts are for cached loads); the cold scenario measures the other case.
//! The parent runs this in several fresh workers and summarises them.

use std::time::Instant;

use anyhow::Result;

use super::TrialContext;
use crate::loaded_model::{LoadedModel, ms_since};
use crate::phase::Phase;
use crate::probe::{malloc_trim, page_cache, process};
use crate::results::{PhaseMemory, SingleResult, SingleTrial, UnloadFigures};
use crate::stats::Summary;
use crate::warnings::Warning;

/// Treat the files as cached ("cache hit") when at least this fraction was resident before the load.
pub(crate) const CACHE_HIT_FRACTION: f64 = 0.99;

pub(crate) fn run(w: &mut TrialContext) -> Result<SingleTrial> {
    let model = super::only_model(w)?;
    let settings = &w.spec.settings;

    super::read_through(model)?;
    let mut planned = None;
    let first_load = super::first_load(w, model, &mut planned)?;
    let inputs = planned.expect("the first load plans the inputs");

    w.phase(Phase::Load);
    super::read_through(model)?;
    let resident = page_cache::resident_fraction_of(&model.files).ok().flatten();
    // Start from a trimmed heap, as the leak scenario does: what a trim returns later is then the
    // model's, not what the allocator kept from the first load.
    malloc_trim();
    let peak_reset = process::reset_peak_rss();
    let before_load = w.snapshot();
    let (session, load_time_ms) = LoadedModel::load(&w.runtime, &w.spec.provider, model)?;
    let after_load = w.snapshot();
    let peak_rss_during_load_mb = if peak_reset { after_load.process.peak_rss_mb } else { None };
    let mut loaded = LoadedModel::with_inputs(session, &inputs)?;

    w.phase(Phase::FirstInference);
    let first_inference_ms = loaded.run()?;
    let after_first_inference = w.snapshot();

    w.phase(Phase::SteadyState);
    let warmup_ms = (0..settings.warmup_runs).map(|_| loaded.run()).collect::<Result<Vec<_>>>()?;
    let steady_ms = (0..settings.runs).map(|_| loaded.run()).collect::<Result<Vec<_>>>()?;
    let before_unload = w.snapshot();

    w.phase(Phase::Unload);
    let unload_time_ms = loaded.unload();
    let after_unload = w.snapshot();
    let start = Instant::now();
    if !malloc_trim() {
        w.warnings.push(Warning::NoMallocTrim);
    }
    let trim_time_ms = ms_since(start);
    let after_trim = w.snapshot();

    let memory = PhaseMemory { before_load, after_load, after_first_inference, before_unload, after_unload, after_trim };
    Ok(SingleTrial::new(vec![SingleResult {
        provider_baseline: w.provider_baseline.clone(),
        spawn_to_ready_ms: None,
        first_load: Some(first_load),
        inputs: inputs.described.clone(),
        resident_fraction_before_load: resident,
        cache_hit: resident.map(|r| r >= CACHE_HIT_FRACTION),
        load_time_ms,
        peak_rss_during_load_mb,
        first_inference_ms,
        steady: Summary::of(&steady_ms),
        warmup_ms,
        steady_ms,
        unload_time_ms,
        trim_time_ms,
        figures: UnloadFigures::from_phases(&memory),
        memory,
    }]))
}
