//! What a run comes to, simulated or replayed alike: hits and loads, request latency (mean, p50, p95,
//! p99), peak memory, time spent loading; and the interference of loads with requests to models
//! already loaded (their inference while a load runs against while none does).

use serde::{Deserialize, Serialize};

use super::run::Run;
use crate::stats::{Summary, median};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    pub requests: usize,
    /// Requests whose model was resident or already being loaded.
    pub hits: usize,
    pub hit_rate: f64,
    /// Requests that arrived before their model was ready.
    pub waited: usize,
    pub loads: usize,
    pub evictions: usize,
    pub latency: Summary,
    pub peak_mb: f64,
    /// Memory held over the trace (from its start to its last request's arrival), in MB x hours.
    pub mb_hours: f64,
    /// How long memory was above the budget, in seconds (a policy that plans with guessed sizes or
    /// ignores the budget, or a replay whose real peaks the simulation missed).
    pub over_budget_s: f64,
    /// Requests that paid for a load: their model was not ready when they arrived.
    pub paid_load_p95_ms: Option<f64>,
    pub paid_load_p99_ms: Option<f64>,
    /// Unloads because a keep-alive ran out.
    pub idle_unloads: usize,
    /// The loading slot's busy time: evictions and loads.
    pub loading_ms: f64,
    /// The mean load alone.
    pub mean_load_ms: Option<f64>,
    pub preload_ms: f64,
}

impl Figures {
    /// `budget_mb`: what `over_budget_s` counts against; `horizon_ms`: where `mb_hours` stops.
    pub(crate) fn of(run: &Run, budget_mb: f64, horizon_ms: f64) -> Figures {
        let latencies: Vec<f64> = run.served.iter().map(|s| s.latency_ms()).collect();
        let paid: Vec<f64> = run.served.iter().filter(|s| s.waited).map(|s| s.latency_ms()).collect();
        let paid = Summary::of(&paid);
        let hits = run.served.iter().filter(|s| s.hit).count();
        let requests = run.served.len();
        let loads: Vec<f64> = run.loads.iter().map(|l| l.load_ms).collect();
        Figures {
            requests,
            hits,
            hit_rate: if requests > 0 { hits as f64 / requests as f64 } else { 0.0 },
            waited: run.served.iter().filter(|s| s.waited).count(),
            loads: run.loads.len(),
            evictions: run.loads.iter().map(|l| l.evicted.len()).sum(),
            latency: Summary::of(&latencies).unwrap_or_else(|| Summary::of(&[0.0]).expect("one sample")),
            peak_mb: run.peak_mb,
            mb_hours: held(&run.memory, horizon_ms, |mb| mb) / 3_600_000.0,
            over_budget_s: held(&run.memory, horizon_ms, |mb| if mb > budget_mb + 1e-9 { 1.0 } else { 0.0 }) / 1000.0,
            paid_load_p95_ms: paid.as_ref().map(|s| s.p95),
            paid_load_p99_ms: paid.as_ref().map(|s| s.p99),
            idle_unloads: run.idle_unloads.len(),
            loading_ms: run.loads.iter().map(|l| l.end_ms - l.start_ms).sum(),
            mean_load_ms: (!loads.is_empty()).then(|| loads.iter().sum::<f64>() / loads.len() as f64),
            preload_ms: run.preload_ms,
        }
    }
}

/// The integral over [0, `horizon_ms`] of `f` of memory, a step function through `points` (each
/// holds until the next; nothing is held before the first), in MB x ms (or ms where `f` is 0 or 1).
fn held(points: &[(f64, f64)], horizon_ms: f64, f: impl Fn(f64) -> f64) -> f64 {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    for (i, &(t, mb)) in sorted.iter().enumerate() {
        let end = sorted.get(i + 1).map_or(horizon_ms, |p| p.0).min(horizon_ms);
        if end > t {
            total += f(mb) * (end - t);
        }
    }
    total
}

