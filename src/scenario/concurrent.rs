//! Scenario `concurrent`: each selected model loaded, run and unloaded alone first (the worker's
//! warm-up, so the total below compares with single footprints measured in a warmed worker), then all
//! of them at once (rayon) in one process: their total footprint against the sum of their single
//! footprints, and how loads contend.

use std::time::Instant;

use anyhow::Result;
use rayon::prelude::*;

use super::TrialContext;
use crate::loaded_model::{LoadedModel, ms_since};
use crate::phase::Phase;
use crate::probe::process::delta;
use crate::probe::{GpuReading, malloc_trim};
use crate::results::{ConcurrentModel, ConcurrentResult};

pub(crate) fn run(w: &mut TrialContext) -> Result<ConcurrentResult> {
    w.phase(Phase::Warmup);
    malloc_trim();
    let before_warmup = w.snapshot();
    let mut warmup = Vec::with_capacity(w.spec.models.len());
    for model in &w.spec.models {
        super::read_through(model)?;
        let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut None)?;
        let first_inference_ms = loaded.run()?;
        loaded.unload();
        warmup.push(ConcurrentModel { model: model.id.clone(), load_time_ms, first_inference_ms });
    }
    malloc_trim();
    w.phase(Phase::ConcurrentLoad);
    let before = w.snapshot();
    let (runtime, setup) = (&w.runtime, &w.spec.provider);
    let start = Instant::now();
    let loaded: Vec<(ConcurrentModel, LoadedModel)> = w
        .spec
        .models
        .par_iter()
        .map(|model| -> Result<_> {
            let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(runtime, setup, model, &mut None)?;
            let first_inference_ms = loaded.run()?;
            Ok((ConcurrentModel { model: model.id.clone(), load_time_ms, first_inference_ms }, loaded))
        })
        .collect::<Result<_>>()?;
    let load_wall_ms = ms_since(start);
    let after_first_inference = w.snapshot();
    w.phase(Phase::Unload);
    let (per_model, models): (Vec<_>, Vec<_>) = loaded.into_iter().unzip();
    drop(models);
    let reading = GpuReading::choose([&after_first_inference]);
    let gpu = |s: &crate::probe::MemorySnapshot| reading.and_then(|r| r.read(s));
    let mut result = ConcurrentResult {
        provider_baseline: w.provider_baseline.clone(),
        warmup,
        before_warmup: Some(before_warmup),
        load_wall_ms,
        per_model,
        total_increase_mb: delta(after_first_inference.process.rss_mb, before.process.rss_mb),
        gpu_total_increase_mb: delta(gpu(&after_first_inference), gpu(&before)),
        before,
        after_first_inference,
        warmup_retained_mb: None,
        gpu_warmup_retained_mb: None,
    };
    result.rederive();
    Ok(result)
}
