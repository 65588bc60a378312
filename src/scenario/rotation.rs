//! Scenario `rotation`: one worker loads, runs once, unloads and trims every selected model in turn,
//! for `--cycles` rounds, as a lifecycle manager that cycles many models through one worker does.
//! Round 1 shows what each new model adds to the worker for good (is the one-time cost the worker's,
//! or each new set of operators'?); the rounds after it, whether cycling different models grows.

use anyhow::Result;

use super::TrialContext;
use crate::advice::leak_verdict;
use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::probe::malloc_trim;
use crate::results::{RotationResult, RotationStep};

pub(crate) fn run(w: &mut TrialContext) -> Result<RotationResult> {
    for model in &w.spec.models {
        super::read_through(model)?;
    }
    malloc_trim();
    let baseline = w.snapshot();
    let mut inputs: Vec<_> = w.spec.models.iter().map(|_| None).collect();
    let mut steps = Vec::new();
    for round in 1..=w.spec.settings.cycles {
        for (index, model) in w.spec.models.iter().enumerate() {
            w.phase(Phase::Round { round, model: model.id.clone() });
            let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs[index])?;
            let first_inference_ms = loaded.run()?;
            let after_first_inference = w.snapshot();
            loaded.unload();
            malloc_trim();
            let after_trim = w.snapshot();
            steps.push(RotationStep {
                round,
                model: model.id.clone(),
                load_time_ms,
                first_inference_ms,
                after_first_inference,
                after_trim,
            });
        }
    }
    let mut result =
        RotationResult { provider_baseline: w.provider_baseline.clone(), baseline, steps, rss: None, gpu: None, per_model: vec![] };
    result.rederive(&leak_verdict);
    Ok(result)
}
