//! Running one trial in a worker process and turning how it ended into an [`Outcome`].

use std::time::{Duration, Instant};

use crate::phase::Phase;
use crate::protocol::{TrialSpec, WorkerMessage};
use crate::results::{Measurements, Outcome, SingleTrial, Termination, WorkerInfo};
use crate::runtime::RuntimeLogLine;
use crate::supervise::{self, Exit, Flow, KillIntent, RunningWorker};

/// What a worker trial produced, before it becomes a [`crate::results::TrialRecord`].
pub(crate) struct WorkerRun {
    pub outcome: Outcome,
    pub worker: WorkerInfo,
    pub measurements: Option<Measurements>,
    pub providers_registered: Vec<String>,
    pub runtime_log: Vec<RuntimeLogLine>,
    pub warnings: Vec<crate::warnings::Warning>,
    /// From the spawn to the worker's `Ready` (its first load answered), measured here.
    pub spawn_to_ready_ms: Option<f64>,
}

impl WorkerRun {
    pub(crate) fn failed(outcome: Outcome) -> WorkerRun {
        WorkerRun {
            outcome,
            worker: WorkerInfo::default(),
            measurements: None,
            providers_registered: vec![],
            runtime_log: vec![],
            warnings: vec![],
            spawn_to_ready_ms: None,
        }
    }
}

/// The arguments that make `mora worker` run `spec`.
pub(crate) fn worker_args(spec: &TrialSpec) -> Vec<String> {
    vec!["--spec".into(), serde_json::to_string(spec).expect("a trial spec always serialises")]
}

/// Runs a worker-side scenario to its end, its deadline or an interrupt.
pub(crate) fn run_in_worker(spec: &TrialSpec, timeout: Duration) -> WorkerRun {
    run_in_worker_with_env(spec, timeout, &[])
}

/// The same, with variables set in the worker's environment (LD_PRELOAD of an allocator).
pub(crate) fn run_in_worker_with_env(spec: &TrialSpec, timeout: Duration, env: &[(String, String)]) -> WorkerRun {
    let mut worker = match supervise::spawn(&worker_args(spec), env) {
        Ok(w) => w,
        Err(e) => return WorkerRun::failed(Outcome::SpawnFailed { message: format!("{e:#}") }),
    };
    let mut report = Report::default();
    worker.supervise(Instant::now() + timeout, |_, message| {
        report.take(message);
        Flow::Continue
    });
    finish(worker, report, timeout)
}

/// What the worker said before it ended.
#[derive(Default)]
pub(crate) struct Report {
    pub done: Option<Done>,
    pub failed: Option<Failed>,
}

/// The worker could not run its trial: where, why, and ONNX Runtime's log up to then.
pub(crate) struct Failed {
    pub phase: Phase,
    pub error: String,
    pub runtime_log: Vec<RuntimeLogLine>,
}

pub(crate) struct Done {
    pub measurements: Measurements,
    pub providers_registered: Vec<String>,
    pub runtime_log: Vec<RuntimeLogLine>,
    pub warnings: Vec<crate::warnings::Warning>,
}

impl Report {
    pub(crate) fn take(&mut self, message: WorkerMessage) {
        match message {
            WorkerMessage::Done { measurements, providers_registered, runtime_log, warnings } => {
                self.done = Some(Done { measurements: *measurements, providers_registered, runtime_log, warnings });
            }
            WorkerMessage::Failed { phase, error, runtime_log } => self.failed = Some(Failed { phase, error, runtime_log }),
            _ => {}
        }
    }
}

/// Runs the single scenario in `workers` fresh workers one after the other, each from its own spawn,
/// and keeps them all: a fresh worker's figures (first load, first inference, spawn-to-ready) vary
/// from process to process, and one sample cannot carry a recommendation. The first worker that does
/// not finish ends the trial with its outcome; the workers that finished stay in the record.
pub(crate) fn run_in_fresh_workers(spec: &TrialSpec, timeout: Duration, workers: usize) -> WorkerRun {
    let mut finished: Vec<crate::results::SingleResult> = Vec::new();
    let mut merged: Option<WorkerRun> = None;
    for _ in 0..workers.max(1) {
        let mut run = run_in_worker(spec, timeout);
        let measurements = run.measurements.take();
        if let Some(Measurements::Single(mut m)) = measurements {
            for worker in &mut m.workers {
                worker.spawn_to_ready_ms = run.spawn_to_ready_ms;
            }
            finished.extend(m.workers);
        }
        let ok = run.outcome.is_ok();
        merged = Some(match merged {
            None => run,
            Some(mut all) => {
                all.outcome = run.outcome;
                all.worker.absorb(&run.worker);
                for w in run.warnings {
                    if !all.warnings.contains(&w) {
                        all.warnings.push(w);
                    }
                }
                for line in run.runtime_log {
                    if !all.runtime_log.contains(&line) {
                        all.runtime_log.push(line);
                    }
                }
                all
            }
        });
        if !ok || supervise::interrupted() {
            break;
        }
    }
    let mut run = merged.expect("at least one worker ran");
    if !finished.is_empty() {
        run.measurements = Some(Measurements::Single(Box::new(SingleTrial::new(finished))));
    }
    run
}

