//! Figures derived from raw measurements, pure: the proof of concept's unload figures, the worker
//! warm-up, the single scenario's medians over fresh workers, the leak and rotation series, and the
//! isolation reading's noise check. `mora bench` computes them as it goes and `mora report` computes
//! them again ([`rederive`]), so an older run is read with today's definitions.

use super::{
    ConcurrentResult, IsolationResult, LeakResult, LeakSeries, LeakVerdict, Measurements, ModelAmount, PhaseMemory, ResultsFile,
    RotationModel, RotationResult, RotationSeries, RotationStep, SingleResult, SingleSummary, SingleTrial, TrialRecord, UnloadFigures,
};
use crate::probe::process::delta;
use crate::probe::{GpuReading, MemorySnapshot};
use crate::runtime::Provider;
use crate::stats::{Summary, median, percentage, slope_per_step};
use crate::warnings::Warning;

/// A verdict on memory growth in MB. The rule is the advice's; it is passed in so that results stay
/// below advice in the module graph.
pub(crate) type Judge<'a> = &'a dyn Fn(f64) -> LeakVerdict;

/// Recomputes every derived figure and verdict of `results` from its raw measurements.
pub(crate) fn rederive(results: &mut ResultsFile, judge: Judge) {
    for trial in &mut results.trials {
        match trial.measurements.as_mut() {
            Some(Measurements::Single(m)) => {
                for worker in &mut m.workers {
                    worker.figures = UnloadFigures::from_phases(&worker.memory);
                }
                m.summary = SingleSummary::of(&m.workers);
            }
            Some(Measurements::Leak(m)) => m.rederive(judge),
            Some(Measurements::Rotation(m)) => m.rederive(judge),
            Some(Measurements::Concurrent(m)) => m.rederive(),
            Some(Measurements::Levers(m)) => m.choose(),
            Some(Measurements::Cold(_) | Measurements::Isolation(_) | Measurements::MemoryLevers(_)) | None => {}
            Some(Measurements::Idle(_) | Measurements::Shapes(_) | Measurements::Soak(_) | Measurements::MemoryLimit(_)) => {}
        }
    }
}

impl UnloadFigures {
    pub(crate) fn from_phases(m: &PhaseMemory) -> UnloadFigures {
        let rss = |s: &MemorySnapshot| s.process.rss_mb;
        let footprint = delta(rss(&m.before_unload), rss(&m.before_load));
        let reclaimed = delta(rss(&m.before_unload), rss(&m.after_unload));
        let reclaimed_trim = delta(rss(&m.before_unload), rss(&m.after_trim));
        let reading = GpuReading::choose([&m.after_load, &m.after_first_inference, &m.before_unload]);
        let gpu = |s: &MemorySnapshot| reading.and_then(|r| r.read(s));
        let gpu_footprint = delta(gpu(&m.before_unload), gpu(&m.before_load));
        let gpu_reclaimed = delta(gpu(&m.before_unload), gpu(&m.after_unload));
        UnloadFigures {
            memory_increase_mb: delta(rss(&m.after_first_inference), rss(&m.before_load)),
            memory_increase_anon_mb: delta(m.after_first_inference.process.rss_anon_mb, m.before_load.process.rss_anon_mb),
            memory_increase_file_mb: delta(m.after_first_inference.process.rss_file_mb, m.before_load.process.rss_file_mb),
            gpu_memory_increase_mb: delta(gpu(&m.after_first_inference), gpu(&m.before_load)),
            memory_reclaimed_mb: reclaimed,
            reclamation_percentage: share(reclaimed, footprint),
            memory_reclaimed_after_trim_mb: reclaimed_trim,
            reclamation_after_trim_percentage: share(reclaimed_trim, footprint),
            gpu_memory_reclaimed_mb: gpu_reclaimed,
            gpu_reclamation_percentage: share(gpu_reclaimed, gpu_footprint),
            gpu_reading: reading,
        }
    }
}

/// `part` as a percentage of `whole`; `None` where the whole is too small to divide by.
fn share(part: Option<f64>, whole: Option<f64>) -> Option<f64> {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0.5 => percentage(p, w),
        _ => None,
    }
}

