//! The scenarios that run inside a worker, one file each. Isolation runs on the parent's side
//! (`crate::isolation`); its worker half is `serve`.

pub mod cold;
pub mod concurrent;
pub mod leak;
pub mod serve;
pub mod single;

use anyhow::{Result, bail};

use crate::probe::{MemorySnapshot, Probe};
use crate::protocol::{Channel, ModelSpec, TrialSpec};
use crate::results::ProviderBaseline;
use crate::runtime::Runtime;

/// What a scenario works with inside the worker: the trial, the runtime, the probe, the channel to
/// the parent, and what it has to report besides its measurements.
pub struct TrialContext<'a> {
    pub spec: &'a TrialSpec,
    pub runtime: Runtime,
    pub probe: Probe,
    pub channel: &'a mut Channel,
    pub warnings: Vec<String>,
    pub provider_baseline: ProviderBaseline,
}

impl TrialContext<'_> {
    /// Enters a phase: the parent hears of it, and a crash from here on is reported as in this phase.
    pub fn phase(&mut self, phase: &str) {
        self.channel.phase(phase);
        fault::inject(phase);
    }

    pub fn snapshot(&self) -> MemorySnapshot {
        self.probe.snapshot()
    }
}

/// The one model of a single-model scenario.
pub fn only_model<'a>(worker: &TrialContext<'a>) -> Result<&'a ModelSpec> {
    match worker.spec.models.as_slice() {
        [model] => Ok(model),
        models => bail!("scenario {} takes one model, got {}", worker.spec.scenario, models.len()),
    }
}

/// Faults injected on purpose through `MORA_FAULT`, so the tests can prove that a crashing, hanging or
/// leaking trial is reported as such and never takes the run down. Unset in normal use.
pub mod fault {
    /// `crash:PHASE` aborts, `exit:PHASE` exits with code 3, `hang:PHASE` sleeps forever, each on
    /// entering PHASE (a prefix match: `crash:cycle` hits every cycle).
    pub fn inject(phase: &str) {
        let Ok(spec) = std::env::var("MORA_FAULT") else { return };
        for fault in spec.split(',') {
            let Some((kind, at)) = fault.split_once(':') else { continue };
            if !phase.starts_with(at) {
                continue;
            }
            match kind {
                "crash" => std::process::abort(),
                "exit" => std::process::exit(3),
                "hang" => loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                },
                _ => {}
            }
        }
    }

    /// `keep-outputs`: the leak scenario keeps every cycle's outputs alive, a deliberate leak.
    pub fn keep_outputs() -> bool {
        std::env::var("MORA_FAULT").is_ok_and(|f| f.split(',').any(|x| x == "keep-outputs"))
    }

    /// `keep-sessions`: the leak scenario never drops its sessions, a deliberate leak of every model.
    pub fn keep_sessions() -> bool {
        std::env::var("MORA_FAULT").is_ok_and(|f| f.split(',').any(|x| x == "keep-sessions"))
    }
}
