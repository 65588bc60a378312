//! What happened in one run of a trace, simulated or replayed, in the same terms: each request's
//! times, each load, and memory over time. [`super::figures`] turns either into the same figures.

use serde::{Deserialize, Serialize};

/// One request, served. Times in ms after the trace's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Served {
    pub model: usize,
    pub arrival_ms: f64,
    /// When its inference started and ended.
    pub start_ms: f64,
    pub end_ms: f64,
    /// The plan said hit: its model was resident or already being loaded.
    pub hit: bool,
    /// Its model was not ready when it arrived: it waited for a load.
    pub waited: bool,
    /// The first inference of a newly loaded model.
    pub first_after_load: bool,
}

impl Served {
    /// From arrival to the end of its inference: what the client waits.
    pub(crate) fn latency_ms(&self) -> f64 {
        self.end_ms - self.arrival_ms
    }
    pub(crate) fn service_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
}

/// One job of the loading slot: its evictions, then the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LoadSpan {
    pub model: usize,
    pub evicted: Vec<usize>,
    pub start_ms: f64,
    pub end_ms: f64,
    /// The load alone (session creation, or a new worker's spawn-to-ready).
    pub load_ms: f64,
}

/// A keep-alive's unload on the loading slot (once the model's requests were served).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IdleUnload {
    pub model: usize,
    pub start_ms: f64,
    pub end_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    /// In trace order.
    pub served: Vec<Served>,
    pub loads: Vec<LoadSpan>,
    #[serde(default)]
    pub idle_unloads: Vec<IdleUnload>,
    /// (ms after the start, MB): what the worker (or workers) held.
    pub memory: Vec<(f64, f64)>,
    /// The most held at any moment (a replay reads the kernel's peak, load transients included).
    pub peak_mb: f64,
    /// Pre-warming before the first request: loads and one inference each.
    pub preload_ms: f64,
}

/// At most `max` points: each run of consecutive points becomes its highest, so peaks survive (a
/// replay samples memory every 10 ms; charts and records keep fewer).
pub(crate) fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    points
        .chunks(points.len().div_ceil(max))
        .map(|c| c.iter().copied().fold((c[0].0, f64::MIN), |(t, hi), (_, mb)| (t, hi.max(mb))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_peaks() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, if i == 7 { 100.0 } else { 1.0 })).collect();
        assert_eq!(thin(&points, 5), [(0.0, 1.0), (2.0, 1.0), (4.0, 1.0), (6.0, 100.0), (8.0, 1.0)]);
        assert_eq!(thin(&points, 20).len(), 10);
    }
}