/// What a model's first load in a fresh worker cost beyond the same load in the warmed worker.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WorkerWarmup {
    /// First load minus the warm worker's load.
    pub load_ms: f64,
    /// The first load's first inference minus the warm worker's first inference.
    pub first_inference_ms: f64,
    /// What stays after the first load's unload and trim, above the memory before it.
    pub rss_mb: Option<f64>,
    pub gpu_mb: Option<f64>,
    /// The first load's footprint (after its first inference), warm-up included.
    pub first_load_memory_increase_mb: Option<f64>,
    pub first_load_gpu_memory_increase_mb: Option<f64>,
}

impl SingleResult {
    /// `None` for schema 1 records, which have no first load apart from the measured one.
    pub(crate) fn warmup(&self) -> Option<WorkerWarmup> {
        let first = self.first_load.as_ref()?;
        let reading = GpuReading::choose([&first.after_first_inference]);
        let gpu = |s: &MemorySnapshot| reading.and_then(|r| r.read(s));
        let rss = |s: &MemorySnapshot| s.process.rss_mb;
        Some(WorkerWarmup {
            load_ms: first.load_time_ms - self.load_time_ms,
            first_inference_ms: first.first_inference_ms - self.first_inference_ms,
            rss_mb: delta(rss(&first.after_trim), rss(&first.before_load)),
            gpu_mb: delta(gpu(&first.after_trim), gpu(&first.before_load)),
            first_load_memory_increase_mb: delta(rss(&first.after_first_inference), rss(&first.before_load)),
            first_load_gpu_memory_increase_mb: delta(gpu(&first.after_first_inference), gpu(&first.before_load)),
        })
    }
}

impl SingleTrial {
    pub(crate) fn new(workers: Vec<SingleResult>) -> SingleTrial {
        let summary = SingleSummary::of(&workers);
        SingleTrial { workers, summary }
    }

    /// Whether a worker was recorded before the first load was measured apart (schema 1): its
    /// figures are then a fresh worker's first load, the worker's warm-up included.
    pub(crate) fn first_load_only(&self) -> bool {
        self.workers.iter().any(|w| w.first_load.is_none())
    }
}

impl SingleSummary {
    /// Medians and spreads over the workers. A schema 1 worker has no first load apart from the
    /// measured one: that load was the worker's first, so it fills the first-load figures too.
    pub(crate) fn of(workers: &[SingleResult]) -> SingleSummary {
        let over = |f: &dyn Fn(&SingleResult) -> Option<f64>| Summary::of(&workers.iter().filter_map(f).collect::<Vec<_>>());
        let warm = |f: &dyn Fn(&WorkerWarmup) -> Option<f64>| {
            Summary::of(&workers.iter().filter_map(|w| w.warmup()).filter_map(|x| f(&x)).collect::<Vec<_>>())
        };
        let first = |w: &SingleResult, f: &dyn Fn(&WorkerWarmup) -> Option<f64>, v1: Option<f64>| match w.warmup() {
            Some(x) => f(&x),
            None => v1,
        };
        SingleSummary {
            spawn_to_ready_ms: over(&|w| w.spawn_to_ready_ms),
            first_load_ms: over(&|w| Some(w.first_load.as_ref().map_or(w.load_time_ms, |f| f.load_time_ms))),
            first_load_first_inference_ms: over(&|w| Some(w.first_load.as_ref().map_or(w.first_inference_ms, |f| f.first_inference_ms))),
            first_load_memory_increase_mb: over(&|w| first(w, &|x| x.first_load_memory_increase_mb, w.figures.memory_increase_mb)),
            first_load_gpu_memory_increase_mb: over(&|w| {
                first(w, &|x| x.first_load_gpu_memory_increase_mb, w.figures.gpu_memory_increase_mb)
            }),
            warmup_rss_mb: warm(&|x| x.rss_mb),
            warmup_gpu_mb: warm(&|x| x.gpu_mb),
            warmup_load_ms: warm(&|x| Some(x.load_ms)),
            warmup_first_inference_ms: warm(&|x| Some(x.first_inference_ms)),
            load_time_ms: over(&|w| Some(w.load_time_ms)),
            first_inference_ms: over(&|w| Some(w.first_inference_ms)),
            steady_p50_ms: over(&|w| w.steady.as_ref().map(|s| s.median)),
            steady_p95_ms: over(&|w| w.steady.as_ref().map(|s| s.p95)),
            steady_p99_ms: over(&|w| w.steady.as_ref().map(|s| s.p99)),
            memory_increase_mb: over(&|w| w.figures.memory_increase_mb),
            gpu_memory_increase_mb: over(&|w| w.figures.gpu_memory_increase_mb),
            load_peak_mb: over(&|w| delta(w.peak_rss_during_load_mb, w.memory.before_load.process.rss_mb)),
            unload_time_ms: over(&|w| Some(w.unload_time_ms)),
            reclamation_percentage: over(&|w| w.figures.reclamation_percentage),
            reclamation_after_trim_percentage: over(&|w| w.figures.reclamation_after_trim_percentage),
            gpu_reclamation_percentage: over(&|w| w.figures.gpu_reclamation_percentage),
        }
    }
}

