//! The levers' headline: time to first answer (a load and its first inference, the figure a request
//! that finds its model unloaded waits for), against what the hardware allows (the floor plus one
//! steady inference of the same configuration). The configuration chosen is the fastest to first answer whose outputs agree
//! with the default's and whose steady p50, over its sessions, is not worse than the default's
//! beyond noise; both judged with the comparison mora uses between runs ([`crate::report::compare`]:
//! a rank test and a minimum effect), and, where a side has too few samples for the rank test to
//! call anything, with a stated fallback on the samples themselves.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Lever;
use crate::report::compare::{self, Better, Verdict};
use crate::results::{LeverResult, LeversResult};
use crate::stats::{Summary, median};

/// Which way a figure moved against the default's, beyond noise or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Better,
    Worse,
    /// No change beyond noise (or below the minimum effect).
    Same,
}

/// A figure of one configuration against the default's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Against {
    pub direction: Direction,
    /// The change of the median, percent (positive: larger than the default's).
    pub change_pct: f64,
    /// How it was judged, in words ("+12% (p 0.008)", "+40%, every session slower than the
    /// default's median; 3 and 3 sessions are too few for the rank test").
    pub note: String,
}

/// `samples` against the default's, where lower is better: the rank test and the minimum effect
/// first; where a side has fewer samples than the rank test needs, a change is called only where
/// every sample lies beyond the default's median by more than the minimum effect. `None` where a
/// side has no samples.
pub(crate) fn against(default: &[f64], samples: &[f64], what: &str) -> Option<Against> {
    let rules = compare::rules();
    let verdict = compare::judge(default, samples, Better::Lower, &rules)?;
    let (d, s) = (median(default)?, median(samples)?);
    let pct = if d.abs() > 1e-9 { (s - d) / d.abs() * 100.0 } else { 0.0 };
    let effect = 1.0 + rules.min_effect_pct / 100.0;
    let (direction, note) = match verdict {
        Verdict::Worse { p, .. } => (Direction::Worse, format!("{pct:+.0}% (p {p:.3})")),
        Verdict::Better { p, .. } => (Direction::Better, format!("{pct:+.0}% (p {p:.3})")),
        Verdict::NoChange { p, .. } => (Direction::Same, format!("{pct:+.0}%, no change (p {p:.2})")),
        Verdict::BelowMinimum { p, .. } => {
            (Direction::Same, format!("{pct:+.0}%, below the {}% minimum effect (p {p:.3})", rules.min_effect_pct))
        }
        Verdict::TooFewSamples { .. } => {
            let few = format!("{} and {} {what} are too few for the rank test", default.len(), samples.len());
            let (lo, hi) = samples.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            if lo > d * effect {
                (
                    Direction::Worse,
                    format!(
                        "{pct:+.0}%, every one of its {what} slower than the default's median by more than {}%; {few}",
                        rules.min_effect_pct
                    ),
                )
            } else if hi * effect < d {
                (
                    Direction::Better,
                    format!(
                        "{pct:+.0}%, every one of its {what} faster than the default's median by more than {}%; {few}",
                        rules.min_effect_pct
                    ),
                )
            } else {
                (Direction::Same, format!("{pct:+.0}%, within noise; {few}"))
            }
        }
    };
    Some(Against { direction, change_pct: pct, note })
}

/// The configuration chosen for the fastest first answer, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Choice {
    pub lever: Lever,
    pub label: String,
    pub first_answer_ms: Summary,
    pub default_first_answer_ms: Summary,
    /// Its first answer against the default's (loads as samples).
    pub versus_default: Against,
    /// Faster than the default beyond noise: only then is it worth recommending.
    pub beats_default: bool,
    /// What the hardware allows this configuration: the floor plus its own steady p50 (median over
    /// its sessions), and its first answer's median over that.
    pub target_ms: Option<f64>,
    pub over_target: Option<f64>,
    /// The same for the default.
    pub default_target_ms: Option<f64>,
    pub default_over_target: Option<f64>,
    /// Configurations faster to first answer that were passed over, each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed_over: Vec<String>,
}

