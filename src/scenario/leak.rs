//! Scenario `leak`: N cycles of load, infer, unload in one process; memory after each unload (and
//! after malloc_trim), net growth, slope per cycle and the proof of concept's verdict, for RSS and VRAM.

use anyhow::Result;

use super::{TrialContext, fault};
use crate::advice::leak_verdict;
use crate::model::LoadedModel;
use crate::probe::{GpuReading, MemorySnapshot, malloc_trim};
use crate::results::{CycleSample, LeakResult, LeakSeries};
use crate::stats::slope_per_step;

pub fn run(w: &mut TrialContext) -> Result<LeakResult> {
    let model = super::only_model(w)?;
    malloc_trim();
    let baseline = w.snapshot();
    let mut inputs = None;
    let mut cycles = Vec::with_capacity(w.spec.settings.cycles);
    // Only filled when a test asks for a deliberate leak (MORA_FAULT).
    let mut kept_outputs = Vec::new();
    let mut kept_sessions = Vec::new();
    for cycle in 1..=w.spec.settings.cycles {
        w.phase(&format!("cycle {cycle}"));
        let (mut loaded, load_time_ms) = LoadedModel::load_with_inputs(&w.runtime, &w.spec.provider, model, &mut inputs)?;
        let (first_inference_ms, outputs) = loaded.run_keeping_outputs()?;
        let after_first_inference = w.snapshot();
        if fault::keep_outputs() {
            kept_outputs.push(outputs);
        } else {
            drop(outputs);
        }
        let unload_time_ms = if fault::keep_sessions() {
            kept_sessions.push(loaded);
            0.0
        } else {
            loaded.unload()
        };
        let after_unload = w.snapshot();
        malloc_trim();
        let after_trim = w.snapshot();
        cycles.push(CycleSample { load_time_ms, first_inference_ms, unload_time_ms, after_first_inference, after_unload, after_trim });
    }
    let rss = series(&baseline, &cycles, |s| s.process.rss_mb);
    let gpu = GpuReading::choose(cycles.iter().map(|c| &c.after_first_inference)).and_then(|r| series(&baseline, &cycles, |s| r.read(s)));
    drop(kept_outputs);
    drop(kept_sessions);
    Ok(LeakResult {
        provider_baseline: w.provider_baseline.clone(),
        cycles,
        baseline,
        rss: rss.ok_or_else(|| anyhow::anyhow!("no RSS readings on this platform: the leak scenario needs them"))?,
        gpu,
    })
}

/// The series of one reading across the cycles; `None` when a reading is missing.
pub fn series(baseline: &MemorySnapshot, cycles: &[CycleSample], read: impl Fn(&MemorySnapshot) -> Option<f64>) -> Option<LeakSeries> {
    let base = read(baseline)?;
    let after_unload: Vec<f64> = cycles.iter().map(|c| read(&c.after_unload)).collect::<Option<_>>()?;
    let after_trim: Vec<f64> = cycles.iter().map(|c| read(&c.after_trim)).collect::<Option<_>>()?;
    let net_growth_mb = after_unload.last()? - base;
    let net_growth_after_trim_mb = after_trim.last()? - base;
    Some(LeakSeries {
        baseline_mb: base,
        slope_mb_per_cycle: slope_per_step(&after_unload),
        slope_after_trim_mb_per_cycle: slope_per_step(&after_trim),
        net_growth_mb,
        net_growth_after_trim_mb,
        // What the allocator keeps is returned by malloc_trim: the verdict rests on what stays after it.
        verdict: leak_verdict(net_growth_after_trim_mb),
        verdict_rests_on: "memory after unload and malloc_trim(0), against the baseline before the first cycle".into(),
        after_unload_mb: after_unload,
        after_trim_mb: after_trim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProcessMemory;
    use crate::results::LeakVerdict;

    fn snap(rss: f64) -> MemorySnapshot {
        MemorySnapshot { process: ProcessMemory { rss_mb: Some(rss), ..Default::default() }, gpu: None }
    }

    fn cycle(unload: f64, trim: f64) -> CycleSample {
        CycleSample {
            load_time_ms: 1.0,
            first_inference_ms: 1.0,
            unload_time_ms: 1.0,
            after_first_inference: snap(unload + 100.0),
            after_unload: snap(unload),
            after_trim: snap(trim),
        }
    }

    #[test]
    fn retention_without_growth_passes() {
        // The allocator keeps 300 MB after every unload, trim gives it back: not a leak.
        let cycles = [cycle(400.0, 103.0), cycle(401.0, 104.0), cycle(400.0, 104.0)];
        let s = series(&snap(100.0), &cycles, |s| s.process.rss_mb).unwrap();
        assert_eq!(s.net_growth_mb, 300.0);
        assert_eq!(s.net_growth_after_trim_mb, 4.0);
        assert_eq!(s.verdict, LeakVerdict::Pass);
        assert!(s.slope_after_trim_mb_per_cycle.unwrap().abs() < 1.0);
    }

    #[test]
    fn steady_growth_fails_with_its_slope() {
        let cycles = [cycle(130.0, 125.0), cycle(160.0, 150.0), cycle(190.0, 175.0)];
        let s = series(&snap(100.0), &cycles, |s| s.process.rss_mb).unwrap();
        assert_eq!(s.net_growth_after_trim_mb, 75.0);
        assert_eq!(s.verdict, LeakVerdict::Fail);
        assert!((s.slope_mb_per_cycle.unwrap() - 30.0).abs() < 1e-9);
        assert!((s.slope_after_trim_mb_per_cycle.unwrap() - 25.0).abs() < 1e-9);
    }

    #[test]
    fn a_missing_reading_gives_no_series() {
        let mut c = cycle(1.0, 1.0);
        c.after_trim.process.rss_mb = None;
        assert!(series(&snap(1.0), &[c], |s| s.process.rss_mb).is_none());
    }
}
