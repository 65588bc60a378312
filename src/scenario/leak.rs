//! Scenario `leak`: in one worker, a first cycle (the worker's warm-up) and then `--cycles` cycles of
//! load, infer, unload, malloc_trim; memory after each unload and each trim, for RSS and VRAM. The
//! growth after the first cycle, its slope and the proof of concept's verdict are derived from them
//! (`results::derive`); what the first cycle keeps is reported apart as a one-time cost.

use anyhow::Result;

use super::TrialContext;
use crate::advice::leak_verdict;
use crate::fault;
use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::probe::malloc_trim;
use crate::results::{CycleSample, LeakResult, LeakSeries};

pub(crate) fn run(w: &mut TrialContext) -> Result<LeakResult> {
    let model = super::only_model(w)?;
    super::read_through(model)?;
    malloc_trim();
    let baseline = w.snapshot();
    let mut inputs = None;
    let total = w.spec.settings.cycles + 1;
    let mut cycles = Vec::with_capacity(total);
    // Only filled when a test asks for a deliberate leak (MORA_FAULT).
    let mut kept_outputs = Vec::new();
    let mut kept_sessions = Vec::new();
    for cycle in 1..=total {
        w.phase(Phase::Cycle(cycle));
        let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs)?;
        let (first_inference_ms, outputs) = loaded.run_keeping_outputs()?;
        let after_first_inference = w.snapshot();
        if fault::keep_outputs() {
            kept_outputs.push(outputs);
        } else {
            drop(outputs);
        }
        let unload_time_ms = if fault::keep_sessions() {
            kept_sessions.push(loaded);
            0.0
        } else {
            loaded.unload()
        };
        let after_unload = w.snapshot();
        malloc_trim();
        let after_trim = w.snapshot();
        cycles.push(CycleSample { load_time_ms, first_inference_ms, unload_time_ms, after_first_inference, after_unload, after_trim });
    }
    drop(kept_outputs);
    drop(kept_sessions);
    let rss = baseline.process.rss_mb.and_then(|b| {
        let read = |f: fn(&CycleSample) -> Option<f64>| cycles.iter().map(f).collect::<Option<Vec<_>>>();
        LeakSeries::derive(b, read(|c| c.after_unload.process.rss_mb)?, read(|c| c.after_trim.process.rss_mb)?, &leak_verdict)
    });
    let mut result = LeakResult {
        provider_baseline: w.provider_baseline.clone(),
        cycles,
        baseline,
        rss: rss.ok_or_else(|| anyhow::anyhow!("no RSS readings on this platform: the leak scenario needs them"))?,
        gpu: None,
    };
    result.rederive(&leak_verdict);
    Ok(result)
}
