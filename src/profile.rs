//! The lifecycle profile: what a model server's lifecycle manager reads at start-up, per host,
//! provider and model: expected load times (fresh and warm worker), first inference, steady latency,
//! footprints, the provider baseline and worker warm-up, the memory limit the rule gives, the alert
//! thresholds and the startup-probe budget, each with the run and sample count behind it. Pure:
//! results in, profile out. Its schema is `schema/profile.schema.json` (`PROFILE_VERSION`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::advice::lifecycle::STARTUP_PROBE_MARGIN;
use crate::advice::{RULES_VERSION, consistent_cost, lifecycle, worker_budget_mb};
use crate::fleet::HostKey;
use crate::results::derive::worker_warmups;
use crate::results::heap::HeapState;
use crate::results::{Measurements, ResultsFile, SingleTrial, TrialRecord};
use crate::runtime::Provider;
use crate::stats::Summary;

pub(crate) const PROFILE_VERSION: u32 = 1;

/// The seed's alert: a load taking more than this many times its expected (p50) time.
pub(crate) const SLOW_LOAD_FACTOR: f64 = 2.0;
/// The seed's alert: memory growing faster than this.
pub(crate) const LEAK_ALERT_MB_PER_HOUR: f64 = 50.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub profile_version: u32,
    pub generated_by: Generator,
    pub hosts: Vec<HostProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Generator {
    pub tool: String,
    pub version: String,
    /// The advice rules whose definitions the figures follow.
    pub rules_version: u32,
}