impl LeakSeries {
    /// The series of one reading: `None` when a reading is missing or there is no cycle.
    pub(crate) fn derive(baseline_mb: f64, after_unload_mb: Vec<f64>, after_trim_mb: Vec<f64>, judge: Judge) -> Option<LeakSeries> {
        let (first_unload, last_unload) = (*after_unload_mb.first()?, *after_unload_mb.last()?);
        let (first_trim, last_trim) = (*after_trim_mb.first()?, *after_trim_mb.last()?);
        let growth_after_trim_mb = last_trim - first_trim;
        Some(LeakSeries {
            baseline_mb,
            net_growth_mb: last_unload - baseline_mb,
            net_growth_after_trim_mb: last_trim - baseline_mb,
            first_cycle_retained_mb: first_trim - baseline_mb,
            growth_mb: last_unload - first_unload,
            growth_after_trim_mb,
            judged_cycles: after_trim_mb.len() - 1,
            // Each point is the state after a whole cycle, the first included: a step in cycle 1 is
            // the warm-up, and the slope over the points after it is what repeats.
            slope_mb_per_cycle: slope_per_step(&after_unload_mb),
            slope_after_trim_mb_per_cycle: slope_per_step(&after_trim_mb),
            verdict: judge(growth_after_trim_mb),
            verdict_rests_on: "growth after malloc_trim(0) from the end of the first cycle (the worker's warm-up) to the end of the last"
                .into(),
            after_unload_mb,
            after_trim_mb,
        })
    }
}

impl LeakResult {
    pub(crate) fn rederive(&mut self, judge: Judge) {
        let series = |read: &dyn Fn(&MemorySnapshot) -> Option<f64>| {
            let after_unload = self.cycles.iter().map(|c| read(&c.after_unload)).collect::<Option<Vec<_>>>()?;
            let after_trim = self.cycles.iter().map(|c| read(&c.after_trim)).collect::<Option<Vec<_>>>()?;
            LeakSeries::derive(read(&self.baseline)?, after_unload, after_trim, judge)
        };
        if let Some(rss) = series(&|s| s.process.rss_mb) {
            self.rss = rss;
        }
        let reading = GpuReading::choose(self.cycles.iter().map(|c| &c.after_first_inference));
        self.gpu = reading.and_then(|r| series(&|s| r.read(s)));
    }
}

impl RotationResult {
    pub(crate) fn rederive(&mut self, judge: Judge) {
        self.rss = RotationSeries::derive(&self.baseline, &self.steps, &|s| s.process.rss_mb, judge);
        let reading = GpuReading::choose(self.steps.iter().map(|s| &s.after_first_inference));
        self.gpu = reading.and_then(|r| RotationSeries::derive(&self.baseline, &self.steps, &|s| r.read(s), judge));
        self.per_model = rotation_models(&self.steps);
    }
}

