//! Scenario `idle`: a warm session's next request after each idle gap. Users of ONNX Runtime report
//! that a model idle for a few seconds answers far slower than a busy one (thread pools that stop
//! spinning, caches and pages gone cold); this says from which gap a keep-alive would pay.

use std::time::Duration;

use anyhow::Result;

use super::TrialContext;
use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::results::{IdleGap, IdleResult};
use crate::stats::Summary;

/// Requests after each gap.
pub(crate) const SAMPLES_PER_GAP: usize = 3;

pub(crate) fn run(w: &mut TrialContext) -> Result<IdleResult> {
    let model = super::only_model(w)?;
    super::read_through(model)?;
    let mut inputs = None;
    super::first_load(w, model, &mut inputs)?;
    w.phase(Phase::SteadyState);
    let (mut loaded, _) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs)?;
    for _ in 0..w.spec.settings.warmup_runs {
        loaded.run()?;
    }
    let steady: Vec<f64> = (0..w.spec.settings.runs).map(|_| loaded.run()).collect::<Result<_>>()?;
    let mut gaps = Vec::new();
    for &gap_s in &w.spec.settings.idle_gaps_s {
        w.phase(Phase::Idle { gap_s });
        let mut samples_ms = Vec::with_capacity(SAMPLES_PER_GAP);
        for _ in 0..SAMPLES_PER_GAP {
            // Busy first, as a served model is between gaps, then idle, then the request.
            loaded.run()?;
            std::thread::sleep(Duration::from_secs_f64(gap_s));
            samples_ms.push(loaded.run()?);
        }
        gaps.push(IdleGap { gap_s, latency: Summary::of(&samples_ms), samples_ms });
    }
    Ok(IdleResult { provider_baseline: w.provider_baseline.clone(), steady: Summary::of(&steady), gaps })
}
