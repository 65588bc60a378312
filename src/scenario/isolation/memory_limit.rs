//! Scenario `memory-limit`, on the parent's side: a `serve` worker (load, answer once) run first in a
//! child memory cgroup without a limit, to measure what the cgroup is charged after the provider
//! baseline and once the model answered (the currency a container's limit is in: anonymous memory,
//! page cache the worker first touched, kernel memory), then in cgroups limited to that baseline plus
//! `--limit-multipliers` times the model's footprint (its RSS once it answered, above the provider
//! baseline: the seed's "1.5 x the footprint"; 1.1, 1.25, 1.5, 2): do the load and the first answer
//! fit? The model's files leave the page cache before every worker, so that each is the first
//! to read them and is charged for them, as a new container is (otherwise the charge, and so every
//! limit, depends on which process happened to read the files first). On CUDA the
//! same for VRAM through ONNX Runtime's arena limit (gpu_mem_limit). A worker the limit kills is
//! recorded as such, never as a crash of mora.

use std::time::Duration;

use super::{Serving, serve};
use crate::cgroup::LimitedCgroup;
use crate::phase::Phase;
use crate::probe::process::delta;
use crate::probe::{ProcessMemory, gpu, page_cache};
use crate::protocol::{TrialSpec, WorkerMessage};
use crate::results::{LimitAttempt, LimitOutcome, Measurements, MemoryLimitResult, Outcome, RamLimit, WorkerInfo};
use crate::supervise::KillIntent;
use crate::trial::{self, WorkerRun};
use crate::units::{mib, mib_to_bytes};

/// Drops the model's files from the page cache; a file that cannot be evicted only makes the next
/// worker's charge smaller, which the measured charges show.
fn evict_model_files(spec: &TrialSpec) {
    for file in spec.models.iter().flat_map(|m| &m.files) {
        let _ = page_cache::evict(file);
    }
}

pub(crate) fn run(spec: &TrialSpec, timeout: Duration) -> WorkerRun {
    let name = |what: &str| format!("mora-limit-{}-{what}", std::process::id());
    evict_model_files(spec);
    // Without a limit: what the worker is charged. Where no cgroup can be made, still measured by RSS.
    let accounting = LimitedCgroup::create(&name("measure"), None);
    let mut baseline_charge = None;
    let serving = {
        let procs = accounting.as_ref().ok().map(|c| c.procs());
        let watch = &mut |m: &WorkerMessage| {
            // The serve worker enters "load" right after the provider baseline.
            if matches!(m, WorkerMessage::Phase { phase: Phase::Load }) {
                baseline_charge = accounting.as_ref().ok().and_then(LimitedCgroup::usage_bytes).map(mib);
            }
        };
        match serve(spec, timeout, procs.as_deref(), watch) {
            Ok(s) => s,
            Err(run) => return *run,
        }
    };
    let Serving { mut worker, report, ready: Some((ready, _)) } = serving else {
        return trial::finish(serving.worker, serving.report, timeout);
    };
    let memory = ProcessMemory::of_pid(worker.pid).unwrap_or_default();
    let ready_charge = accounting.as_ref().ok().and_then(LimitedCgroup::usage_bytes).map(mib);
    let gpu_index = spec.provider.gpu_index();
    let vram_ready = gpu_index.and_then(|i| gpu::memory(i, worker.pid)).and_then(|g| g.process_mb);
    worker.kill(KillIntent::Deliberate);
    let mut run = trial::finish(worker, report, timeout);
    let peak_charge = accounting.as_ref().ok().and_then(LimitedCgroup::peak_bytes).map(mib);

    let mut result = MemoryLimitResult {
        mechanism: match &accounting {
            Ok(c) => RamLimit::Cgroup(c.mechanism().replace(&name("measure"), "<trial>")),
            Err(why) => RamLimit::Unavailable(format!("{why:#}")),
        },
        baseline_rss_mb: ready.provider_baseline.after.process.rss_mb,
        ready_rss_mb: memory.rss_mb,
        footprint_mb: delta(memory.rss_mb, ready.provider_baseline.after.process.rss_mb),
        peak_rss_mb: run.worker.peak_rss_mb,
        baseline_charge_mb: baseline_charge,
        ready_charge_mb: ready_charge,
        peak_charge_mb: peak_charge,
        ram: vec![],
        vram_footprint_mb: None,
        vram: vec![],
        provider_baseline: ready.provider_baseline.clone(),
    };
    drop(accounting);
    // The seed's rule is on the footprint (RSS), not the charge: the charge also holds the files'
    // page cache, which the kernel reclaims under a limit before it kills anyone.
    if let (Some(base), Some(footprint)) = (baseline_charge, result.footprint_mb) {
        for (i, multiplier) in spec.settings.limit_multipliers.iter().enumerate() {
            let limit_mb = base + multiplier * footprint.max(1.0);
            match LimitedCgroup::create(&name(&i.to_string()), Some(mib_to_bytes(limit_mb))) {
                Ok(cgroup) => {
                    let (attempt, worker) = under_ram_limit(spec, timeout, &cgroup, *multiplier, limit_mb);
                    run.worker.absorb(&worker);
                    result.ram.push(attempt);
                }
                Err(why) => {
                    result.mechanism = RamLimit::Unavailable(format!("{why:#}"));
                    break;
                }
            }
        }
    }
    if let (Some(ready_vram), Some(base_vram)) = (vram_ready, ready.provider_baseline.gpu_mb) {
        let vram = ready_vram - base_vram;
        result.vram_footprint_mb = Some(vram);
        for &multiplier in &spec.settings.limit_multipliers {
            let (attempt, worker) = under_vram_limit(spec, timeout, multiplier, vram);
            run.worker.absorb(&worker);
            result.vram.push(attempt);
        }
    }
    run.outcome = Outcome::Ok;
    run.measurements = Some(Measurements::MemoryLimit(Box::new(result)));
    run
}

