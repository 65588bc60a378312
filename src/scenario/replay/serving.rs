//! A kill-worker replay's serving workers: one model in a process of its own, as a lifecycle manager
//! that isolates models runs them. `mora worker --serve JSON` starts the provider, loads the model,
//! runs it once and says `Ready`; then each `run` line on its stdin is one inference, answered with
//! `Inferred`. It never unloads: an eviction kills it. [`ServingWorker`] is the replay's handle on one.

use std::io::BufRead;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::probe::Probe;
use crate::protocol::{Channel, ModelSpec, ReadyReport, WorkerMessage};
use crate::provider::setup::ProviderSetup;
use crate::runtime::RuntimeLibrary;
use crate::supervise::{self, Ended, Flow, KillIntent, RunningWorker};

/// What a serving worker serves, given on its command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServeSpec {
    pub provider: ProviderSetup,
    pub runtime: RuntimeLibrary,
    pub model: ModelSpec,
}

/// The line that asks a serving worker for one inference.
const RUN: &str = "run";

/// How long a serving worker may take to get ready or to answer one request. The replay as a whole
/// has its own deadline; this only keeps a hung worker from holding the replay forever.
const ANSWER_WITHIN: Duration = Duration::from_secs(600);

/// `mora worker --serve JSON`: returns the process exit code.
pub(crate) fn main(json: &str) -> i32 {
    let mut channel = Channel::open();
    let spec: ServeSpec = match serde_json::from_str(json) {
        Ok(spec) => spec,
        Err(e) => {
            channel.send(&WorkerMessage::Failed { phase: Phase::Start, error: format!("--serve: {e}"), runtime_log: vec![] });
            return 2;
        }
    };
    match serve(&spec, &mut channel) {
        Ok(()) => 0,
        Err(e) => {
            let phase = channel.current_phase().clone();
            channel.send(&WorkerMessage::Failed { phase, error: format!("{e:#}"), runtime_log: vec![] });
            1
        }
    }
}

fn serve(spec: &ServeSpec, channel: &mut Channel) -> Result<()> {
    let probe = Probe { gpu_index: spec.provider.gpu_index() };
    channel.phase(Phase::ProviderInit);
    let (runtime, provider_baseline) = crate::scenario::init_provider(&spec.runtime, &spec.provider, &probe)?;
    channel.phase(Phase::Load);
    let mut inputs = None;
    let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&runtime, &spec.provider, &spec.model, &mut inputs)?;
    let first_inference_ms = loaded.run()?;
    channel.send(&WorkerMessage::Ready(Box::new(ReadyReport {
        provider_baseline,
        load_time_ms,
        first_inference_ms,
        providers_registered: spec.provider.registered_names(),
    })));
    channel.phase(Phase::Replay);
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading the replay's requests")?;
        if line.trim() != RUN {
            bail!("a serving worker takes `{RUN}` lines only, not `{line}`");
        }
        let ms = loaded.run()?;
        channel.send(&WorkerMessage::Inferred { ms });
    }
    // stdin closed: the replay is over (it normally kills first).
    Ok(())
}

/// The replay's handle on one serving worker.
pub(crate) struct ServingWorker {
    worker: RunningWorker,
}

impl ServingWorker {
    /// Starts a serving worker; call from the thread that outlives it (its parent-death signal fires
    /// when that thread ends), then [`ServingWorker::wait_ready`].
    pub(crate) fn start(spec: &ServeSpec) -> Result<ServingWorker> {
        let json = serde_json::to_string(spec).context("cannot serialise a serving worker's spec")?;
        let worker = supervise::spawn(&["--serve".to_string(), json], &[])
            .with_context(|| format!("cannot start a serving worker for {}", spec.model.id))?;
        Ok(ServingWorker { worker })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.worker.pid
    }

    /// Waits for the worker's model to be loaded and to have answered once; returns spawn-to-ready
    /// in ms and what the worker measured (its load and first inference).
    pub(crate) fn wait_ready(&mut self) -> Result<(f64, ReadyReport)> {
        let mut ready = None;
        let mut failed = None;
        let ended = self.worker.supervise(Instant::now() + ANSWER_WITHIN, |_, message| match message {
            WorkerMessage::Ready(r) => {
                ready = Some(*r);
                Flow::Stop
            }
            WorkerMessage::Failed { error, .. } => {
                failed = Some(error);
                Flow::Stop
            }
            _ => Flow::Continue,
        });
        match (ready, failed) {
            (Some(r), _) => {
                let ms = self.worker.ready_after_ms.ok_or_else(|| anyhow!("the serving worker's ready time was not recorded"))?;
                Ok((ms, r))
            }
            (None, Some(error)) => bail!("the serving worker failed: {error}"),
            (None, None) => bail!("the serving worker {}", self.describe(ended)),
        }
    }

    /// One inference; returns its time as the worker measured it.
    pub(crate) fn run(&mut self) -> Result<f64> {
        self.worker.tell(RUN)?;
        let mut answer = None;
        let ended = self.worker.supervise(Instant::now() + ANSWER_WITHIN, |_, message| match message {
            WorkerMessage::Inferred { ms } => {
                answer = Some(Ok(ms));
                Flow::Stop
            }
            WorkerMessage::Failed { error, .. } => {
                answer = Some(Err(anyhow!("the serving worker failed: {error}")));
                Flow::Stop
            }
            _ => Flow::Continue,
        });
        answer.unwrap_or_else(|| Err(anyhow!("the serving worker {}", self.describe(ended))))
    }

    fn describe(&self, ended: Ended) -> String {
        let tail = self.worker.stderr_tail();
        let how = match ended {
            Ended::TimedOut => format!("did not answer within {} s", ANSWER_WITHIN.as_secs()),
            Ended::Interrupted => "was interrupted".to_string(),
            Ended::Closed | Ended::Stopped => format!("ended in {}", self.worker.last_phase),
        };
        if tail.trim().is_empty() { how } else { format!("{how}; its stderr ended with:\n{tail}") }
    }

    /// The eviction: SIGKILL, at once (as the simulation's kill is); the process is reaped on a
    /// thread of its own so the next load does not wait for it.
    pub(crate) fn kill(mut self) {
        self.worker.kill(KillIntent::Deliberate);
        std::thread::spawn(move || drop(self.worker.reap()));
    }
}