/// Runs the memory-levers scenario: one worker per memory configuration (an allocator is chosen when
/// a process starts), each with its own environment; a configuration that cannot be tried here (an
/// allocator not installed) or whose worker fails is recorded with the reason, and the others go on.
pub(crate) fn run_memory_levers(spec: &TrialSpec, timeout: Duration) -> WorkerRun {
    use crate::levers::memory::MemoryConfig;
    use crate::results::{MemoryConfigResult, MemoryLeversResult};
    let mut configs = Vec::new();
    let mut merged: Option<WorkerRun> = None;
    let mut baseline = None;
    for config in MemoryConfig::all(spec.provider.provider) {
        if supervise::interrupted() {
            break;
        }
        let not_tried = |why: String| MemoryConfigResult {
            config,
            label: config.to_string(),
            allocator: None,
            error: Some(why),
            load_ms: None,
            memory_increase_mb: None,
            gpu_memory_increase_mb: None,
            reclaimed_pct: None,
            reclaimed_after_trim_pct: None,
            gpu_reclaimed_pct: None,
            load_without_trim_ms: None,
            load_after_trim_ms: None,
            reload_from_memory_ms: None,
            replica_extra_mb: None,
            replica_extra_shared_mb: None,
            replica_extra_gpu_mb: None,
        };
        let env = match config.preload() {
            Ok(Some(path)) => vec![("LD_PRELOAD".to_string(), path.display().to_string())],
            Ok(None) => vec![],
            Err(why) => {
                configs.push(not_tried(format!("{why:#}")));
                continue;
            }
        };
        let spec = TrialSpec { memory_config: Some(config), ..spec.clone() };
        let mut run = run_in_worker_with_env(&spec, timeout, &env);
        match run.measurements.take() {
            Some(Measurements::MemoryLevers(m)) if run.outcome.is_ok() => {
                baseline.get_or_insert(m.provider_baseline);
                configs.extend(m.configs);
            }
            _ => configs.push(not_tried(run.outcome.summary())),
        }
        merged = Some(match merged {
            None => run,
            Some(mut all) => {
                all.worker.absorb(&run.worker);
                all.warnings.extend(run.warnings.into_iter().filter(|w| !all.warnings.contains(w)).collect::<Vec<_>>());
                all
            }
        });
    }
    let Some(mut run) = merged else {
        return WorkerRun::failed(Outcome::Error { phase: Phase::Start, message: "no memory configuration could be tried".into() });
    };
    run.outcome = if supervise::interrupted() { Outcome::Interrupted { phase: Phase::MemoryLevers } } else { Outcome::Ok };
    match baseline {
        Some(provider_baseline) => {
            run.measurements = Some(Measurements::MemoryLevers(Box::new(MemoryLeversResult { provider_baseline, configs })))
        }
        None => {
            run.outcome = Outcome::Error {
                phase: Phase::MemoryLevers,
                message: configs.iter().filter_map(|c| c.error.clone()).collect::<Vec<_>>().join("; "),
            }
        }
    }
    run
}

/// Reaps the worker and assembles the run from its report and exit.
pub(crate) fn finish(worker: RunningWorker, report: Report, timeout: Duration) -> WorkerRun {
    let (pid, intent, phase, ready) = (worker.pid, worker.kill_intent, worker.last_phase.clone(), worker.ready_after_ms);
    let (exit, stderr_tail) = worker.reap();
    let info = WorkerInfo { pid: Some(pid), wall_ms: exit.wall_ms, peak_rss_mb: exit.peak_rss_mb, count: 1 };
    let ending = Ending { intent, interrupted: supervise::interrupted(), phase: &phase, timeout };
    let outcome = classify(&exit, &ending, report.done.is_some(), report.failed.as_ref(), &stderr_tail);
    let mut run = WorkerRun::failed(outcome);
    run.worker = info;
    run.spawn_to_ready_ms = ready;
    if let Some(done) = report.done {
        if run.outcome.is_ok() {
            run.measurements = Some(done.measurements);
        }
        run.providers_registered = done.providers_registered;
        run.runtime_log = done.runtime_log;
        run.warnings = done.warnings;
    } else if let Some(failed) = report.failed {
        run.runtime_log = failed.runtime_log;
    }
    run
}

/// What mora knew about a worker's end besides its exit status.
pub(crate) struct Ending<'a> {
    /// Why mora ended it, if it did.
    pub intent: Option<KillIntent>,
    /// Whether mora was being interrupted: a second Ctrl-C (or `timeout`'s SIGTERM to mora and its
    /// group) kills workers from the signal handler, before the loop can record an intent.
    pub interrupted: bool,
    pub phase: &'a Phase,
    pub timeout: Duration,
}

