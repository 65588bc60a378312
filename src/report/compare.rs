//! Runs of one machine compared, hyperfine's and criterion's way: every later run against the first,
//! figure by figure, each side the values of its fresh workers. A change is called only where a rank
//! test over both sides' samples says it is real (Mann-Whitney, p below [`Rules::alpha`]) and it is
//! at least [`Rules::min_effect_pct`]; its size is the ratio of the medians with a bootstrap interval.
//! Settings that differ between the runs are listed above the comparison, and outliers, drift within
//! a worker and a busy machine are warned about. `--fail-on-regression PCT` asks [`regressions`]
//! which changes make a CI pipeline fail: significant, and worse by more than PCT.

use std::collections::BTreeMap;

use crate::report::{num, spread};
use crate::results::{Measurements, ResultsFile, SingleResult, SingleTrial};
use crate::stats::{self, Summary};

use super::sections::Section;

/// The rules a comparison judges by, in one place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rules {
    /// A change is significant where the rank test's two-sided p is below this.
    pub alpha: f64,
    /// Changes of the median smaller than this (percent) are called no change, however significant:
    /// a 0.3 % memory change is not worth a failed pipeline (`mora report --min-effect PCT`).
    pub min_effect_pct: f64,
    /// Samples (fresh workers) a side needs before the comparison can tell anything: with 3 and 3
    /// the rank test's smallest p is 0.1; with 5 and 5 it is 0.008.
    pub min_samples: usize,
}

impl Rules {
    pub(crate) const DEFAULT: Rules = Rules { alpha: 0.05, min_effect_pct: 5.0, min_samples: 5 };
}

/// The rules of this process: `mora report --min-effect` sets them once, before anything is
/// rendered, so every format and the gate judge alike; the defaults otherwise.
static RULES: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();

pub(crate) fn set_rules(rules: Rules) {
    let _ = RULES.set(rules);
}

pub(crate) fn rules() -> Rules {
    RULES.get().copied().unwrap_or(Rules::DEFAULT)
}

/// A sample farther than this many scaled MADs from its side's median is an outlier.
const OUTLIER_MADS: f64 = 3.0;
/// Drift within a worker: its first and last thirds of steady samples differ at this p and by at
/// least the minimum effect.
const DRIFT_ALPHA: f64 = 0.01;
/// Bootstrap resamples for the interval of the ratio, and its seed (the same runs give the same interval).
const RESAMPLES: usize = 2000;
const SEED: u64 = 0x6d6f_7261;

/// Which way a figure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Lower,
    Higher,
}

/// One figure of the single scenario that runs are compared on: its value in one fresh worker.
struct Figure {
    name: &'static str,
    better: Better,
    sample: fn(&SingleResult) -> Option<f64>,
}

const FIGURES: [Figure; 6] = [
    Figure {
        name: "fresh worker load ms",
        better: Better::Lower,
        sample: |w| Some(w.first_load.as_ref().map_or(w.load_time_ms, |f| f.load_time_ms)),
    },
    Figure { name: "load ms", better: Better::Lower, sample: |w| Some(w.load_time_ms) },
    Figure { name: "first inference ms", better: Better::Lower, sample: |w| Some(w.first_inference_ms) },
    Figure { name: "p50 ms", better: Better::Lower, sample: |w| w.steady.as_ref().map(|s| s.median) },
    Figure { name: "memory +MB", better: Better::Lower, sample: |w| w.figures.memory_increase_mb },
    Figure { name: "reclaimed %", better: Better::Higher, sample: |w| w.figures.reclamation_percentage },
];

/// What a later run's figure did against the first run's; `pct` is the change of the median,
/// signed as measured, `p` the rank test's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// The rank test cannot tell the two sides apart.
    NoChange {
        pct: f64,
        p: f64,
    },
    /// Not significant, and a side has fewer samples than [`Rules::min_samples`]: the comparison
    /// could not have told.
    TooFewSamples {
        pct: f64,
    },
    /// Significant, but smaller than the minimum effect.
    BelowMinimum {
        pct: f64,
        p: f64,
    },
    Better {
        pct: f64,
        p: f64,
    },
    Worse {
        pct: f64,
        p: f64,
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
    /// The bootstrap interval of later / first (medians), 95 %.
    pub ratio_interval: Option<(f64, f64)>,
}

