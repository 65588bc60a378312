//! Scenario `leak`: in one worker, a first cycle (the worker's warm-up) and then `--cycles` cycles of
//! load, infer, unload, malloc_trim; memory after each unload and each trim, for RSS and VRAM. The
//! growth after the first cycle, its slope and the proof of concept's verdict are derived from them
//! (`results::derive`); what the first cycle keeps is reported apart as a one-time cost.

use anyhow::Result;

use super::{Meter, TrialContext};
use crate::advice::leak_verdict;
use crate::fault;
use crate::loaded_model::{Loader, Measured, SessionLoader};
use crate::phase::Phase;
use crate::probe::malloc_trim;
use crate::results::{CycleSample, LeakResult, LeakSeries};

pub(crate) fn run(w: &mut TrialContext) -> Result<LeakResult> {
    let model = super::only_model(w)?;
    super::read_through(model)?;
    malloc_trim();
    let baseline = w.snapshot();
    let spec = w.spec;
    let (mut meter, runtime) = w.meter();
    let mut loader = SessionLoader { runtime, setup: &spec.provider, model, inputs: None };
    let keep = Keep { outputs: fault::keep_outputs(), sessions: fault::keep_sessions() };
    let cycles = cycles(&mut meter, &mut loader, spec.settings.cycles + 1, keep)?;
    let rss = baseline.process.rss_mb.and_then(|b| {
        let read = |f: fn(&CycleSample) -> Option<f64>| cycles.iter().map(f).collect::<Option<Vec<_>>>();
        LeakSeries::derive(b, read(|c| c.after_unload.process.rss_mb)?, read(|c| c.after_trim.process.rss_mb)?, &leak_verdict)
    });
    let mut result = LeakResult {
        provider_baseline: w.provider_baseline.clone(),
        cycles,
        baseline,
        rss: rss.ok_or_else(|| anyhow::anyhow!("no RSS readings on this platform: the leak scenario needs them"))?,
        gpu: None,
    };
    result.rederive(&leak_verdict);
    Ok(result)
}

/// What a test's deliberate leak keeps (MORA_FAULT `keep-outputs`, `keep-sessions`).
#[derive(Debug, Clone, Copy, Default)]
struct Keep {
    outputs: bool,
    sessions: bool,
}