/// Each model's first load and first inference (round 1) against the median of its later rounds.
fn rotation_models(steps: &[RotationStep]) -> Vec<RotationModel> {
    let mut models: Vec<RotationModel> = Vec::new();
    for first in steps.iter().filter(|s| s.round == 1) {
        let later: Vec<&RotationStep> = steps.iter().filter(|s| s.round > 1 && s.model == first.model).collect();
        models.push(RotationModel {
            model: first.model.clone(),
            first_load_ms: first.load_time_ms,
            later_load_ms: median(&later.iter().map(|s| s.load_time_ms).collect::<Vec<_>>()),
            first_inference_ms: first.first_inference_ms,
            later_first_inference_ms: median(&later.iter().map(|s| s.first_inference_ms).collect::<Vec<_>>()),
        });
    }
    models
}

impl RotationSeries {
    pub(crate) fn derive(
        baseline: &MemorySnapshot,
        steps: &[RotationStep],
        read: &dyn Fn(&MemorySnapshot) -> Option<f64>,
        judge: Judge,
    ) -> Option<RotationSeries> {
        let baseline_mb = read(baseline)?;
        let after_trim_mb = steps.iter().map(|s| read(&s.after_trim)).collect::<Option<Vec<_>>>()?;
        let mut first_round_added = Vec::new();
        let mut previous = baseline_mb;
        for (step, mb) in steps.iter().zip(&after_trim_mb).filter(|(s, _)| s.round == 1) {
            first_round_added.push(ModelAmount { model: step.model.clone(), mb: mb - previous });
            previous = *mb;
        }
        let rounds = steps.iter().map(|s| s.round).max()?;
        let after_round_mb: Vec<f64> = (1..=rounds)
            .filter_map(|r| steps.iter().zip(&after_trim_mb).filter(|(s, _)| s.round == r).map(|(_, mb)| *mb).next_back())
            .collect();
        let growth_mb = after_round_mb.last()? - after_round_mb.first()?;
        Some(RotationSeries {
            baseline_mb,
            first_round_added,
            slope_mb_per_round: slope_per_step(&after_round_mb),
            growth_mb,
            verdict: judge(growth_mb),
            after_round_mb,
            after_trim_mb,
        })
    }
}

impl ConcurrentResult {
    pub(crate) fn rederive(&mut self) {
        let Some(before_warmup) = &self.before_warmup else { return };
        self.warmup_retained_mb = delta(self.before.process.rss_mb, before_warmup.process.rss_mb);
        let reading = GpuReading::choose([&self.after_first_inference]);
        let gpu = |s: &MemorySnapshot| reading.and_then(|r| r.read(s));
        self.gpu_warmup_retained_mb = delta(gpu(&self.before), gpu(before_warmup));
    }
}

impl IsolationResult {
    /// Other processes move the system reading too. Compare what it moved with what the worker held
    /// of the same kind: its anonymous memory against the cgroup's anonymous memory (its private
    /// memory also holds file-backed pages of libraries only it maps: about 190 MB under CUDA), its
    /// private memory against MemTotal - MemAvailable.
    pub(crate) fn noise(&self) -> Option<Warning> {
        let (before, reading) = self.system_before.tracked();
        let moved = delta(self.system_loaded.tracked().0, before)?;
        let by_cgroup = self.system_before.cgroup_anon_mb.is_some() && self.system_loaded.cgroup_anon_mb.is_some();
        let (worker_mb, worker_kind) = if by_cgroup {
            (self.worker_memory_loaded.process.rss_anon_mb?, "anonymous")
        } else {
            (self.worker_memory_loaded.process.private_mb?, "private")
        };
        (worker_mb > 20.0 && (moved - worker_mb).abs() > 0.25 * worker_mb).then(|| Warning::NoisyMemoryReading {
            reading: reading.into(),
            moved_mb: moved,
            worker_mb,
            worker_kind: worker_kind.into(),
        })
    }

    /// The kill's figures cannot show a model too small to move the reading.
    pub(crate) fn footprint_too_small(&self) -> bool {
        delta(self.system_loaded.tracked().0, self.system_before.tracked().0).is_some_and(|f| f <= 1.0)
    }
}