impl Change {
    /// Worse than the first run, significantly, and by more than `pct` percent.
    pub(crate) fn regresses_by_more_than(&self, pct: f64) -> bool {
        matches!(self.verdict, Verdict::Worse { pct: p, .. } if p.abs() > pct)
    }

    pub(crate) fn ratio(&self) -> Option<f64> {
        (self.first.median.abs() > 1e-9).then(|| self.later.median / self.first.median)
    }

    /// The effect with its interval, e.g. "2.83x (2.61..3.02)".
    pub(crate) fn effect(&self) -> String {
        let ratio = num(self.ratio(), 2);
        match self.ratio_interval {
            Some((lo, hi)) => format!("{ratio}x ({lo:.2}..{hi:.2})"),
            None => format!("{ratio}x"),
        }
    }

    /// The cell that says it: "0.56x (0.52..0.60), better by 43.8% (p 0.008)".
    fn describe(&self, rules: &Rules) -> String {
        let effect = self.effect();
        match self.verdict {
            Verdict::NoChange { p, .. } => format!("{effect}, no change (p {p:.2})"),
            Verdict::TooFewSamples { .. } => format!(
                "{effect}, cannot tell: {} and {} samples ({} each needed: --workers {})",
                self.first.n, self.later.n, rules.min_samples, rules.min_samples
            ),
            Verdict::BelowMinimum { pct, p } => {
                format!("{effect}, {:.1}% is below the {}% minimum effect (p {p:.3})", pct.abs(), rules.min_effect_pct)
            }
            Verdict::Better { pct, p } => format!("{effect}, better by {:.1}% (p {p:.3})", pct.abs()),
            Verdict::Worse { pct, p } => format!("{effect}, WORSE by {:.1}% (p {p:.3})", pct.abs()),
        }
    }
}

/// Judges the samples `later` against `first` for a figure that gets better in direction `better`.
pub(crate) fn judge(first: &[f64], later: &[f64], better: Better, rules: &Rules) -> Option<Verdict> {
    let (m1, m2) = (stats::median(first)?, stats::median(later)?);
    let pct = if m1.abs() > 1e-9 { (m2 - m1) / m1.abs() * 100.0 } else { 0.0 };
    let p = stats::mann_whitney(first, later)?.p;
    let worse = match better {
        Better::Lower => m2 > m1,
        Better::Higher => m2 < m1,
    };
    Some(if p >= rules.alpha {
        if first.len().min(later.len()) < rules.min_samples { Verdict::TooFewSamples { pct } } else { Verdict::NoChange { pct, p } }
    } else if pct.abs() < rules.min_effect_pct {
        Verdict::BelowMinimum { pct, p }
    } else if worse {
        Verdict::Worse { pct, p }
    } else {
        Verdict::Better { pct, p }
    })
}

/// Each fresh worker's value of `figure` in a trial, in the order they ran.
fn samples(trial: &SingleTrial, figure: &Figure) -> Vec<f64> {
    trial.workers.iter().filter_map(figure.sample).collect()
}

/// Every figure of every single trial the first run shares with a later one, later run by later run.
pub(crate) fn changes(runs: &[(String, &ResultsFile)], rules: &Rules) -> Vec<Change> {
    let Some(((_, first), later)) = runs.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    for (label, run) in later {
        for t in &first.trials {
            let (Some(a), Some(b)) = (single(first, &t.id), single(run, &t.id)) else { continue };
            for f in &FIGURES {
                let (x, y) = (samples(a, f), samples(b, f));
                let (Some(sx), Some(sy), Some(verdict)) = (Summary::of(&x), Summary::of(&y), judge(&x, &y, f.better, rules)) else {
                    continue;
                };
                out.push(Change {
                    trial: t.id.clone(),
                    figure: f.name,
                    run: label.clone(),
                    first: sx,
                    later: sy,
                    verdict,
                    ratio_interval: stats::bootstrap_median_ratio(&x, &y, RESAMPLES, 0.95, SEED),
                });
            }
        }
    }
    out
}