/// One machine: its facts, the runs behind its figures, and its providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HostProfile {
    /// The host name; with the machine class where two machines of the runs share a name.
    pub host: String,
    /// The hardware that makes hosts comparable: GPUs, CPU model and cores (docs/fleet.md); empty
    /// in a profile written before it was recorded.
    #[serde(default)]
    pub machine_class: String,
    pub cpu_model: Option<String>,
    pub logical_cores: usize,
    pub ram_mb: Option<f64>,
    pub gpus: Vec<String>,
    pub runtime_version: String,
    /// The runs (folder names, or host and start time) the figures come from.
    pub runs: Vec<String>,
    pub providers: Vec<ProviderProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProviderProfile {
    pub provider: Provider,
    /// What every worker pays before any model (environment, provider libraries, CUDA context).
    pub baseline: Baseline,
    /// What a worker's first model adds once, beyond the baseline (the largest over the models).
    pub worker_warmup: Warmup,
    pub models: Vec<ModelProfile>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    pub rss_mb: Option<f64>,
    pub vram_mb: Option<f64>,
    pub init_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Warmup {
    pub rss_mb: Option<f64>,
    pub vram_mb: Option<f64>,
    pub first_load_extra_ms: Option<f64>,
    pub first_inference_extra_ms: Option<f64>,
}

/// A measured figure: its median (p50), p95 and range over `n` samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figure {
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Figure {
    fn of(s: &Summary) -> Figure {
        Figure { p50: s.median, p95: s.p95, min: s.min, max: s.max, n: s.n }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelProfile {
    pub model: String,
    /// "real", "random" or "unknown" (your own file that does not say): random weights give the real
    /// architecture's size and speed, meaningless outputs.
    pub weights: crate::results::TrialWeights,
    pub file_mb: f64,
    /// A new worker's first load of the model (after the provider baseline).
    pub load_fresh_worker_ms: Option<Figure>,
    /// A load in a running, warmed worker, files cached, after the previous unload and malloc_trim(0)
    /// (mora's advice; the single scenario). Schema 1 runs: the cold scenario's loads back to back.
    pub load_warm_worker_ms: Option<Figure>,
    /// The heap state `load_warm_worker_ms` was taken in: after_unload_and_trim (the single
    /// scenario) or back_to_back (schema 1 runs' cold scenario). Absent in profiles before it.
    #[serde(default)]
    pub load_warm_worker_heap_state: Option<HeapState>,
    /// From starting a worker to the end of its first inference: a new worker's first request.
    pub spawn_to_ready_ms: Option<Figure>,
    pub first_inference_ms: Option<Figure>,
    pub steady_p50_ms: Option<Figure>,
    pub steady_p95_ms: Option<Figure>,
    pub ram_mb: Option<Figure>,
    /// The most RSS a load held above the RSS before it (the kernel's peak while loading): what a
    /// budget must leave room for beyond the footprint. Profiles before it: absent.
    #[serde(default)]
    pub load_peak_mb: Option<Figure>,
    /// On CUDA: what ONNX Runtime's arena reserved for the model.
    pub vram_mb: Option<Figure>,
    /// The footprint (VRAM on CUDA, RAM on CPU) per MB of model file: a measured sizing multiplier.
    pub resident_per_file_mb: Option<f64>,
    pub unload: Option<Unload>,
    pub kill: Option<Kill>,
    /// The seed's rule: 1.5 x the footprint + the provider baseline + the worker warm-up (RAM on
    /// CPU, VRAM on CUDA).
    pub memory_limit_mb: Option<f64>,
    pub alerts: Alerts,
    /// A startup probe's budget: the p95 spawn-to-ready plus `STARTUP_PROBE_MARGIN` of it.
    pub startup_probe_budget_ms: Option<f64>,
    /// Scenario idle: from which idle gap (s) the next request is clearly slower, and by how much.
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
    /// Scenario soak: memory growth per hour, cycling and resident (RAM).
    #[serde(default)]
    pub soak: Option<Soak>,
    /// Scenario memory-limit: the smallest multiple of the footprint a limit held at (RAM).
    #[serde(default)]
    pub memory_limit_multiplier_held: Option<f64>,
    /// Scenario shapes: (batch, sequence) shapes worth running once at warm-up.
    #[serde(default)]
    pub warm_up_shapes: Vec<(usize, Option<usize>)>,
    /// The run this model's figures come from.
    pub run: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeepAlive {
    /// `None`: no penalty up to the longest gap tried.
    pub penalty_from_s: Option<f64>,
    pub penalty_ms: Option<f64>,
    pub longest_gap_tried_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Soak {
    pub cycling_mb_per_hour: Option<f64>,
    pub resident_mb_per_hour: Option<f64>,
    /// Two standard errors of the larger rate.
    pub uncertainty_mb_per_hour: Option<f64>,
    pub duration_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Unload {
    pub unload_ms: Option<f64>,
    /// Of the footprint, given back by dropping the session (GPU memory on CUDA).
    pub reclaimed_pct: Option<f64>,
    /// The same after malloc_trim(0) (RAM).
    pub reclaimed_after_trim_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Kill {
    pub reclaimed_pct: Option<f64>,
    pub spawn_to_ready_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Alerts {
    /// Alert when a load in a warm worker takes longer than this (`SLOW_LOAD_FACTOR` x its p50).
    pub load_ms_above: Option<f64>,
    pub leak_mb_per_hour_above: f64,
}

/// One profile from several runs: grouped by host (a host name and machine class, as a merge tells
/// machines apart); within a host, a later run's figures for a model replace an earlier run's.
pub(crate) fn build(runs: &[(String, ResultsFile)]) -> Profile {
    let keys: Vec<HostKey> = runs.iter().map(|(_, r)| HostKey::of_run(&r.run)).collect();
    let mut hosts: BTreeMap<String, HostProfile> = BTreeMap::new();
    for (((label, run), key), host_label) in runs.iter().zip(&keys).zip(crate::fleet::labels(&keys)) {
        let host = hosts.entry(host_label.clone()).or_insert_with(|| HostProfile {
            host: host_label,
            machine_class: key.class.clone(),
            cpu_model: run.run.host.cpu_model.clone(),
            logical_cores: run.run.host.logical_cores,
            ram_mb: run.run.host.ram_total_mb,
            gpus: run.run.gpus.iter().map(|g| g.name.clone()).collect(),
            runtime_version: run.run.runtime.version.clone(),
            runs: vec![],
            providers: vec![],
        });
        host.runs.push(label.clone());
        // One size per model, as the advice: a sweep's first.
        let run = &*run.at_first_points();
        for provider in providers_of(run) {
            let fresh = provider_profile(label, run, provider);
            match host.providers.iter_mut().find(|p| p.provider == provider) {
                None => host.providers.push(fresh),
                Some(existing) => {
                    for model in fresh.models {
                        existing.models.retain(|m| m.model != model.model);
                        existing.models.push(model);
                    }
                    existing.baseline = fresh.baseline;
                    existing.worker_warmup = fresh.worker_warmup;
                }
            }
        }
    }
    Profile {
        profile_version: PROFILE_VERSION,
        generated_by: Generator { tool: "mora".into(), version: env!("CARGO_PKG_VERSION").into(), rules_version: RULES_VERSION },
        hosts: hosts.into_values().collect(),
    }
}

fn providers_of(run: &ResultsFile) -> Vec<Provider> {
    let mut providers: Vec<Provider> = run.trials.iter().filter(|t| t.outcome.is_ok()).map(|t| t.provider).collect();
    providers.sort();
    providers.dedup();
    providers
}

fn provider_profile(label: &str, run: &ResultsFile, provider: Provider) -> ProviderProfile {
    let trials: Vec<&TrialRecord> = run.trials.iter().filter(|t| t.provider == provider && t.outcome.is_ok()).collect();
    let baselines: Vec<_> = trials.iter().filter_map(|t| t.measurements.as_ref()?.provider_baseline()).collect();
    let median = |f: &dyn Fn(&crate::results::ProviderBaseline) -> Option<f64>| {
        crate::stats::median(&baselines.iter().filter_map(|b| f(b)).collect::<Vec<_>>())
    };
    let baseline = Baseline { rss_mb: median(&|b| b.rss_mb), vram_mb: median(&|b| b.gpu_mb), init_ms: median(&|b| Some(b.init_ms)) };
    let warmups: Vec<_> = worker_warmups(run).into_iter().filter(|w| w.provider == provider).collect();
    // The largest cost every fresh worker showed; one within the noise between workers counts as 0.
    let largest = |f: &dyn Fn(&crate::results::derive::WarmupFigures) -> Option<&Summary>| {
        warmups
            .iter()
            .filter_map(|w| f(w).map(|s| consistent_cost(s).unwrap_or(0.0)))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
    };
    let worker_warmup = Warmup {
        rss_mb: largest(&|w| w.rss_mb.as_ref()),
        vram_mb: largest(&|w| w.gpu_mb.as_ref()),
        first_load_extra_ms: largest(&|w| w.load_ms.as_ref()),
        first_inference_extra_ms: largest(&|w| w.first_inference_ms.as_ref()),
    };
    let models = trials
        .iter()
        .filter_map(|t| match &t.measurements {
            Some(Measurements::Single(s)) => Some(model_profile(label, run, t, s, &baseline, &worker_warmup)),
            _ => None,
        })
        .collect();
    ProviderProfile { provider, baseline, worker_warmup, models }
}

fn model_profile(label: &str, run: &ResultsFile, t: &TrialRecord, s: &SingleTrial, baseline: &Baseline, warmup: &Warmup) -> ModelProfile {
    let model = t.model();
    let same = |u: &&TrialRecord| u.provider == t.provider && u.model() == model && u.models.len() == 1 && u.outcome.is_ok();
    let cold = run.trials.iter().filter(same).find_map(|u| match &u.measurements {
        Some(Measurements::Cold(c)) => Some(c.as_ref()),
        _ => None,
    });
    let kill = run.trials.iter().filter(same).find_map(|u| match &u.measurements {
        Some(Measurements::Isolation(i)) => Some(Kill { reclaimed_pct: i.reclamation_percentage, spawn_to_ready_ms: i.spawn_to_ready_ms }),
        _ => None,
    });
    let keep_alive = run.trials.iter().filter(same).find_map(|u| match &u.measurements {
        Some(Measurements::Idle(i)) => {
            let penalty = lifecycle::keep_alive_from(i);
            Some(KeepAlive {
                penalty_from_s: penalty.map(|p| p.0),
                penalty_ms: penalty.map(|p| p.1),
                longest_gap_tried_s: i.gaps.iter().map(|g| g.gap_s).fold(0.0, f64::max),
            })
        }
        _ => None,
    });
    let soak = run.trials.iter().filter(same).find_map(|u| match &u.measurements {
        Some(Measurements::Soak(m)) => {
            let rate = |p: &crate::results::SoakPhase| p.rss.as_ref().map(|g| g.mb_per_hour);
            let err = [&m.cycling, &m.resident]
                .iter()
                .filter_map(|p| p.rss.as_ref().map(|g| 2.0 * g.stderr_mb_per_hour))
                .fold(None, |a: Option<f64>, e| Some(a.map_or(e, |a| a.max(e))));
            Some(Soak {
                cycling_mb_per_hour: rate(&m.cycling),
                resident_mb_per_hour: rate(&m.resident),
                uncertainty_mb_per_hour: err,
                duration_s: m.cycling.sampled_s() + m.resident.sampled_s(),
            })
        }
        _ => None,
    });
    let memory_limit_multiplier_held = run.trials.iter().filter(same).find_map(|u| match &u.measurements {
        Some(Measurements::MemoryLimit(m)) => lifecycle::smallest_limit_that_held(&m.ram),
        _ => None,
    });
    let warm_up_shapes = run
        .trials
        .iter()
        .filter(same)
        .find_map(|u| match &u.measurements {
            Some(Measurements::Shapes(m)) => {
                Some(lifecycle::shapes_worth_warming(&m.shapes).iter().map(|s| (s.batch_size, s.sequence_length)).collect())
            }
            _ => None,
        })
        .unwrap_or_default();
    let x = &s.summary;
    let fig = |s: &Option<Summary>| s.as_ref().map(Figure::of);
    let file_mb = run.models.iter().find(|m| m.id == model).map_or(0.0, |m| m.size_mb);
    let on_device = t.provider.memory().device_measured();
    let (footprint, base, warm) = if on_device {
        (x.gpu_memory_increase_mb.as_ref().map(|s| s.median), baseline.vram_mb, warmup.vram_mb)
    } else {
        (x.memory_increase_mb.as_ref().map(|s| s.median), baseline.rss_mb, warmup.rss_mb)
    };
    // The load a lifecycle manager that trims after each unload (mora's advice) sees next: the single
    // scenario's, in a warmed worker after an unload and malloc_trim. Back-to-back loads (the cold
    // scenario's) find the allocator's pages still there and run 1.3-2x faster; schema 1 single trials
    // measured a fresh worker's first load only, so for them the cold scenario's loads are the nearer.
    let warm_load = crate::results::heap::warm_load(Some(s), cold);
    let load_warm = warm_load.map(|w| w.load.clone());
    let (reclaimed, after_trim) = if on_device {
        (x.gpu_reclamation_percentage.as_ref(), x.gpu_reclamation_percentage.as_ref())
    } else {
        (x.reclamation_percentage.as_ref(), x.reclamation_after_trim_percentage.as_ref())
    };
    ModelProfile {
        model: model.to_string(),
        weights: t.weights,
        file_mb,
        load_fresh_worker_ms: fig(&x.first_load_ms),
        spawn_to_ready_ms: fig(&x.spawn_to_ready_ms),
        first_inference_ms: fig(&x.first_inference_ms),
        steady_p50_ms: fig(&x.steady_p50_ms),
        steady_p95_ms: fig(&x.steady_p95_ms),
        ram_mb: fig(&x.memory_increase_mb),
        load_peak_mb: fig(&x.load_peak_mb),
        vram_mb: fig(&x.gpu_memory_increase_mb),
        resident_per_file_mb: footprint.filter(|_| file_mb > 0.0).map(|f| f / file_mb),
        unload: Some(Unload {
            unload_ms: x.unload_time_ms.as_ref().map(|s| s.median),
            reclaimed_pct: reclaimed.map(|s| s.median),
            reclaimed_after_trim_pct: after_trim.map(|s| s.median),
        }),
        kill,
        memory_limit_mb: footprint.map(|f| worker_budget_mb(f.max(0.0), base.unwrap_or(0.0), warm.unwrap_or(0.0).max(0.0))),
        alerts: Alerts {
            load_ms_above: load_warm.as_ref().map(|s| SLOW_LOAD_FACTOR * s.median),
            leak_mb_per_hour_above: LEAK_ALERT_MB_PER_HOUR,
        },
        startup_probe_budget_ms: x.spawn_to_ready_ms.as_ref().map(|s| s.p95 * (1.0 + STARTUP_PROBE_MARGIN)),
        load_warm_worker_ms: load_warm.as_ref().map(Figure::of),
        load_warm_worker_heap_state: warm_load.map(|w| w.state),
        keep_alive,
        soak,
        memory_limit_multiplier_held,
        warm_up_shapes,
        run: t.run.clone().unwrap_or_else(|| label.to_string()),
    }
}
