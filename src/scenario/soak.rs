//! Scenario `soak`: memory over time, sampled while a worker cycles the model (load, a burst of
//! requests, unload, the allocator's release) for half of `--soak-duration`, then serves it from one
//! resident session for the other half; the growth rate in MB/hour by least squares over the samples,
//! with its standard error, judged against the seed's alert of 50 MB/hour.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::TrialContext;
use crate::loaded_model::LoadedModel;
use crate::probe::{GpuReading, MemorySnapshot, malloc_trim};
use crate::results::{GrowthRate, SoakPhase, SoakResult, SoakSample};
use crate::stats::linear_fit;

/// Requests per cycle in the cycling phase, and between samples in the resident phase.
pub(crate) const BURST: usize = 10;

pub(crate) fn run(w: &mut TrialContext) -> Result<SoakResult> {
    let model = super::only_model(w)?;
    super::read_through(model)?;
    let mut inputs = None;
    super::first_load(w, model, &mut inputs)?;
    let half = Duration::from_secs_f64(w.spec.settings.soak_s / 2.0);

    w.phase(crate::phase::Phase::SoakCycling);
    // One cycle before the clock starts: what the first cycles settle (allocator pools) is not a rate.
    let (mut loaded, _) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs)?;
    for _ in 0..BURST {
        loaded.run()?;
    }
    loaded.unload();
    malloc_trim();
    let mut cycling = Phase::start(w);
    while cycling.started.elapsed() < half {
        let (mut loaded, _) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs)?;
        for _ in 0..BURST {
            loaded.run()?;
        }
        loaded.unload();
        malloc_trim();
        cycling.loads += 1;
        cycling.inferences += BURST;
        cycling.sample(w.snapshot());
    }
    // Closed here, not at the end: its duration is its own, not the resident half's too.
    let cycling = cycling.finish();

    w.phase(crate::phase::Phase::SoakResident);
    let (mut loaded, _) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs)?;
    // A burst before the clock starts, for the same reason: the session's first runs size its arena.
    for _ in 0..BURST {
        loaded.run()?;
    }
    let mut resident = Phase::start(w);
    while resident.started.elapsed() < half {
        for _ in 0..BURST {
            loaded.run()?;
        }
        resident.inferences += BURST;
        resident.sample(w.snapshot());
    }
    loaded.unload();
    Ok(SoakResult { provider_baseline: w.provider_baseline.clone(), cycling, resident: resident.finish() })
}

struct Phase {
    started: Instant,
    loads: usize,
    inferences: usize,
    snapshots: Vec<(f64, MemorySnapshot)>,
}

impl Phase {
    fn start(w: &TrialContext) -> Phase {
        let mut phase = Phase { started: Instant::now(), loads: 0, inferences: 0, snapshots: vec![] };
        phase.sample(w.snapshot());
        phase
    }

    fn sample(&mut self, snapshot: MemorySnapshot) {
        self.snapshots.push((self.started.elapsed().as_secs_f64(), snapshot));
    }

    fn finish(self) -> SoakPhase {
        let reading = GpuReading::choose(self.snapshots.iter().map(|(_, s)| s));
        let samples: Vec<SoakSample> = self
            .snapshots
            .iter()
            .map(|(t, s)| SoakSample { at_s: *t, rss_mb: s.process.rss_mb, vram_mb: reading.and_then(|r| r.read(s)) })
            .collect();
        let rate = |pick: fn(&SoakSample) -> Option<f64>| {
            let (xs, ys): (Vec<f64>, Vec<f64>) = samples.iter().filter_map(|s| pick(s).map(|v| (s.at_s, v))).unzip();
            growth_rate(&xs, &ys)
        };
        SoakPhase {
            duration_s: self.started.elapsed().as_secs_f64(),
            loads: self.loads,
            inferences: self.inferences,
            rss: rate(|s| s.rss_mb),
            vram: rate(|s| s.vram_mb),
            samples,
        }
    }
}

/// MB/hour from samples of (seconds, MB).
pub(crate) fn growth_rate(seconds: &[f64], mb: &[f64]) -> Option<GrowthRate> {
    let (slope, stderr) = linear_fit(seconds, mb)?;
    Some(GrowthRate { mb_per_hour: slope * 3600.0, stderr_mb_per_hour: stderr * 3600.0, samples: seconds.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_climb_is_its_rate_per_hour() {
        // 1 MB every 10 s is 360 MB/hour.
        let secs: Vec<f64> = (0..10).map(|i| i as f64 * 10.0).collect();
        let mb: Vec<f64> = secs.iter().map(|s| 100.0 + s / 10.0).collect();
        let r = growth_rate(&secs, &mb).unwrap();
        assert!((r.mb_per_hour - 360.0).abs() < 1e-9 && r.stderr_mb_per_hour < 1e-9 && r.samples == 10);
        assert!(growth_rate(&[0.0], &[1.0]).is_none());
    }
}