/// Why `lever` may not be chosen, where it may not: an error, no first answer, outputs that
/// differ, or a steady p50 worse than the default's beyond noise.
pub(crate) fn ineligible(lever: &LeverResult) -> Option<String> {
    if let Some(e) = &lever.error {
        return Some(format!("not tried: {e}"));
    }
    if lever.first_answer_ms.is_none() {
        return Some("no first answer measured".into());
    }
    if let Some(a) = lever.agreement.as_ref().filter(|a| !a.same) {
        return Some(format!("outputs differ from the default's ({})", a.note.as_deref().unwrap_or("beyond the tolerance")));
    }
    match &lever.steady_vs_default {
        Some(s) if s.direction == Direction::Worse => Some(format!("steady p50 worse than the default's: {}", s.note)),
        _ => None,
    }
}

impl LeverResult {
    /// The largest part of this configuration's first answer: a phase of its logged load, or the
    /// first inference (which pays for the pages a mapped load left) where that is larger.
    pub(crate) fn biggest_left(&self) -> Option<String> {
        let b = self.logged_breakdown.as_ref().or(self.breakdown.as_ref())?;
        let phase = b.biggest()?;
        let first = self.first_inference_ms.as_ref().map_or(0.0, |s| s.median);
        if first > phase.ms {
            let paged = self.weights.as_ref().map(|w| w.file_after_first_mb - w.file_after_load_mb).filter(|mb| *mb >= 1.0);
            let paging = paged.map(|mb| format!(", paging in {mb:.0} MB of mapped weights")).unwrap_or_default();
            return Some(format!("first inference {first:.0} ms{paging}"));
        }
        Some(format!("{} {:.0} ms of a {:.0} ms load", phase.phase.label(), phase.ms, b.wall_ms))
    }
}

fn tfa(l: &LeverResult) -> f64 {
    l.first_answer_ms.as_ref().map_or(f64::MAX, |s| s.median)
}

impl LeversResult {
    /// The default configuration's result, where it was measured.
    pub(crate) fn default_lever(&self) -> Option<&LeverResult> {
        self.levers.iter().find(|l| l.lever == Lever::Default && l.error.is_none())
    }

    /// What the hardware allows `lever` for a first answer: the floor plus one steady inference of
    /// its own (the median of its sessions' p50s): reading the bytes and answering once, warm.
    pub(crate) fn first_answer_target_ms(&self, lever: &LeverResult) -> Option<f64> {
        Some(self.floor.floor_ms? + lever.steady_p50_ms?).filter(|t| *t > 0.0)
    }

    /// `lever`'s first answer over its target.
    pub(crate) fn over_target(&self, lever: &LeverResult) -> Option<f64> {
        Some(lever.first_answer_ms.as_ref()?.median / self.first_answer_target_ms(lever)?)
    }

    /// The eligible configurations other than the default, fastest to first answer first.
    pub(crate) fn ranked(&self) -> Vec<&LeverResult> {
        let mut ranked: Vec<&LeverResult> = self.levers.iter().filter(|l| l.lever != Lever::Default && ineligible(l).is_none()).collect();
        ranked.sort_by(|a, b| tfa(a).total_cmp(&tfa(b)));
        ranked
    }

    /// Judges every configuration's steady p50 and first answer against the default's and chooses:
    /// what `mora bench` does after the trial and `mora report` again, so an older run is read with
    /// today's rule. A run without per-load first answers (recorded before them) chooses nothing.
    pub(crate) fn choose(&mut self) {
        let default = self.default_lever().map(|d| (d.steady_p50s_ms.clone(), d.first_answers_ms.clone()));
        for l in &mut self.levers {
            let (steady, first) = match (&default, l.lever == Lever::Default) {
                (Some((steady, first)), false) => {
                    (against(steady, &l.steady_p50s_ms, "sessions"), against(first, &l.first_answers_ms, "loads"))
                }
                _ => (None, None),
            };
            l.steady_vs_default = steady;
            l.first_answer_vs_default = first;
        }
        self.chosen = self.pick();
    }