/// How a worker ended, from mora's intent first, then what the worker said, then its exit status.
pub(crate) fn classify(exit: &Exit, ending: &Ending, got_done: bool, failed: Option<&Failed>, stderr_tail: &str) -> Outcome {
    let last_phase = ending.phase;
    match ending.intent {
        Some(KillIntent::TimedOut) => {
            return Outcome::TimedOut { phase: last_phase.clone(), after_s: ending.timeout.as_secs_f64(), stderr_tail: stderr_tail.into() };
        }
        Some(KillIntent::Interrupted) => return Outcome::Interrupted { phase: last_phase.clone() },
        Some(KillIntent::Deliberate) | None => {}
    }
    if got_done && exit.succeeded() {
        return Outcome::Ok;
    }
    if ending.interrupted && ending.intent.is_none() {
        return Outcome::Interrupted { phase: last_phase.clone() };
    }
    if let Some(failed) = failed {
        if exit.signal().is_none() {
            return Outcome::Error { phase: failed.phase.clone(), message: failed.error.clone() };
        }
    }
    let hint = match &exit.termination {
        Termination::Signal { number, .. } if ending.intent != Some(KillIntent::Deliberate) => supervise::signal_hint(*number),
        Termination::ExitCode { code: 0 } => Some("the worker exited without reporting a result".into()),
        _ => None,
    };
    Outcome::Crashed { phase: last_phase.clone(), termination: exit.termination.clone(), hint, stderr_tail: stderr_tail.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: Option<i32>, signal: Option<i32>) -> Exit {
        let termination = match (code, signal) {
            (Some(code), _) => Termination::ExitCode { code },
            (None, Some(number)) => Termination::Signal { number, name: supervise::signal_name(number) },
            (None, None) => Termination::Unknown,
        };
        Exit { termination, peak_rss_mb: Some(10.0), wall_ms: 5.0 }
    }

    const T: Duration = Duration::from_secs(60);

    fn ending(intent: Option<KillIntent>, phase: &Phase) -> Ending<'_> {
        Ending { intent, interrupted: false, phase, timeout: T }
    }

    #[test]
    fn a_clean_exit_with_a_result_is_ok() {
        assert_eq!(classify(&exit(Some(0), None), &ending(None, &Phase::Report), true, None, ""), Outcome::Ok);
    }

    #[test]
    fn a_reported_error_is_an_error_not_a_crash() {
        let failed = Failed { phase: Phase::Load, error: "no such file".into(), runtime_log: vec![] };
        let o = classify(&exit(Some(1), None), &ending(None, &Phase::Load), false, Some(&failed), "");
        assert_eq!(o, Outcome::Error { phase: Phase::Load, message: "no such file".into() });
    }

    #[test]
    fn an_unexpected_sigkill_suggests_the_oom_killer() {
        let o = classify(&exit(None, Some(9)), &ending(None, &Phase::Load), false, None, "tail");
        let Outcome::Crashed { phase, termination, hint, stderr_tail } = o else { panic!("{o:?}") };
        assert_eq!(phase, Phase::Load);
        assert_eq!(termination, Termination::Signal { number: 9, name: "SIGKILL".into() });
        assert!(hint.unwrap().contains("OOM"));
        assert_eq!(stderr_tail, "tail");
    }

    #[test]
    fn intent_decides_before_the_exit_status() {
        let o = classify(&exit(None, Some(9)), &ending(Some(KillIntent::TimedOut), &Phase::SteadyState), false, None, "");
        assert!(matches!(o, Outcome::TimedOut { phase: Phase::SteadyState, after_s, .. } if after_s == 60.0), "{o:?}");
        let o = classify(&exit(None, Some(15)), &ending(Some(KillIntent::Interrupted), &Phase::Load), false, None, "");
        assert_eq!(o, Outcome::Interrupted { phase: Phase::Load });
    }

    #[test]
    fn a_worker_killed_by_the_signal_handler_was_interrupted_not_oom_killed() {
        // Two SIGINTs 1 ms apart: the handler SIGKILLs the worker before the loop records an intent.
        let mut e = ending(None, &Phase::Load);
        e.interrupted = true;
        assert_eq!(classify(&exit(None, Some(9)), &e, false, None, ""), Outcome::Interrupted { phase: Phase::Load });
        // A trial that finished before the interrupt keeps its result.
        assert_eq!(classify(&exit(Some(0), None), &e, true, None, ""), Outcome::Ok);
    }

    #[test]
    fn exit_zero_without_a_result_is_a_crash_with_a_hint() {
        let o = classify(&exit(Some(0), None), &ending(None, &Phase::Load), false, None, "");
        assert!(matches!(o, Outcome::Crashed { hint: Some(ref h), .. } if h.contains("without reporting")), "{o:?}");
    }

    #[test]
    fn a_nonzero_exit_without_a_message_is_a_crash_with_its_code() {
        let o = classify(&exit(Some(3), None), &ending(None, &Phase::FirstInference), false, None, "");
        assert!(matches!(o, Outcome::Crashed { termination: Termination::ExitCode { code: 3 }, .. }), "{o:?}");
        assert_eq!(o.summary(), "crashed in first_inference (exit code 3)");
    }
}