/// Where a worker warm-up figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WarmupSource {
    /// The single scenario's first load in each of its fresh workers.
    FreshWorkers,
    /// The leak scenario's first cycle against its later ones (one worker; schema 1 runs).
    LeakFirstCycle,
}

/// The one-time warm-up a model triggers in a fresh worker of one provider.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WarmupFigures {
    pub model: String,
    /// The sweep point of the trial it came from.
    pub point: Option<super::InputPoint>,
    pub provider: Provider,
    pub source: WarmupSource,
    pub rss_mb: Option<Summary>,
    pub gpu_mb: Option<Summary>,
    pub load_ms: Option<Summary>,
    pub first_inference_ms: Option<Summary>,
}

/// Every (model, provider) warm-up the run measured: from the single scenario's fresh workers where
/// they have a first load apart, else from the leak scenario's first cycle.
pub(crate) fn worker_warmups(results: &ResultsFile) -> Vec<WarmupFigures> {
    let mut out: Vec<WarmupFigures> = Vec::new();
    let ok = results.trials.iter().filter(|t| t.outcome.is_ok() && t.models.len() == 1);
    for t in ok.clone() {
        if let Some(Measurements::Single(m)) = &t.measurements {
            if m.summary.warmup_load_ms.is_some() {
                out.push(WarmupFigures {
                    model: t.model().into(),
                    point: t.point,
                    provider: t.provider,
                    source: WarmupSource::FreshWorkers,
                    rss_mb: m.summary.warmup_rss_mb.clone(),
                    gpu_mb: m.summary.warmup_gpu_mb.clone(),
                    load_ms: m.summary.warmup_load_ms.clone(),
                    first_inference_ms: m.summary.warmup_first_inference_ms.clone(),
                });
            }
        }
    }
    for t in ok {
        let Some(Measurements::Leak(m)) = &t.measurements else { continue };
        if out.iter().any(|w| w.model == t.model() && w.point == t.point && w.provider == t.provider) || m.cycles.len() < 2 {
            continue;
        }
        // The first cycle against each later one: a surcharge that every later cycle shows is one,
        // one within their spread is noise.
        let (first, later) = (&m.cycles[0], &m.cycles[1..]);
        let against_later = |f: fn(&super::CycleSample) -> f64| Summary::of(&later.iter().map(|c| f(first) - f(c)).collect::<Vec<_>>());
        out.push(WarmupFigures {
            model: t.model().into(),
            point: t.point,
            provider: t.provider,
            source: WarmupSource::LeakFirstCycle,
            rss_mb: Summary::of(&[m.rss.first_cycle_retained_mb]),
            gpu_mb: m.gpu.as_ref().and_then(|g| Summary::of(&[g.first_cycle_retained_mb])),
            load_ms: against_later(|c| c.load_time_ms),
            first_inference_ms: against_later(|c| c.first_inference_ms),
        });
    }
    out
}