fn single<'a>(r: &'a ResultsFile, id: &str) -> Option<&'a SingleTrial> {
    r.trials.iter().find(|t| t.id == id && t.outcome.is_ok()).and_then(|t| match &t.measurements {
        Some(Measurements::Single(m)) => Some(m.as_ref()),
        _ => None,
    })
}

/// The changes that fail `--fail-on-regression PCT`.
pub(crate) fn regressions(changes: &[Change], pct: f64) -> Vec<&Change> {
    changes.iter().filter(|c| c.regresses_by_more_than(pct)).collect()
}

/// What can make a run's figures noise, per run: outliers among its workers, drift within a worker's
/// steady samples (first third against last third), and a busy machine (load above the cores, steal).
/// CPU frequency is not recorded by a run, so it is not judged.
pub(crate) fn noise_warnings(runs: &[(String, &ResultsFile)], rules: &Rules) -> Vec<String> {
    let Some((_, first)) = runs.first() else { return vec![] };
    let mut out = Vec::new();
    for (label, run) in runs {
        for t in first.trials.iter().filter(|t| single(run, &t.id).is_some()) {
            let trial = single(run, &t.id).expect("filtered above");
            for f in &FIGURES {
                let xs = samples(trial, f);
                let Some(m) = stats::median(&xs).filter(|_| xs.len() >= rules.min_samples) else { continue };
                // Among fewer samples the MAD is one of the deviations; a tiny deviation is no news.
                let large = |i: &usize| (xs[*i] - m).abs() >= m.abs() * rules.min_effect_pct / 100.0;
                for i in stats::outliers(&xs, OUTLIER_MADS).into_iter().filter(large) {
                    out.push(format!(
                        "{label}: {} {}: worker {} gave {:.2} against a median of {:.2} over {} workers (an outlier, beyond {OUTLIER_MADS} MADs)",
                        t.id,
                        f.name,
                        i + 1,
                        xs[i],
                        m,
                        xs.len()
                    ));
                }
            }
            for (i, w) in trial.workers.iter().enumerate() {
                let third = w.steady_ms.len() / 3;
                if third < 3 {
                    continue;
                }
                let (head, tail) = (&w.steady_ms[..third], &w.steady_ms[w.steady_ms.len() - third..]);
                let (Some(h), Some(l), Some(test)) = (stats::median(head), stats::median(tail), stats::mann_whitney(head, tail)) else {
                    continue;
                };
                let pct = if h.abs() > 1e-9 { (l - h) / h * 100.0 } else { 0.0 };
                if test.p < DRIFT_ALPHA && pct.abs() >= rules.min_effect_pct {
                    out.push(format!(
                        "{label}: {} worker {}: the steady calls drifted from {h:.2} ms (first third) to {l:.2} ms (last third), {pct:+.0}%",
                        t.id,
                        i + 1
                    ));
                }
            }
        }
        let busy: Vec<_> = run.run.machine_load.iter().filter(|m| m.busy()).collect();
        if !busy.is_empty() {
            let load = busy.iter().filter_map(|m| m.load_1m).fold(f64::NAN, f64::max);
            let steal = busy.iter().filter_map(|m| m.steal_pct).fold(f64::NAN, f64::max);
            out.push(format!(
                "{label}: the machine was busy in {} of {} load samples (load average up to {}, steal up to {}%, {} cores)",
                busy.len(),
                run.run.machine_load.len(),
                num(Some(load), 2),
                num(Some(steal), 1),
                busy[0].cores
            ));
        }
    }
    out
}

/// The settings of a run that can change its figures, as (name, value): versions, machine, trial
/// settings, and each provider's setup as the trials record it.
fn settings_of(r: &ResultsFile) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut flatten = |prefix: &str, value: serde_json::Value| flatten_into(&mut out, prefix, &value);
    flatten("mora", serde_json::json!({"version": r.run.tool.version, "commit": r.run.tool.git_commit}));
    flatten("ONNX Runtime", serde_json::json!({"version": r.run.runtime.version}));
    flatten("host", serde_json::to_value(&r.run.host).unwrap_or_default());
    flatten("settings", serde_json::to_value(&r.run.settings).unwrap_or_default());
    flatten("models.yaml", serde_json::json!({"sha256": r.run.config.sha256.chars().take(12).collect::<String>()}));
    for t in &r.trials {
        let provider = serde_json::to_value(t.provider).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        flatten(&format!("{provider} setup"), serde_json::to_value(&t.provider_setup).unwrap_or_default());
    }
    out
}

