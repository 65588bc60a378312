//! What `mora bench` says while it runs: one line per trial with how it ended, its time and an
//! estimate of what is left (from the trials of the same scenario that finished, else all of them),
//! warnings, notes, and the total at the end. `--quiet` keeps only notes about the machine and
//! failures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::output::{err, errln};
use crate::results::{Scenario, TrialRecord};
use crate::runner::Event;

pub(crate) struct Progress {
    quiet: bool,
    started: Instant,
    /// Seconds per finished trial, by scenario.
    done: BTreeMap<Scenario, Vec<f64>>,
    /// The scenarios of the trials still to run, in order.
    remaining: Vec<Scenario>,
}

impl Progress {
    pub(crate) fn new(quiet: bool, plan: &[crate::plan::PlannedTrial]) -> Progress {
        Progress { quiet, started: Instant::now(), done: BTreeMap::new(), remaining: plan.iter().map(|t| t.scenario).collect() }
    }

    pub(crate) fn on_event(&mut self, event: Event) {
        match event {
            Event::TrialStarted { index, total, trial } => {
                if !self.quiet {
                    err!("[{}/{}] {} ... ", index + 1, total, trial.id());
                }
            }
            Event::TrialFinished { record } => self.finished(record),
            Event::Note(note) => errln!("note: {note}"),
        }
    }

    fn finished(&mut self, record: &TrialRecord) {
        let secs = record.worker.wall_ms / 1000.0;
        self.done.entry(record.scenario).or_default().push(secs);
        if let Some(i) = self.remaining.iter().position(|s| *s == record.scenario) {
            self.remaining.remove(i);
        }
        let random = if record.weights.is_random() { " [random weights]" } else { "" };
        if self.quiet {
            if !record.outcome.is_ok() {
                errln!("{}: {}", record.id, record.outcome.summary());
            }
            return;
        }
        let left = self.estimate_left().map(|d| format!(", about {} left", duration(d))).unwrap_or_default();
        errln!("{} ({secs:.1} s){random} | {} elapsed{left}", record.outcome.summary(), duration(self.started.elapsed()));
        for warning in record.all_warnings() {
            errln!("  warning: {warning}");
        }
    }

    /// What the trials still to run should take, from the ones that finished.
    pub(crate) fn estimate_left(&self) -> Option<Duration> {
        let all: Vec<f64> = self.done.values().flatten().copied().collect();
        if all.is_empty() || self.remaining.is_empty() {
            return None;
        }
        let overall = all.iter().sum::<f64>() / all.len() as f64;
        let per = |s: &Scenario| self.done.get(s).map_or(overall, |v| v.iter().sum::<f64>() / v.len() as f64);
        Some(Duration::from_secs_f64(self.remaining.iter().map(per).sum()))
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// "42 s", "3 m 05 s", "1 h 02 m".
pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(Duration::from_secs(42)), "42 s");
        assert_eq!(duration(Duration::from_secs(185)), "3 m 05 s");
        assert_eq!(duration(Duration::from_secs(3720)), "1 h 02 m");
    }

    #[test]
    fn what_is_left_comes_from_the_same_scenario_first() {
        use crate::plan::PlannedTrial;
        use crate::runtime::Provider;
        let planned = |s| PlannedTrial { provider: Provider::CPU, scenario: s, models: vec!["m".into()], point: None };
        let mut p = Progress::new(true, &[planned(Scenario::Single), planned(Scenario::Cold), planned(Scenario::Single)]);
        assert_eq!(p.estimate_left(), None, "nothing finished: no estimate");
        p.done.insert(Scenario::Single, vec![2.0]);
        p.remaining = vec![Scenario::Cold, Scenario::Single];
        // Cold has no sample yet: the average of all (2 s); single: 2 s.
        assert_eq!(p.estimate_left(), Some(Duration::from_secs(4)));
        p.done.insert(Scenario::Cold, vec![10.0]);
        p.remaining = vec![Scenario::Single];
        assert_eq!(p.estimate_left(), Some(Duration::from_secs(2)));
    }
}
