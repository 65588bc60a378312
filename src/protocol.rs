//! What the parent tells a worker (a [`TrialSpec`] on its command line) and what the worker tells the
//! parent ([`WorkerMessage`]s, one JSON object per line on file descriptor 3). Results travel on a
//! descriptor of their own so ONNX Runtime's log lines on stdout or stderr cannot corrupt them.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::inputs::InputSettings;
use crate::phase::Phase;
use crate::provider::cuda::checks::CudaDiagnosis;
use crate::provider::setup::ProviderSetup;
use crate::results::{Measurements, ProviderBaseline, Scenario, TrialSettings};
use crate::runtime::{RuntimeLibrary, RuntimeLogLine};
use crate::simulate::costs::MeasuredTimes;
use crate::simulate::run::Run;

/// The descriptor a worker writes its messages to.
pub(crate) const RESULT_FD: i32 = 3;

/// Everything a worker needs to run one trial, with no access to models.yaml.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrialSpec {
    pub trial_id: String,
    pub scenario: Scenario,
    pub provider: ProviderSetup,
    pub runtime: RuntimeLibrary,
    pub models: Vec<ModelSpec>,
    pub settings: TrialSettings,
    /// The memory-levers scenario's configuration for this worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_config: Option<crate::levers::memory::MemoryConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSpec {
    pub id: String,
    pub path: PathBuf,
    /// Every file the model reads (the ONNX file and its external data): evicted and read through
    /// as a set by the cold scenario.
    pub files: Vec<PathBuf>,
    pub inputs: InputSettings,
}

/// A message from the worker to the parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum WorkerMessage {
    /// The worker entered a phase; a crash is reported as happening in the last one.
    Phase { phase: Phase },
    /// Isolation: the model is loaded and has answered; the parent may now measure and kill.
    Ready(Box<ReadyReport>),
    /// The trial finished; the worker exits next.
    Done {
        measurements: Box<Measurements>,
        providers_registered: Vec<String>,
        runtime_log: Vec<RuntimeLogLine>,
        warnings: Vec<crate::warnings::Warning>,
    },
    /// The trial could not be run (an error, not a crash); the worker exits next.
    Failed { phase: Phase, error: String, runtime_log: Vec<RuntimeLogLine> },
    /// The answer to `mora worker --probe-provider`.
    ProviderProbe { report: Box<crate::provider::diagnosis::ProbeReport> },
    /// The answer to `mora worker --probe-cuda`.
    CudaProbe { diagnosis: Box<CudaDiagnosis> },
    /// What `mora worker --replay FILE` measured (`mora simulate --replay`).
    Replay(Box<ReplayReport>),
    /// A serving worker's answer to one request (a kill-worker replay): the inference's time.
    Inferred { ms: f64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReadyReport {
    pub provider_baseline: ProviderBaseline,
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
    pub providers_registered: Vec<String>,
}

/// What the worker measured in a replay (`mora simulate --replay`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReplayReport {
    pub provider_baseline: ProviderBaseline,
    pub providers_registered: Vec<String>,
    /// Memory in the run counts from the worker's RSS (VRAM on CUDA) before the provider started,
    /// as the profile's baseline does.
    pub run: Run,
    /// The worker's own RSS before the provider started (what the run's memory is counted from).
    pub process_start_mb: Option<f64>,
    /// Each model's times measured again alone right after the trace, under the same conditions.
    pub measured_times: Vec<MeasuredTimes>,
    pub runtime_log: Vec<RuntimeLogLine>,
}

/// The worker's end of the message channel.
pub(crate) struct Channel {
    out: Box<dyn Write + Send>,
    phase: Phase,
}

impl Channel {
    /// Descriptor 3 when the parent opened it; stdout otherwise (a worker run by hand).
    pub(crate) fn open() -> Channel {
        use std::os::fd::FromRawFd;
        // SAFETY: fcntl(F_GETFD) only asks whether the descriptor is open.
        let valid = unsafe { libc::fcntl(RESULT_FD, libc::F_GETFD) } != -1;
        let out: Box<dyn Write + Send> = if valid {
            // SAFETY: descriptor 3 is open (checked) and was given to this process for its messages
            // alone: nothing else in it owns or closes it.
            Box::new(unsafe { std::fs::File::from_raw_fd(RESULT_FD) })
        } else {
            Box::new(std::io::stdout())
        };
        Channel { out, phase: Phase::Start }
    }

    #[cfg(test)]
    fn to_writer(out: Box<dyn Write + Send>) -> Channel {
        Channel { out, phase: Phase::Start }
    }

    pub(crate) fn phase(&mut self, phase: Phase) {
        self.send(&WorkerMessage::Phase { phase: phase.clone() });
        self.phase = phase;
    }

    pub(crate) fn current_phase(&self) -> &Phase {
        &self.phase
    }

    pub(crate) fn send(&mut self, message: &WorkerMessage) {
        // The parent treats a worker that cannot report as failed; nothing better to do here.
        if let Ok(mut line) = serde_json::to_vec(message) {
            line.push(b'\n');
            let _ = self.out.write_all(&line);
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn messages_are_one_json_object_per_line() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut ch = Channel::to_writer(Box::new(Shared(Arc::clone(&buf))));
        ch.phase(Phase::Load);
        ch.send(&WorkerMessage::Failed { phase: Phase::Load, error: "boom\nsecond line".into(), runtime_log: vec![] });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let first: WorkerMessage = serde_json::from_str(lines[0]).unwrap();
        assert!(matches!(first, WorkerMessage::Phase { phase: Phase::Load }));
        let second: WorkerMessage = serde_json::from_str(lines[1]).unwrap();
        assert!(matches!(second, WorkerMessage::Failed { error, .. } if error.contains("second line")));
        assert_eq!(ch.current_phase(), &Phase::Load);
    }
}
