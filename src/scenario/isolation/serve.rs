//! The worker half of the isolation scenario: load, answer once, report ready, then wait to be
//! killed. The parent measures from outside ([`super`]: isolation, and `memory_limit` under limits).

use std::io::Read;

use anyhow::{Result, bail};

use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::protocol::{ReadyReport, WorkerMessage};
use crate::scenario::TrialContext;

pub(crate) fn run(w: &mut TrialContext) -> Result<()> {
    let model = crate::scenario::only_model(w)?;
    w.phase(Phase::Load);
    let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut None)?;
    w.phase(Phase::FirstInference);
    let first_inference_ms = loaded.run()?;
    w.phase(Phase::Ready);
    w.channel.send(&WorkerMessage::Ready(Box::new(ReadyReport {
        provider_baseline: w.provider_baseline.clone(),
        load_time_ms,
        first_inference_ms,
        providers_registered: w.spec.provider.registered_names(),
    })));
    // Hold the model until killed. If the parent goes away first, stdin closes and we leave.
    let mut sink = [0u8; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    drop(loaded);
    bail!("the parent closed the worker's stdin before killing it")
}