/// How much loading slows requests to models already loaded: steady inferences (not a new session's
/// first) that overlapped a load job, against those that did not, each relative to its model's median
/// without a load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Interference {
    /// Inferences with no load running.
    pub quiet: usize,
    /// Inferences that overlapped a load.
    pub during_load: usize,
    /// The median of (inference time / its model's quiet median) over those during a load.
    pub slowdown: Option<f64>,
    /// The same at p95.
    pub slowdown_p95: Option<f64>,
    /// Time added to those inferences in all, against their models' quiet medians.
    pub added_ms: f64,
    /// The median inference time, quiet and during a load (models mixed).
    pub quiet_median_ms: Option<f64>,
    pub during_load_median_ms: Option<f64>,
}

impl Interference {
    pub(crate) fn of(run: &Run) -> Interference {
        let steady: Vec<_> = run.served.iter().filter(|s| !s.first_after_load && s.end_ms.is_finite()).collect();
        let overlaps = |start: f64, end: f64| run.loads.iter().any(|l| l.start_ms < end && start < l.end_ms);
        let (during, quiet): (Vec<_>, Vec<_>) = steady.into_iter().partition(|s| overlaps(s.start_ms, s.end_ms));
        let models = run.served.iter().map(|s| s.model).max().map_or(0, |m| m + 1);
        let quiet_median: Vec<Option<f64>> =
            (0..models).map(|m| median(&quiet.iter().filter(|s| s.model == m).map(|s| s.service_ms()).collect::<Vec<_>>())).collect();
        let ratios: Vec<f64> = during.iter().filter_map(|s| quiet_median[s.model].map(|q| s.service_ms() / q)).collect();
        let added_ms = during.iter().filter_map(|s| quiet_median[s.model].map(|q| s.service_ms() - q)).sum();
        let ratio_summary = Summary::of(&ratios);
        Interference {
            quiet: quiet.len(),
            during_load: during.len(),
            slowdown: ratio_summary.as_ref().map(|s| s.median),
            slowdown_p95: ratio_summary.as_ref().map(|s| s.p95),
            added_ms,
            quiet_median_ms: median(&quiet.iter().map(|s| s.service_ms()).collect::<Vec<_>>()),
            during_load_median_ms: median(&during.iter().map(|s| s.service_ms()).collect::<Vec<_>>()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::run::{LoadSpan, Served};
    use super::*;

    fn served(model: usize, start: f64, end: f64) -> Served {
        Served { model, arrival_ms: start, start_ms: start, end_ms: end, hit: true, waited: false, first_after_load: false }
    }

    #[test]
    fn interference_compares_inferences_during_a_load_with_quiet_ones() {
        let run = Run {
            served: vec![
                served(0, 0.0, 10.0),
                served(0, 20.0, 30.0),
                // During the load (100-200): twice as long.
                served(0, 120.0, 140.0),
                served(1, 150.0, 250.0),
                served(1, 300.0, 350.0),
            ],
            loads: vec![LoadSpan { model: 2, evicted: vec![], start_ms: 100.0, end_ms: 200.0, load_ms: 100.0 }],
            idle_unloads: vec![],
            memory: vec![(0.0, 100.0), (150.0, 300.0), (250.0, 200.0)],
            peak_mb: 0.0,
            preload_ms: 0.0,
        };
        let i = Interference::of(&run);
        assert_eq!((i.quiet, i.during_load), (3, 2));
        // Ratios: 20 / 10 = 2 and 100 / 50 = 2.
        assert_eq!(i.slowdown, Some(2.0));
        assert_eq!(i.added_ms, 10.0 + 50.0);
        let f = Figures::of(&run, 250.0, 300.0);
        assert_eq!((f.hits, f.loads, f.loading_ms, f.mean_load_ms), (5, 1, 100.0, Some(100.0)));
        // 100 MB for 150 ms, 300 for 100, 200 for the last 50 of the horizon; over 250 MB for 100 ms.
        assert!((f.mb_hours * 3_600_000.0 - (15_000.0 + 30_000.0 + 10_000.0)).abs() < 1e-6, "{}", f.mb_hours);
        assert!((f.over_budget_s - 0.1).abs() < 1e-12);
    }
}