fn flatten_into(out: &mut BTreeMap<String, String>, prefix: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten_into(out, &format!("{prefix}.{k}"), v);
            }
        }
        serde_json::Value::Null => {
            out.entry(prefix.to_string()).or_insert_with(|| "—".into());
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// The settings that differ between the runs, one row each: what a reader must know before the
/// figures are compared (`--intra-threads 1` in one run makes its latency no regression of the code).
pub(crate) fn settings_section(runs: &[(String, &ResultsFile)]) -> Option<Section> {
    let all: Vec<BTreeMap<String, String>> = runs.iter().map(|(_, r)| settings_of(r)).collect();
    let mut keys: Vec<&String> = all.iter().flat_map(|m| m.keys()).collect();
    keys.sort();
    keys.dedup();
    // Numbers within 1 % are one setting (the RAM the kernel reports moves by a few hundred KB).
    let same = |a: Option<&String>, b: Option<&String>| match (a.and_then(|a| a.parse::<f64>().ok()), b.and_then(|b| b.parse::<f64>().ok()))
    {
        (Some(x), Some(y)) => (x - y).abs() <= x.abs().max(y.abs()) * 0.01,
        _ => a == b,
    };
    let differing: Vec<&String> = keys.into_iter().filter(|k| all.iter().any(|m| !same(m.get(*k), all[0].get(*k)))).collect();
    if differing.is_empty() {
        return None;
    }
    let mut header = vec!["Setting".to_string()];
    header.extend(runs.iter().enumerate().map(|(i, (label, _))| format!("{}: {label}", letter(i))));
    let mut s = Section::with_header("Settings that differ between the runs", header);
    for k in differing {
        let mut row = vec![k.clone()];
        row.extend(all.iter().map(|m| m.get(k).cloned().unwrap_or_else(|| "—".into())));
        s.rows.push(row);
    }
    s.notes.push("A figure that changed with one of these settings may be the setting's doing, not the code's.".into());
    Some(s)
}

/// The sections a comparison adds: the settings that differ, then the comparison table, one row per
/// trial and figure, the first run's median (min..max), then for each later run its own and how it
/// compares, with the warnings about noise under it.
pub(crate) fn sections(runs: &[(String, &ResultsFile)], rules: &Rules) -> Vec<Section> {
    let changes = changes(runs, rules);
    if changes.is_empty() {
        return vec![];
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
                Some(c) => row.extend([spread(Some(&c.later), 2, false), c.describe(rules)]),
                None => row.extend(["—".to_string(), "—".to_string()]),
            }
        }
        s.rows.push(row);
    }
    let count = |f: fn(&Verdict) -> bool| changes.iter().filter(|c| f(&c.verdict)).count();
    let worse = count(|v| matches!(v, Verdict::Worse { .. }));
    let better = count(|v| matches!(v, Verdict::Better { .. }));
    let small = count(|v| matches!(v, Verdict::BelowMinimum { .. }));
    let same = count(|v| matches!(v, Verdict::NoChange { .. }));
    let few = count(|v| matches!(v, Verdict::TooFewSamples { .. }));
    s.notes.push(format!(
        "Each later run against A, the first given. Median (min..max) over each run's fresh workers; the ratio of the medians with its 95% bootstrap interval. A change is called only where a Mann-Whitney rank test over both runs' workers gives p < {} and it is at least {}% (--min-effect). Here: {worse} worse, {better} better, {small} below the minimum effect, {same} no change, {few} with too few samples to tell (fewer than {} workers on a side: run --workers {} or more). Runs compare best on one machine; a fleet's report compares its hosts instead.",
        rules.alpha, rules.min_effect_pct, rules.min_samples, rules.min_samples
    ));
    s.notes.extend(noise_warnings(runs, rules).into_iter().map(|w| format!("warning: {w}")));
    settings_section(runs).into_iter().chain(std::iter::once(s)).collect()
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

    const RULES: Rules = Rules::DEFAULT;

    #[test]
    fn a_change_counts_only_where_the_rank_test_says_so_and_it_is_large_enough() {
        let a = [100.0, 104.0, 110.0, 98.0, 102.0];
        // Overlapping samples: no change.
        assert!(matches!(judge(&a, &[101.0, 99.0, 108.0, 103.0, 105.0], Better::Lower, &RULES), Some(Verdict::NoChange { .. })));
        // Every later sample above every first one: p = 2/252, worse by the medians' change.
        let Some(Verdict::Worse { pct, p }) = judge(&a, &[120.0, 126.0, 130.0, 125.0, 128.0], Better::Lower, &RULES) else { panic!() };
        assert!((pct - 23.53).abs() < 0.01 && (p - 2.0 / 252.0).abs() < 1e-12, "{pct} {p}");
        assert!(matches!(judge(&a, &[50.0, 52.0, 60.0, 51.0, 55.0], Better::Lower, &RULES), Some(Verdict::Better { .. })));
        // Reclaimed % gets better upwards.
        assert!(matches!(judge(&a, &[50.0, 52.0, 60.0, 51.0, 55.0], Better::Higher, &RULES), Some(Verdict::Worse { .. })));
        // Significant but tiny (memory "1.00x, WORSE by 0.3%"): below the minimum effect.
        let mem = [300.0, 300.1, 300.2, 300.3, 300.4];
        let Some(Verdict::BelowMinimum { pct, .. }) = judge(&mem, &mem.map(|x| x + 1.0), Better::Lower, &RULES) else { panic!() };
        assert!((pct - 0.33).abs() < 0.01, "{pct}");
        // Three workers a side cannot tell, however far apart.
        assert!(matches!(judge(&[1.0, 2.0, 3.0], &[7.0, 8.0, 9.0], Better::Lower, &RULES), Some(Verdict::TooFewSamples { .. })));
        // The minimum effect is configurable.
        let strict = Rules { min_effect_pct: 0.1, ..RULES };
        assert!(matches!(judge(&mem, &mem.map(|x| x + 1.0), Better::Lower, &strict), Some(Verdict::Worse { .. })));
    }

    #[test]
    fn one_outlier_does_not_make_a_regression() {
        // The case: one slow worker in B (49 ms against 17) moves no rank test.
        let a = [17.3, 17.1, 17.6, 17.4, 17.2];
        let b = [17.2, 49.0, 17.5, 17.3, 17.4];
        assert!(matches!(judge(&a, &b, Better::Lower, &RULES), Some(Verdict::NoChange { .. })));
    }

    #[test]
    fn regressions_need_the_threshold_and_significance() {
        let change = |verdict| Change {
            trial: "t".into(),
            figure: "load ms",
            run: "b".into(),
            first: Summary::of(&[1.0]).unwrap(),
            later: Summary::of(&[1.0]).unwrap(),
            verdict,
            ratio_interval: None,
        };
        assert!(change(Verdict::Worse { pct: 21.0, p: 0.01 }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::Worse { pct: 19.0, p: 0.01 }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::Better { pct: -50.0, p: 0.01 }).regresses_by_more_than(20.0));
        assert!(!change(Verdict::NoChange { pct: 80.0, p: 0.2 }).regresses_by_more_than(0.0));
        assert!(!change(Verdict::TooFewSamples { pct: 80.0 }).regresses_by_more_than(0.0));
        assert!(!change(Verdict::BelowMinimum { pct: 3.0, p: 0.01 }).regresses_by_more_than(0.0));
    }

    #[test]
    fn nested_settings_are_flattened_to_named_values() {
        let mut out = BTreeMap::new();
        flatten_into(&mut out, "cpu setup", &serde_json::json!({"cpu": {"intra_threads": 1, "arena": "on"}, "x": null}));
        assert_eq!(out.get("cpu setup.cpu.intra_threads").map(String::as_str), Some("1"));
        assert_eq!(out.get("cpu setup.cpu.arena").map(String::as_str), Some("on"));
        assert_eq!(out.get("cpu setup.x").map(String::as_str), Some("—"));
    }

    #[test]
    fn run_letters_go_past_z() {
        assert_eq!([0, 1, 25, 26, 27].map(letter), ["A", "B", "Z", "AA", "AB"]);
    }
}