/// How a limited `serve` worker ended: answered, or why not; and the worker's own figures.
fn outcome_of(serving: Result<Serving, Box<WorkerRun>>, timeout: Duration) -> (bool, String, WorkerInfo) {
    let serving = match serving {
        Ok(s) => s,
        Err(run) => return (false, run.outcome.summary(), run.worker),
    };
    let survived = serving.ready.is_some();
    let mut worker = serving.worker;
    if survived {
        worker.kill(KillIntent::Deliberate);
    }
    let run = trial::finish(worker, serving.report, timeout);
    (survived, run.outcome.summary(), run.worker)
}

fn under_ram_limit(
    spec: &TrialSpec,
    timeout: Duration,
    cgroup: &LimitedCgroup,
    multiplier: f64,
    limit_mb: f64,
) -> (LimitAttempt, WorkerInfo) {
    evict_model_files(spec);
    let (survived, summary, worker) = outcome_of(serve(spec, timeout, Some(&cgroup.procs()), &mut |_| {}), timeout);
    let (outcome, detail) = match (survived, cgroup.oom_kills().is_some_and(|n| n > 0)) {
        (true, _) => (LimitOutcome::Survived, None),
        (false, true) => (LimitOutcome::KilledByLimit, Some(format!("killed by the memory limit: {summary}"))),
        (false, false) => (LimitOutcome::Failed, Some(summary)),
    };
    (LimitAttempt { multiplier, limit_mb, outcome, peak_mb: cgroup.peak_bytes().map(mib), detail }, worker)
}

fn under_vram_limit(spec: &TrialSpec, timeout: Duration, multiplier: f64, footprint_mb: f64) -> (LimitAttempt, WorkerInfo) {
    let limit_mb = (multiplier * footprint_mb).ceil().max(1.0);
    let mut limited = spec.clone();
    crate::provider::cuda::set_mem_limit_mb(&mut limited.provider.options, limit_mb as u64);
    let (survived, summary, worker) = outcome_of(serve(&limited, timeout, None, &mut |_| {}), timeout);
    let arena = ["BFCArena", "Failed to allocate", "gpu_mem_limit"].iter().any(|s| summary.contains(s));
    let (outcome, detail) = match (survived, arena) {
        (true, _) => (LimitOutcome::Survived, None),
        (false, true) => (LimitOutcome::RefusedByArena, Some(summary)),
        (false, false) => (LimitOutcome::Failed, Some(summary)),
    };
    (LimitAttempt { multiplier, limit_mb, outcome, peak_mb: None, detail }, worker)
}