impl TrialRecord {
    /// What the trial noticed as it ran, and what its figures say about themselves.
    pub(crate) fn all_warnings(&self) -> Vec<Warning> {
        let mut all = self.warnings.clone();
        if let Some(Measurements::Isolation(m)) = &self.measurements {
            all.extend(m.noise());
            if m.footprint_too_small() {
                all.push(Warning::FootprintTooSmall);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{GpuMemory, ProcessMemory, SystemMemory};

    fn snap(rss: f64, gpu: Option<(Option<f64>, f64)>) -> MemorySnapshot {
        MemorySnapshot {
            process: ProcessMemory { rss_mb: Some(rss), rss_anon_mb: Some(rss / 2.0), rss_file_mb: Some(rss / 2.0), ..Default::default() },
            gpu: gpu.map(|(process_mb, device)| GpuMemory { process_mb, device_used_mb: Some(device) }),
        }
    }

    fn judge(mb: f64) -> LeakVerdict {
        crate::advice::leak_verdict(mb)
    }

    #[test]
    fn unload_figures_follow_their_definitions() {
        let m = PhaseMemory {
            before_load: snap(100.0, None),
            after_load: snap(180.0, None),
            after_first_inference: snap(200.0, None),
            before_unload: snap(210.0, None),
            after_unload: snap(130.0, None),
            after_trim: snap(105.0, None),
        };
        let f = UnloadFigures::from_phases(&m);
        assert_eq!(f.memory_increase_mb, Some(100.0));
        assert_eq!(f.memory_increase_anon_mb, Some(50.0));
        assert_eq!(f.memory_reclaimed_mb, Some(80.0));
        // 80 of the 110 MB above the provider baseline came back.
        assert!((f.reclamation_percentage.unwrap() - 80.0 / 110.0 * 100.0).abs() < 1e-9);
        assert!((f.reclamation_after_trim_percentage.unwrap() - 105.0 / 110.0 * 100.0).abs() < 1e-9);
        assert_eq!(f.gpu_memory_increase_mb, None);
        assert_eq!(f.gpu_reading, None);
    }

    #[test]
    fn gpu_figures_use_the_process_reading_when_visible_else_the_device() {
        let visible = PhaseMemory {
            before_load: snap(100.0, Some((None, 1000.0))),
            after_load: snap(100.0, Some((Some(500.0), 1500.0))),
            after_first_inference: snap(100.0, Some((Some(600.0), 1600.0))),
            before_unload: snap(100.0, Some((Some(600.0), 1600.0))),
            after_unload: snap(100.0, Some((Some(100.0), 1100.0))),
            after_trim: snap(100.0, Some((Some(100.0), 1100.0))),
        };
        let f = UnloadFigures::from_phases(&visible);
        assert_eq!(f.gpu_reading, Some(GpuReading::Process));
        assert_eq!(f.gpu_memory_increase_mb, Some(600.0));
        assert_eq!(f.gpu_memory_reclaimed_mb, Some(500.0));

        let mut hidden = visible.clone();
        for s in [
            &mut hidden.after_load,
            &mut hidden.after_first_inference,
            &mut hidden.before_unload,
            &mut hidden.after_unload,
            &mut hidden.after_trim,
        ] {
            s.gpu.as_mut().unwrap().process_mb = None;
        }
        let f = UnloadFigures::from_phases(&hidden);
        assert_eq!(f.gpu_reading, Some(GpuReading::Device));
        assert_eq!(f.gpu_memory_increase_mb, Some(600.0));
        assert_eq!(f.gpu_memory_reclaimed_mb, Some(500.0));
        assert!((f.gpu_reclamation_percentage.unwrap() - 500.0 / 600.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn tiny_footprints_give_no_percentage() {
        let s = snap(100.0, None);
        let m = PhaseMemory {
            before_load: s.clone(),
            after_load: s.clone(),
            after_first_inference: s.clone(),
            before_unload: snap(100.1, None),
            after_unload: s.clone(),
            after_trim: s,
        };
        assert_eq!(UnloadFigures::from_phases(&m).reclamation_percentage, None);
    }

    #[test]
    fn a_first_cycle_step_is_one_time_not_a_leak() {
        // The H200 run's cuda/gpt2 RSS: +162 MB in cycle 1, then flat.
        let s = LeakSeries::derive(397.0, vec![569.4, 596.6, 596.5], vec![558.8, 559.3, 559.5], &judge).unwrap();
        assert!((s.first_cycle_retained_mb - 161.8).abs() < 1e-9);
        assert!((s.growth_after_trim_mb - 0.7).abs() < 1e-9);
        assert_eq!(s.judged_cycles, 2);
        assert_eq!(s.verdict, LeakVerdict::Pass);
        assert!((s.net_growth_after_trim_mb - 162.5).abs() < 1e-9, "the seed's net growth is kept beside it");
    }

    #[test]
    fn growth_after_the_first_cycle_fails() {
        let s = LeakSeries::derive(100.0, vec![130.0, 160.0, 190.0, 220.0], vec![125.0, 150.0, 175.0, 200.0], &judge).unwrap();
        assert_eq!(s.growth_after_trim_mb, 75.0);
        assert_eq!(s.verdict, LeakVerdict::Fail);
        assert!((s.slope_after_trim_mb_per_cycle.unwrap() - 25.0).abs() < 1e-9);
        assert!(LeakSeries::derive(1.0, vec![], vec![], &judge).is_none());
    }

    fn step(round: usize, model: &str, after_trim: f64) -> RotationStep {
        RotationStep {
            round,
            model: model.into(),
            load_time_ms: if round == 1 { 50.0 } else { 20.0 },
            first_inference_ms: if round == 1 { 9.0 } else { 3.0 },
            after_first_inference: snap(after_trim + 30.0, None),
            after_trim: snap(after_trim, None),
        }
    }

    #[test]
    fn rotation_shows_what_each_new_model_adds_and_then_growth() {
        // a adds 100 MB for good, b 40 more, then the rounds stay flat.
        let steps = vec![
            step(1, "a", 200.0),
            step(1, "b", 240.0),
            step(2, "a", 241.0),
            step(2, "b", 242.0),
            step(3, "a", 242.0),
            step(3, "b", 243.0),
        ];
        let s = RotationSeries::derive(&snap(100.0, None), &steps, &|s| s.process.rss_mb, &judge).unwrap();
        assert_eq!(s.first_round_added, vec![ModelAmount { model: "a".into(), mb: 100.0 }, ModelAmount { model: "b".into(), mb: 40.0 }]);
        assert_eq!(s.after_round_mb, vec![240.0, 242.0, 243.0]);
        assert_eq!(s.growth_mb, 3.0);
        assert_eq!(s.verdict, LeakVerdict::Pass);
        let models = rotation_models(&steps);
        assert_eq!(models[1].model, "b");
        assert_eq!((models[1].first_load_ms, models[1].later_load_ms), (50.0, Some(20.0)));
        assert_eq!(models[1].later_first_inference_ms, Some(3.0));
    }

    fn isolation(cgroup: bool, before: f64, loaded: f64, anon: f64, private: f64) -> IsolationResult {
        let system = |v: f64| SystemMemory { used_mb: Some(v + 1000.0), cgroup_anon_mb: cgroup.then_some(v), ..Default::default() };
        let baseline = crate::results::ProviderBaseline {
            init_ms: 1.0,
            first_run_ms: 1.0,
            before: MemorySnapshot::default(),
            after: MemorySnapshot::default(),
            rss_mb: None,
            gpu_mb: None,
        };
        IsolationResult {
            spawn_to_ready_ms: 1.0,
            worker_provider_baseline: baseline,
            worker_load_time_ms: 1.0,
            worker_first_inference_ms: 1.0,
            worker_memory_loaded: MemorySnapshot {
                process: ProcessMemory { rss_anon_mb: Some(anon), private_mb: Some(private), ..Default::default() },
                gpu: None,
            },
            system_before: system(before),
            system_loaded: system(loaded),
            system_after_exit: system(before),
            kill_to_exit_ms: 1.0,
            memory_reading: String::new(),
            memory_reclaimed_mb: None,
            reclamation_percentage: None,
            gpu_device_before_mb: None,
            gpu_device_loaded_mb: None,
            gpu_device_after_exit_mb: None,
            gpu_memory_reclaimed_mb: None,
            gpu_reclamation_percentage: None,
        }
    }

    #[test]
    fn isolation_compares_the_cgroup_with_the_workers_anonymous_memory() {
        // The H200 run's cuda/gpt2: the cgroup's anon moved 420 MB, the worker's RssAnon was 420 MB
        // and its private memory 610 MB (190 MB of CUDA library pages only it maps). Not noise.
        assert_eq!(isolation(true, 17.4, 437.5, 420.1, 610.1).noise(), None);
        // Another process allocating 300 MB meanwhile is.
        let w = isolation(true, 17.4, 737.5, 420.1, 610.1).noise().expect("noise");
        assert!(w.to_string().contains("420 MB of anonymous memory"), "{w}");
        // Without a cgroup reading, MemAvailable is compared with private memory.
        assert_eq!(isolation(false, 100.0, 710.0, 420.1, 610.1).noise(), None);
        assert!(isolation(false, 100.0, 520.0, 420.1, 610.1).noise().is_some());
    }
}
