//! `mora simulate --replay`, the parent's side: a simulated plan run for real on this machine. The
//! trace and the plan's decisions go to a worker in a file ([`ReplaySpec`]; a trace does not fit a
//! command line); the worker (`crate::scenario::replay`) loads, evicts and infers with the real
//! models and reports a [`Run`] in the simulation's own terms. It runs in one supervised worker, so a
//! crash, a hang or the OOM killer costs the replay and nothing else.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::protocol::{ModelSpec, ReplayReport, WorkerMessage};
use crate::provider::setup::ProviderSetup;
use crate::results::{Outcome, write_atomic};
use crate::runtime::RuntimeLibrary;
use crate::simulate::costs::UnloadMode;
use crate::simulate::plan::{Action, Expiry, Plan};
use crate::simulate::run::Run;
use crate::simulate::trace::Trace;
use crate::supervise::{self, Flow};
use crate::trial::{self, Ending, Report};

/// How often the worker reads its memory during the replay.
pub(crate) const SAMPLE_EVERY_MS: u64 = 10;

/// What the worker replays, written to a file it is given the path of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReplaySpec {
    pub provider: ProviderSetup,
    pub runtime: RuntimeLibrary,
    /// Indexed as the trace's models.
    pub models: Vec<ModelSpec>,
    /// Loaded and run once before the first request.
    pub preloads: Vec<usize>,
    pub requests: Vec<ReplayRequest>,
    /// Keep-alives that run out, in time order (each after the requests at or before its time).
    #[serde(default)]
    pub expiries: Vec<Expiry>,
    pub sample_every_ms: u64,
    /// In-process: one worker holds the models; kill-worker: a serving worker per loaded model,
    /// killed on eviction.
    #[serde(default)]
    pub mode: UnloadMode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReplayRequest {
    pub time_ms: f64,
    pub model: usize,
    pub action: Action,
}

impl ReplaySpec {
    pub(crate) fn new(
        provider: ProviderSetup,
        runtime: RuntimeLibrary,
        models: Vec<ModelSpec>,
        trace: &Trace,
        plan: &Plan,
        mode: UnloadMode,
    ) -> ReplaySpec {
        let requests = trace
            .requests
            .iter()
            .zip(&plan.actions)
            .map(|(r, a)| ReplayRequest { time_ms: r.time_ms, model: r.model, action: a.clone() })
            .collect();
        ReplaySpec {
            provider,
            runtime,
            models,
            preloads: plan.preloads.clone(),
            requests,
            expiries: plan.expiries.clone(),
            sample_every_ms: SAMPLE_EVERY_MS,
            mode,
        }
    }
}

/// Writes the spec next to nothing else (a file of its own in the temporary folder), runs the worker,
/// and returns its report, or how it ended when it did not report (crash, timeout, error).
pub(crate) fn run(spec: &ReplaySpec, timeout: Duration) -> Result<ReplayReport> {
    let path = spec_path();
    write_atomic(&path, &serde_json::to_vec(spec).context("cannot serialise the replay")?)?;
    let result = run_from(&path, timeout);
    let _ = std::fs::remove_file(&path);
    result
}

fn spec_path() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("mora-replay-{}-{nanos}.json", std::process::id()))
}

fn run_from(path: &Path, timeout: Duration) -> Result<ReplayReport> {
    let args = vec!["--replay".to_string(), path.display().to_string()];
    let mut worker = supervise::spawn(&args, &[]).context("cannot start the replay's worker")?;
    let mut report = Report::default();
    let mut replayed = None;
    worker.supervise(Instant::now() + timeout, |_, message| {
        match message {
            WorkerMessage::Replay(r) => replayed = Some(*r),
            other => report.take(other),
        }
        Flow::Continue
    });
    let (intent, phase) = (worker.kill_intent, worker.last_phase.clone());
    let (exit, tail) = worker.reap();
    let ending = Ending { intent, interrupted: supervise::interrupted(), phase: &phase, timeout };
    match trial::classify(&exit, &ending, replayed.is_some(), report.failed.as_ref(), &tail) {
        Outcome::Ok => Ok(replayed.expect("classified ok only with a report")),
        outcome => bail!("{}{}", outcome.summary(), details(&outcome)),
    }
}

/// The worker's last words where the summary does not carry them.
fn details(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Crashed { stderr_tail, .. } | Outcome::TimedOut { stderr_tail, .. } if !stderr_tail.trim().is_empty() => {
            format!("\nits stderr ended with:\n{stderr_tail}")
        }
        _ => String::new(),
    }
}

/// How long a replay may take: five times the simulated makespan and pre-warming (a machine shared
/// with other work can be that much slower than its profile), plus two minutes for the worker's start.
pub(crate) fn timeout_for(simulated: &Run) -> Duration {
    let end_ms = simulated.served.iter().map(|s| s.end_ms).fold(0.0, f64::max);
    Duration::from_secs_f64(((end_ms + simulated.preload_ms) * 5.0 / 1000.0 + 120.0).min(7.0 * 24.0 * 3600.0))
}
