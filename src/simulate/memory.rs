//! The memory model: what the worker (in-process) or the workers (kill-worker) hold as models come
//! and go, from measured figures rather than nominal sizes. In-process, one worker pays the provider
//! baseline and the warm-up once; an unload gives back the measured share of the model's footprint
//! (after malloc_trim), and what the allocator keeps is reused by the next load. Kill-worker, every
//! model has a worker of its own with its baseline and warm-up, and a kill gives everything back.

use std::collections::BTreeMap;

use super::costs::{Costs, UnloadMode};

#[derive(Debug, Clone)]
pub(crate) struct Memory {
    mode: UnloadMode,
    baseline_mb: f64,
    warmup_mb: f64,
    /// Resident models and their footprints.
    resident: BTreeMap<usize, f64>,
    /// Freed by unloads but kept by the allocator (in-process); the next load reuses it first.
    retained_mb: f64,
    /// Whether the worker has loaded a model (and so paid its warm-up).
    warmed: bool,
}

impl Memory {
    pub(crate) fn new(costs: &Costs, mode: UnloadMode) -> Memory {
        Memory {
            mode,
            baseline_mb: costs.worker.baseline_mb,
            warmup_mb: costs.worker.warmup_mb,
            resident: BTreeMap::new(),
            retained_mb: 0.0,
            warmed: false,
        }
    }

    /// What is held now.
    pub(crate) fn current_mb(&self) -> f64 {
        let models: f64 = self.resident.values().sum();
        match self.mode {
            UnloadMode::InProcess => self.baseline_mb + if self.warmed { self.warmup_mb } else { 0.0 } + models + self.retained_mb,
            UnloadMode::KillWorker => models + self.resident.len() as f64 * (self.baseline_mb + self.warmup_mb),
        }
    }

    /// What would be held once `footprint_mb` more is loaded (the warm-up counted whether or not it
    /// was paid yet: a worker must have room for it).
    pub(crate) fn after_load_mb(&self, footprint_mb: f64) -> f64 {
        match self.mode {
            UnloadMode::InProcess => {
                let warm = if self.warmed { 0.0 } else { self.warmup_mb };
                self.current_mb() + warm + footprint_mb - self.retained_mb.min(footprint_mb)
            }
            UnloadMode::KillWorker => self.current_mb() + self.baseline_mb + self.warmup_mb + footprint_mb,
        }
    }

    /// The most held while `footprint_mb` more loads, which peaks at `load_peak_mb` above what was
    /// held before (a session holds buffers while it builds that it frees once ready; the profile
    /// measures the peak). Never below what is held once loaded.
    pub(crate) fn during_load_mb(&self, footprint_mb: f64, load_peak_mb: f64) -> f64 {
        let peak = load_peak_mb.max(footprint_mb);
        let transient = match self.mode {
            UnloadMode::InProcess => {
                let warm = if self.warmed { 0.0 } else { self.warmup_mb };
                self.current_mb() + warm + peak - self.retained_mb.min(peak)
            }
            UnloadMode::KillWorker => self.current_mb() + self.baseline_mb + self.warmup_mb + peak,
        };
        transient.max(self.after_load_mb(footprint_mb))
    }

    pub(crate) fn load(&mut self, model: usize, footprint_mb: f64) {
        if self.mode == UnloadMode::InProcess {
            self.retained_mb -= self.retained_mb.min(footprint_mb);
        }
        self.warmed = true;
        self.resident.insert(model, footprint_mb);
    }

    /// `reclaimed`: the share of the footprint an in-process unload gives back (a kill gives back all).
    pub(crate) fn unload(&mut self, model: usize, reclaimed: f64) {
        if let Some(footprint) = self.resident.remove(&model) {
            if self.mode == UnloadMode::InProcess {
                self.retained_mb += footprint * (1.0 - reclaimed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::*;

    #[test]
    fn in_process_the_baseline_and_warmup_are_paid_once_and_retention_is_reused() {
        let mut c = costs(&[("a", 100.0, 1.0), ("b", 50.0, 1.0)], 30.0);
        c.worker.warmup_mb = 5.0;
        let mut m = Memory::new(&c, UnloadMode::InProcess);
        assert_eq!(m.current_mb(), 30.0);
        assert_eq!(m.after_load_mb(100.0), 135.0, "baseline + warm-up + footprint");
        m.load(0, 100.0);
        m.load(1, 50.0);
        assert_eq!(m.current_mb(), 185.0);
        // The allocator keeps 10 % of a's 100 MB after the unload and trim...
        m.unload(0, 0.9);
        assert!((m.current_mb() - 95.0).abs() < 1e-9);
        // ...and the next load uses it before asking for more: 95 + 100 - 10.
        assert!((m.after_load_mb(100.0) - 185.0).abs() < 1e-9);
        m.load(0, 100.0);
        assert!((m.current_mb() - 185.0).abs() < 1e-9);
    }

    #[test]
    fn kill_worker_pays_a_worker_per_model_and_gets_everything_back() {
        let mut c = costs(&[("a", 100.0, 1.0), ("b", 50.0, 1.0)], 30.0);
        c.worker.warmup_mb = 5.0;
        let mut m = Memory::new(&c, UnloadMode::KillWorker);
        assert_eq!(m.current_mb(), 0.0);
        m.load(0, 100.0);
        assert_eq!(m.after_load_mb(50.0), 135.0 + 85.0);
        m.load(1, 50.0);
        m.unload(0, 0.0);
        assert_eq!(m.current_mb(), 85.0);
        // A new worker peaks at its baseline, warm-up and the load's peak.
        assert_eq!(m.during_load_mb(100.0, 160.0), 85.0 + 35.0 + 160.0);
    }

    #[test]
    fn a_load_peaks_above_what_it_settles_at_and_reuses_what_the_allocator_kept() {
        let mut c = costs(&[("a", 100.0, 1.0), ("b", 50.0, 1.0)], 30.0);
        c.worker.warmup_mb = 5.0;
        let mut m = Memory::new(&c, UnloadMode::InProcess);
        // The first load pays the warm-up too: 30 + 5 + 140.
        assert_eq!(m.during_load_mb(100.0, 140.0), 175.0);
        assert_eq!(m.during_load_mb(100.0, 60.0), 135.0, "a peak below the footprint counts as the footprint");
        m.load(0, 100.0);
        m.unload(0, 0.8);
        // 20 MB kept by the allocator: the next load's peak reuses them first.
        assert!((m.during_load_mb(50.0, 90.0) - (55.0 + 90.0 - 20.0)).abs() < 1e-9);
    }
}