/// `total` cycles of load, first inference, unload and trim, memory read after each step. What `keep`
/// asks to keep is dropped after the last cycle, outputs first.
fn cycles<L: Loader>(meter: &mut impl Meter, loader: &mut L, total: usize, keep: Keep) -> Result<Vec<CycleSample>> {
    let mut cycles = Vec::with_capacity(total);
    let mut kept_outputs = Vec::new();
    let mut kept_sessions = Vec::new();
    for cycle in 1..=total {
        meter.phase(Phase::Cycle(cycle));
        let (mut loaded, load_time_ms) = loader.load()?;
        let (first_inference_ms, outputs) = loaded.run_keeping_outputs()?;
        let after_first_inference = meter.snapshot();
        if keep.outputs {
            kept_outputs.push(outputs);
        } else {
            drop(outputs);
        }
        let unload_time_ms = if keep.sessions {
            kept_sessions.push(loaded);
            0.0
        } else {
            loaded.unload()
        };
        let after_unload = meter.snapshot();
        malloc_trim();
        let after_trim = meter.snapshot();
        cycles.push(CycleSample { load_time_ms, first_inference_ms, unload_time_ms, after_first_inference, after_unload, after_trim });
    }
    drop(kept_outputs);
    drop(kept_sessions);
    Ok(cycles)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::loaded_model::Measured;
    use crate::probe::MemorySnapshot;

    /// What happened, in order, as the fakes saw it.
    type Log = Rc<RefCell<Vec<String>>>;

    /// A fake model: each load, inference and unload takes the time it is told and says so in the log;
    /// its memory is what the log counts (models loaded and not unloaded, outputs alive).
    struct FakeLoader {
        log: Log,
        loads: usize,
    }

    struct FakeModel {
        log: Log,
        n: usize,
    }

    /// An output that says when it is dropped.
    struct FakeOutput {
        log: Log,
        n: usize,
    }

    impl Drop for FakeOutput {
        fn drop(&mut self) {
            self.log.borrow_mut().push(format!("drop outputs {}", self.n));
        }
    }

    impl Loader for FakeLoader {
        type Model = FakeModel;
        fn load(&mut self) -> Result<(FakeModel, f64)> {
            self.loads += 1;
            self.log.borrow_mut().push(format!("load {}", self.loads));
            Ok((FakeModel { log: Rc::clone(&self.log), n: self.loads }, 100.0 * self.loads as f64))
        }
    }

    impl Measured for FakeModel {
        type Outputs = FakeOutput;
        fn run_keeping_outputs(&mut self) -> Result<(f64, FakeOutput)> {
            self.log.borrow_mut().push(format!("run {}", self.n));
            Ok((10.0 * self.n as f64, FakeOutput { log: Rc::clone(&self.log), n: self.n }))
        }
        fn unload(self) -> f64 {
            self.log.borrow_mut().push(format!("unload {}", self.n));
            self.n as f64
        }
    }

    impl Drop for FakeModel {
        fn drop(&mut self) {
            self.log.borrow_mut().push(format!("drop model {}", self.n));
        }
    }

    /// A meter whose RSS is the number of log lines so far: every step moves it.
    struct FakeMeter {
        log: Log,
    }

    impl Meter for FakeMeter {
        fn phase(&mut self, phase: Phase) {
            self.log.borrow_mut().push(format!("phase {phase}"));
        }
        fn snapshot(&self) -> MemorySnapshot {
            let mut s = MemorySnapshot::default();
            s.process.rss_mb = Some(self.log.borrow().len() as f64);
            s
        }
    }

    fn fakes() -> (Log, FakeMeter, FakeLoader) {
        let log = Log::default();
        (Rc::clone(&log), FakeMeter { log: Rc::clone(&log) }, FakeLoader { log, loads: 0 })
    }

    #[test]
    fn each_cycle_loads_runs_and_unloads_once_in_its_phase() {
        let (log, mut meter, mut loader) = fakes();
        let cycles = cycles(&mut meter, &mut loader, 3, Keep::default()).unwrap();
        assert_eq!(cycles.len(), 3);
        assert_eq!(loader.loads, 3);
        let want: Vec<String> = (1..=3)
            .flat_map(|n| {
                let phase = format!("phase {}", Phase::Cycle(n));
                [
                    phase,
                    format!("load {n}"),
                    format!("run {n}"),
                    format!("drop outputs {n}"),
                    format!("unload {n}"),
                    format!("drop model {n}"),
                ]
            })
            .collect();
        assert_eq!(*log.borrow(), want);
    }

    #[test]
    fn a_cycle_records_the_models_own_times_and_memory_after_each_step() {
        let (_log, mut meter, mut loader) = fakes();
        let cycles = cycles(&mut meter, &mut loader, 2, Keep::default()).unwrap();
        let times: Vec<(f64, f64, f64)> = cycles.iter().map(|c| (c.load_time_ms, c.first_inference_ms, c.unload_time_ms)).collect();
        assert_eq!(times, [(100.0, 10.0, 1.0), (200.0, 20.0, 2.0)]);
        // Read after the inference (outputs alive), after the unload, after the trim: in that order.
        let rss = |s: &MemorySnapshot| s.process.rss_mb.unwrap();
        let c = &cycles[0];
        assert_eq!((rss(&c.after_first_inference), rss(&c.after_unload), rss(&c.after_trim)), (3.0, 6.0, 6.0));
    }

    #[test]
    fn a_deliberate_leak_keeps_outputs_and_sessions_to_the_end() {
        let (log, mut meter, mut loader) = fakes();
        let cycles = cycles(&mut meter, &mut loader, 2, Keep { outputs: true, sessions: true }).unwrap();
        assert!(cycles.iter().all(|c| c.unload_time_ms == 0.0), "a kept session is never unloaded");
        let log = log.borrow();
        assert!(!log.iter().any(|l| l.starts_with("unload")), "{log:?}");
        // Nothing is dropped until the last cycle is measured; then the outputs go first.
        assert_eq!(log[log.len() - 4..], ["drop outputs 1", "drop outputs 2", "drop model 1", "drop model 2"]);
        assert_eq!(log.iter().filter(|l| l.starts_with("drop")).count(), 4);
    }
}
