//! Scenario `isolation`, on the parent's side: start a worker that loads and answers, measure the
//! system (and the GPU) before the spawn, while loaded and after the kill, and time spawn-to-ready.
//! Its worker half is [`serve`](mod@serve); [`memory_limit`], the parent's side of scenario
//! `memory-limit`, runs the same `serve` worker under memory limits.

pub mod memory_limit;
pub mod serve;

use std::time::{Duration, Instant};

use crate::probe::process::delta;
use crate::probe::{MemorySnapshot, ProcessMemory, SystemMemory, gpu};
use crate::protocol::{ReadyReport, TrialSpec, WorkerMessage};
use crate::results::{IsolationResult, Measurements, Outcome};
use crate::stats::percentage;
use crate::supervise::{self, Flow, KillIntent, RunningWorker};
use crate::trial::{self, Report, WorkerRun};

/// How long to wait for memory to settle after the worker exits.
const SETTLE: Duration = Duration::from_secs(5);

pub(crate) fn run(spec: &TrialSpec, timeout: Duration) -> WorkerRun {
    let gpu_index = spec.provider.gpu_index();
    let device_used = || gpu_index.and_then(|i| gpu::memory(i, 0)).and_then(|g| g.device_used_mb);
    let system_before = SystemMemory::current();
    let gpu_device_before_mb = device_used();

    let spawned = Instant::now();
    let serving = match serve(spec, timeout, None, &mut |_| {}) {
        Ok(s) => s,
        Err(run) => return *run,
    };
    let Serving { mut worker, report, ready: Some((ready, ready_at)) } = serving else {
        return trial::finish(serving.worker, serving.report, timeout);
    };
    let spawn_to_ready_ms = (ready_at - spawned).as_secs_f64() * 1000.0;
    let worker_memory_loaded = MemorySnapshot {
        process: ProcessMemory::of_pid(worker.pid).unwrap_or_default(),
        gpu: gpu_index.and_then(|i| gpu::memory(i, worker.pid)),
    };
    let system_loaded = SystemMemory::current();
    let gpu_device_loaded_mb = device_used();

    let killed = Instant::now();
    worker.kill(KillIntent::Deliberate);
    let mut run = trial::finish(worker, report, timeout);
    let kill_to_exit_ms = killed.elapsed().as_secs_f64() * 1000.0;
    // The kernel frees a process's memory as it exits; a GPU driver may take a moment longer.
    let system_after_exit = settle(SystemMemory::current, |m| m.tracked().0, system_before.tracked().0);
    let gpu_device_after_exit_mb = if gpu_device_before_mb.is_some() { settle(device_used, |v| *v, gpu_device_before_mb) } else { None };

    let (before, reading) = system_before.tracked();
    let (loaded, after) = (system_loaded.tracked().0, system_after_exit.tracked().0);
    let reclaimed = delta(loaded, after);
    let footprint = delta(loaded, before);
    let gpu_reclaimed = delta(gpu_device_loaded_mb, gpu_device_after_exit_mb);
    let gpu_footprint = delta(gpu_device_loaded_mb, gpu_device_before_mb);
    let pct = |part: Option<f64>, whole: Option<f64>| match (part, whole) {
        (Some(p), Some(w)) if w > 1.0 => percentage(p, w),
        _ => None,
    };
    // Whether other processes moved the reading is derived from these figures
    // (`IsolationResult::noise`), so `mora report` judges older runs the same way.
    run.outcome = Outcome::Ok;
    run.providers_registered = ready.providers_registered.clone();
    run.measurements = Some(Measurements::Isolation(Box::new(IsolationResult {
        spawn_to_ready_ms,
        worker_provider_baseline: ready.provider_baseline.clone(),
        worker_load_time_ms: ready.load_time_ms,
        worker_first_inference_ms: ready.first_inference_ms,
        worker_memory_loaded,
        system_before,
        system_loaded,
        system_after_exit,
        kill_to_exit_ms,
        memory_reading: reading.to_string(),
        memory_reclaimed_mb: reclaimed,
        reclamation_percentage: pct(reclaimed, footprint),
        gpu_device_before_mb,
        gpu_device_loaded_mb,
        gpu_device_after_exit_mb,
        gpu_memory_reclaimed_mb: gpu_reclaimed,
        gpu_reclamation_percentage: pct(gpu_reclaimed, gpu_footprint),
    })));
    run
}

/// A worker of the `serve` scenario (load, answer once, wait to be killed) that has said ready or
/// ended; `ready` is `None` when it ended (or was ended) first.
pub(crate) struct Serving {
    pub worker: RunningWorker,
    pub report: Report,
    pub ready: Option<(Box<ReadyReport>, Instant)>,
}

/// Starts a `serve` worker (in `cgroup` when given) and waits for it to be ready or to end;
/// `watch` sees every message first (the memory-limit scenario reads its cgroup at a phase).
pub(crate) fn serve(
    spec: &TrialSpec,
    timeout: Duration,
    cgroup: Option<&std::path::Path>,
    watch: &mut dyn FnMut(&WorkerMessage),
) -> Result<Serving, Box<WorkerRun>> {
    let mut worker = supervise::spawn_in(&trial::worker_args(spec), &[], cgroup)
        .map_err(|e| Box::new(WorkerRun::failed(Outcome::SpawnFailed { message: format!("{e:#}") })))?;
    let mut report = Report::default();
    let mut ready = None;
    worker.supervise(Instant::now() + timeout, |_, message| {
        watch(&message);
        match message {
            WorkerMessage::Ready(r) => {
                ready = Some((r, Instant::now()));
                Flow::Stop
            }
            other => {
                report.take(other);
                Flow::Continue
            }
        }
    });
    Ok(Serving { worker, report, ready })
}

/// Reads until the value stops falling (two readings within 1 MB) or comes back to `target`, for at
/// most [`SETTLE`].
fn settle<T>(read: impl Fn() -> T, value: impl Fn(&T) -> Option<f64>, target: Option<f64>) -> T {
    let until = Instant::now() + SETTLE;
    let mut last = read();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = read();
        let (Some(a), Some(b)) = (value(&last), value(&now)) else { return now };
        let at_target = target.is_some_and(|t| b <= t + 1.0);
        if at_target || (a - b).abs() < 1.0 || Instant::now() >= until {
            return now;
        }
        last = now;
    }
}
