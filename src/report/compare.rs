//! Runs of one machine compared, hyperfine's way: every later run against the first, figure by
//! figure, each side a median with its spread over fresh workers; a change is only a change where it
//! is larger than the two runs' noise. `--fail-on-regression PCT` asks [`regressions`] which
//! changes make a CI pipeline fail.

use crate::report::{num, spread};
use crate::results::{Measurements, ResultsFile, SingleSummary};
use crate::stats::Summary;

use super::sections::Section;

/// Which way a figure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Lower,
    Higher,
}

/// One figure of the single scenario that runs are compared on.
struct Figure {
    name: &'static str,
    better: Better,
    get: fn(&SingleSummary) -> Option<&Summary>,
}

const FIGURES: [Figure; 6] = [
    Figure { name: "fresh worker load ms", better: Better::Lower, get: |s| s.first_load_ms.as_ref() },
    Figure { name: "load ms", better: Better::Lower, get: |s| s.load_time_ms.as_ref() },
    Figure { name: "first inference ms", better: Better::Lower, get: |s| s.first_inference_ms.as_ref() },
    Figure { name: "p50 ms", better: Better::Lower, get: |s| s.steady_p50_ms.as_ref() },
    Figure { name: "memory +MB", better: Better::Lower, get: |s| s.memory_increase_mb.as_ref() },
    Figure { name: "reclaimed %", better: Better::Higher, get: |s| s.reclamation_percentage.as_ref() },
];

/// What a later run's figure did against the first run's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// The ranges over fresh workers overlap: no change can be told.
    WithinNoise,
    /// Beyond both runs' noise; `pct` is the change of the median, signed as measured.
    Better {
        pct: f64,
    },
    Worse {
        pct: f64,
    },
    /// A side has one sample, so its noise is unknown: the change is the medians' alone.
    NoiseUnknown {
        pct: f64,
        worse: bool,
    },
}

/// One figure of one trial, a later run against the first.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub trial: String,
    pub figure: &'static str,
    pub run: String,
    pub first: Summary,
    pub later: Summary,
    pub verdict: Verdict,
}

impl Change {
    /// Worse than the first run by more than `pct` percent, and beyond the noise where it is known.
    pub(crate) fn regresses_by_more_than(&self, pct: f64) -> bool {
        match self.verdict {
            Verdict::Worse { pct: p } => p.abs() > pct,
            Verdict::NoiseUnknown { pct: p, worse: true } => p.abs() > pct,
            _ => false,
        }
    }

    fn ratio(&self) -> Option<f64> {
        (self.first.median.abs() > 1e-9).then(|| self.later.median / self.first.median)
    }

    /// The cell that says it: "0.56x, better by 43.8%", "1.02x, within noise".
    fn describe(&self) -> String {
        let ratio = num(self.ratio(), 2);
        match self.verdict {
            Verdict::WithinNoise => format!("{ratio}x, within noise"),
            Verdict::Better { pct } => format!("{ratio}x, better by {:.1}%", pct.abs()),
            Verdict::Worse { pct } => format!("{ratio}x, WORSE by {:.1}%", pct.abs()),
            Verdict::NoiseUnknown { pct, worse } => {
                format!("{ratio}x, {} by {:.1}% (one sample: noise unknown)", if worse { "worse" } else { "better" }, pct.abs())
            }
        }
    }
}

/// Judges `later` against `first` for a figure that gets better in direction `better`.
pub(crate) fn judge(first: &Summary, later: &Summary, better: Better) -> Verdict {
    let pct = if first.median.abs() > 1e-9 { (later.median - first.median) / first.median.abs() * 100.0 } else { 0.0 };
    let worse = match better {
        Better::Lower => later.median > first.median,
        Better::Higher => later.median < first.median,
    };
    if first.n < 2 || later.n < 2 {
        Verdict::NoiseUnknown { pct, worse }
    } else if first.overlaps(later) {
        Verdict::WithinNoise
    } else if worse {
        Verdict::Worse { pct }
    } else {
        Verdict::Better { pct }
    }
}

/// Every figure of every single trial the first run shares with a later one, later run by later run.
pub(crate) fn changes(runs: &[(String, &ResultsFile)]) -> Vec<Change> {
    let Some(((_, first), later)) = runs.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    for (label, run) in later {
        for t in &first.trials {
            let (Some(a), Some(b)) = (single(first, &t.id), single(run, &t.id)) else { continue };
            for f in &FIGURES {
                let (Some(x), Some(y)) = ((f.get)(a), (f.get)(b)) else { continue };
                out.push(Change {
                    trial: t.id.clone(),
                    figure: f.name,
                    run: label.clone(),
                    first: x.clone(),
                    later: y.clone(),
                    verdict: judge(x, y, f.better),
                });
            }
        }
    }
    out
}

fn single<'a>(r: &'a ResultsFile, id: &str) -> Option<&'a SingleSummary> {
    r.trials.iter().find(|t| t.id == id && t.outcome.is_ok()).and_then(|t| match &t.measurements {
        Some(Measurements::Single(m)) => Some(&m.summary),
        _ => None,
    })
}

