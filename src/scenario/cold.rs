//! Scenario `cold`: the model's first load in the worker (its warm-up, so the cold load pays for the
//! disk and not for the worker's one-time costs), then one load after the model's files were evicted
//! from the page cache (verified with mincore), then warm loads after a full read, with their spread.

use anyhow::{Context, Result};

use super::TrialContext;
use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::probe::page_cache;
use crate::protocol::ModelSpec;
use crate::results::{ColdResult, LoadSample};
use crate::stats::Summary;
use crate::warnings::Warning;

/// Eviction counts as effective when less than this fraction of the files stayed resident.
pub(crate) const EVICTED_FRACTION: f64 = 0.05;

pub(crate) fn run(w: &mut TrialContext) -> Result<ColdResult> {
    let model = super::only_model(w)?;
    let files_mb = crate::units::mib(model.files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum());
    let mut inputs = None;
    super::read_through(model)?;
    let first = super::first_load(w, model, &mut inputs)?;
    let first_load =
        LoadSample { resident_fraction_before: None, load_time_ms: first.load_time_ms, first_inference_ms: first.first_inference_ms };

    w.phase(Phase::Evict);
    for file in &model.files {
        page_cache::evict(file).with_context(|| format!("cannot evict {} from the page cache", file.display()))?;
    }
    let after_evict = page_cache::resident_fraction_of(&model.files).ok().flatten();
    let eviction_effective = after_evict.is_some_and(|r| r < EVICTED_FRACTION);
    if !eviction_effective {
        w.warnings.push(Warning::EvictionIneffective { resident_fraction: after_evict.unwrap_or(1.0) });
    }

    w.phase(Phase::ColdLoad);
    let cold = load_and_infer(w, model, &mut inputs)?;

    w.phase(Phase::WarmLoads);
    super::read_through(model)?;
    let mut warm = Vec::with_capacity(w.spec.settings.repeats);
    for _ in 0..w.spec.settings.repeats {
        warm.push(load_and_infer(w, model, &mut inputs)?);
    }
    let warm_loads: Vec<f64> = warm.iter().map(|s| s.load_time_ms).collect();
    let warm_first: Vec<f64> = warm.iter().map(|s| s.first_inference_ms).collect();
    let warm_load = Summary::of(&warm_loads);
    let cold_to_warm_ratio = warm_load.as_ref().filter(|s| s.median > 0.0).map(|s| cold.load_time_ms / s.median);
    Ok(ColdResult {
        provider_baseline: w.provider_baseline.clone(),
        first_load: Some(first_load),
        files_mb,
        eviction_effective,
        cold,
        warm,
        warm_load,
        warm_first_inference: Summary::of(&warm_first),
        cold_to_warm_ratio,
    })
}

/// One load with its page-cache state, first inference and unload. Inputs are planned on the first
/// load and reused, so every load after it is measured the same way.
fn load_and_infer(w: &TrialContext, model: &ModelSpec, inputs: &mut Option<crate::inputs::ModelInputs>) -> Result<LoadSample> {
    let resident_fraction_before = page_cache::resident_fraction_of(&model.files).ok().flatten();
    let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, inputs)?;
    let first_inference_ms = loaded.run()?;
    loaded.unload();
    Ok(LoadSample { resident_fraction_before, load_time_ms, first_inference_ms })
}