    fn pick(&self) -> Option<Choice> {
        let default = self.default_lever()?;
        let default_first = default.first_answer_ms.clone()?;
        let best = self.ranked().into_iter().next().filter(|b| tfa(b) < default_first.median).unwrap_or(default);
        let passed_over = self
            .levers
            .iter()
            .filter(|l| l.lever != Lever::Default && tfa(l) < tfa(best))
            .filter_map(|l| ineligible(l).map(|why| format!("{}: {why}", l.label)))
            .collect();
        let first = best.first_answer_ms.clone()?;
        let versus_default = match &best.first_answer_vs_default {
            Some(a) => a.clone(),
            None => Against { direction: Direction::Same, change_pct: 0.0, note: "the default itself".into() },
        };
        Some(Choice {
            lever: best.lever.clone(),
            label: best.label.clone(),
            beats_default: versus_default.direction == Direction::Better,
            versus_default,
            target_ms: self.first_answer_target_ms(best),
            over_target: self.over_target(best),
            default_target_ms: self.first_answer_target_ms(default),
            default_over_target: self.over_target(default),
            first_answer_ms: first,
            default_first_answer_ms: default_first,
            passed_over,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::levers::floor::Floor;
    use crate::levers::outputs::Agreement;
    use crate::probe::MemorySnapshot;
    use crate::results::ProviderBaseline;

    fn lever(lever: Lever, loads: &[f64], p50s: &[f64]) -> LeverResult {
        LeverResult {
            label: lever.to_string(),
            lever,
            error: None,
            load_ms: Summary::of(loads),
            first_inference_ms: Summary::of(&loads.iter().map(|_| 10.0).collect::<Vec<_>>()),
            first_answers_ms: loads.iter().map(|l| l + 10.0).collect(),
            first_answer_ms: Summary::of(&loads.iter().map(|l| l + 10.0).collect::<Vec<_>>()),
            steady_p50s_ms: p50s.to_vec(),
            steady_p50_sessions_ms: Summary::of(p50s),
            steady_p50_ms: median(p50s),
            agreement: None,
            ..LeverResult::failed(Lever::Default, String::new())
        }
    }

    fn result(levers: Vec<LeverResult>) -> LeversResult {
        let floor = Floor { floor_ms: Some(4.0), ..Floor::default() };
        let mut r = LeversResult {
            provider_baseline: ProviderBaseline {
                init_ms: 0.0,
                first_run_ms: 0.0,
                before: MemorySnapshot::default(),
                after: MemorySnapshot::default(),
                rss_mb: None,
                gpu_mb: None,
            },
            floor,
            preoptimize_ms: None,
            levers,
            chosen: None,
        };
        r.choose();
        r
    }

    const DEFAULT_P50: [f64; 5] = [20.0, 20.5, 21.0, 19.8, 20.2];

    #[test]
    fn the_fastest_first_answer_that_agrees_and_keeps_pace_is_chosen() {
        let r = result(vec![
            lever(Lever::Default, &[200.0, 190.0, 210.0, 205.0, 195.0], &DEFAULT_P50),
            // Fastest, but every session's p50 is far slower: passed over, with the rank test's word.
            lever(Lever::Prepacking { on: false }, &[20.0, 21.0, 22.0, 20.5, 21.5], &[30.0, 31.0, 29.5, 30.5, 30.2]),
            lever(
                Lever::Load { from: super::super::LoadFrom::PreOptimizedPrepacked },
                &[50.0, 52.0, 51.0, 49.0, 50.5],
                &[20.1, 20.6, 19.9, 21.1, 20.3],
            ),
            lever(
                Lever::Optimization { level: crate::provider::setup::OptLevel::Basic },
                &[180.0, 185.0, 190.0, 182.0, 188.0],
                &DEFAULT_P50,
            ),
        ]);
        let c = r.chosen.as_ref().unwrap();
        assert_eq!(c.lever, Lever::Load { from: super::super::LoadFrom::PreOptimizedPrepacked });
        assert!(c.beats_default && c.versus_default.direction == Direction::Better, "{c:#?}");
        assert_eq!(c.target_ms, Some(4.0 + 20.3), "the floor plus its own median p50");
        assert!((c.over_target.unwrap() - 60.5 / 24.3).abs() < 1e-9);
        assert_eq!(c.default_target_ms, Some(4.0 + 20.2));
        assert!((c.default_over_target.unwrap() - 210.0 / 24.2).abs() < 1e-9);
        assert_eq!(c.passed_over.len(), 1, "{c:#?}");
        assert!(
            c.passed_over[0].starts_with("weight prepacking off: steady p50 worse") && c.passed_over[0].contains("(p 0.008)"),
            "{c:#?}"
        );
        let basic = &r.levers[3];
        assert_eq!(basic.steady_vs_default.as_ref().unwrap().direction, Direction::Same);
        assert_eq!(basic.first_answer_vs_default.as_ref().unwrap().direction, Direction::Better, "5 loads a side: the rank test can tell");
    }

    #[test]
    fn one_busy_default_session_does_not_let_a_slower_configuration_pass() {
        // The case: the default's third session ran on a busy machine. With three sessions a
        // side the rank test cannot call it; the fallback looks at every session against the
        // default's median, which one outlier does not move.
        let r = result(vec![
            lever(Lever::Default, &[300.0, 310.0, 305.0], &[133.0, 140.0, 342.0]),
            lever(Lever::Prepacking { on: false }, &[100.0, 101.0, 102.0], &[194.0, 195.0, 196.0]),
            lever(Lever::IntraThreads { threads: 2 }, &[290.0, 295.0, 299.0], &[130.0, 150.0, 138.0]),
        ]);
        let off = r.levers[1].steady_vs_default.as_ref().unwrap();
        assert_eq!(off.direction, Direction::Worse, "{off:?}");
        assert!(off.note.contains("too few for the rank test") && off.note.contains("+39%"), "{off:?}");
        let threads = r.levers[2].steady_vs_default.as_ref().unwrap();
        assert_eq!(threads.direction, Direction::Same, "{threads:?}");
        let c = r.chosen.unwrap();
        assert_eq!(c.lever, Lever::IntraThreads { threads: 2 });
        assert!(!c.beats_default, "290..299 against 300..310 over three loads is within noise: {c:#?}");
    }

    #[test]
    fn outputs_that_differ_and_errors_are_never_chosen_and_the_default_stays_when_nothing_beats_it() {
        let mut differs = lever(Lever::CpuArena { on: false }, &[10.0, 11.0, 12.0], &[20.0, 20.0, 20.0]);
        differs.agreement = Some(Agreement { same: false, max_abs_diff: 1.0, scale: 1.0, note: Some("differs by up to 1".into()) });
        let r = result(vec![
            lever(Lever::Default, &[100.0, 101.0, 99.0], &[20.0, 20.5, 19.5]),
            differs,
            LeverResult::failed(Lever::MappedInitializers, "not applicable here: ONNX Runtime said no".into()),
            lever(Lever::Optimization { level: crate::provider::setup::OptLevel::Basic }, &[120.0, 121.0, 119.0], &[20.0, 20.5, 19.5]),
        ]);
        let c = r.chosen.unwrap();
        assert_eq!(c.lever, Lever::Default);
        assert!(!c.beats_default);
        assert!(c.passed_over.iter().any(|p| p.contains("outputs differ")), "{c:#?}");
        assert!(ineligible(&r.levers[2]).unwrap().contains("ONNX Runtime said no"));
    }

    #[test]
    fn a_run_without_first_answers_chooses_nothing() {
        let mut old = lever(Lever::Default, &[100.0], &[20.0]);
        old.first_answer_ms = None;
        old.first_answers_ms.clear();
        let r = result(vec![old]);
        assert!(r.chosen.is_none());
    }
}