/// The changes that fail `--fail-on-regression PCT`.
pub(crate) fn regressions(changes: &[Change], pct: f64) -> Vec<&Change> {
    changes.iter().filter(|c| c.regresses_by_more_than(pct)).collect()
}

/// The comparison table: one row per trial and figure, the first run's median (min..max), then for
/// each later run its own and how it compares.
pub(crate) fn section(runs: &[(String, &ResultsFile)]) -> Option<Section> {
    let changes = changes(runs);
    if changes.is_empty() {
        return None;
    }
    let letters: Vec<String> = (0..runs.len()).map(letter).collect();
    let mut header = vec!["Trial".to_string(), "Figure".to_string(), format!("A: {}", runs[0].0)];
    for (i, (label, _)) in runs.iter().enumerate().skip(1) {
        header.push(format!("{}: {label}", letters[i]));
        header.push(format!("{} vs A", letters[i]));
    }
    let mut s = Section::with_header("Comparison (scenario single)", header);
    // One row per (trial, figure) in the first run's order, whatever later runs hold it.
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for c in &changes {
        if !keys.contains(&(c.trial.as_str(), c.figure)) {
            keys.push((c.trial.as_str(), c.figure));
        }
    }
    for (trial, figure) in keys {
        let mine: Vec<&Change> = changes.iter().filter(|c| c.trial == trial && c.figure == figure).collect();
        let mut row = vec![trial.to_string(), figure.to_string(), spread(Some(&mine[0].first), 2, false)];
        for (label, _) in runs.iter().skip(1) {
            match mine.iter().find(|c| &c.run == label) {
                Some(c) => row.extend([spread(Some(&c.later), 2, false), c.describe()]),
                None => row.extend(["—".to_string(), "—".to_string()]),
            }
        }
        s.rows.push(row);
    }
    let worse = changes.iter().filter(|c| matches!(c.verdict, Verdict::Worse { .. })).count();
    let better = changes.iter().filter(|c| matches!(c.verdict, Verdict::Better { .. })).count();
    let noise = changes.iter().filter(|c| c.verdict == Verdict::WithinNoise).count();
    let unknown = changes.len() - worse - better - noise;
    s.notes.push(format!(
        "Each later run against A, the first given. Median (min..max) over each run's fresh workers; a change is marked only where the two ranges do not overlap, otherwise it is within noise. Here: {worse} worse, {better} better, {noise} within noise, {unknown} with one sample on a side (noise unknown: run --workers 3 or more). Runs compare best on one machine; a fleet's report compares its hosts instead."
    ));
    Some(s)
}

/// A, B, ... Z, then AA, AB: a column letter per run.
fn letter(i: usize) -> String {
    let mut i = i;
    let mut s = String::new();
    loop {
        s.insert(0, char::from(b'A' + (i % 26) as u8));
        if i < 26 {
            return s;
        }
        i = i / 26 - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(samples: &[f64]) -> Summary {
        Summary::of(samples).unwrap()
    }

    #[test]
    fn a_change_counts_only_beyond_both_runs_ranges() {
        let a = s(&[100.0, 104.0, 110.0]);
        assert_eq!(judge(&a, &s(&[108.0, 112.0, 115.0]), Better::Lower), Verdict::WithinNoise, "108 <= 110: the ranges overlap");
        let Verdict::Worse { pct } = judge(&a, &s(&[120.0, 126.0, 130.0]), Better::Lower) else { panic!() };
        assert!((pct - 21.15).abs() < 0.01, "{pct}");
        assert!(matches!(judge(&a, &s(&[50.0, 52.0, 60.0]), Better::Lower), Verdict::Better { .. }));
        // Reclaimed % gets better upwards.
        assert!(matches!(judge(&a, &s(&[50.0, 52.0, 60.0]), Better::Higher), Verdict::Worse { .. }));
        assert_eq!(judge(&s(&[100.0]), &s(&[130.0, 131.0]), Better::Lower), Verdict::NoiseUnknown { pct: 30.5, worse: true });
    }

    #[test]
    fn regressions_need_the_threshold_and_to_be_beyond_noise() {
        let change =
            |verdict| Change { trial: "t".into(), figure: "load ms", run: "b".into(), first: s(&[1.0]), later: s(&[1.0]), verdict };
        assert!(change(Verdict::Worse { pct: 21.0 }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::Worse { pct: 19.0 }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::Better { pct: -50.0 }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::WithinNoise).regresses_by_more_than(0.0));
        assert!(change(Verdict::NoiseUnknown { pct: 25.0, worse: true }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::NoiseUnknown { pct: -25.0, worse: false }).regresses_by_more_than(20.0));
    }

    #[test]
    fn run_letters_go_past_z() {
        assert_eq!([0, 1, 25, 26, 27].map(letter), ["A", "B", "Z", "AA", "AB"]);
    }
}
