//! The lifecycle rules a model server's manager applies, as pure functions of measured figures: from
//! which idle gap a keep-alive pays, whether a soak's growth rate crosses the seed's alert, which
//! memory limit held, which input shapes are worth running once at warm-up. The report, the advice
//! and the profile all judge with these.

use std::collections::BTreeMap;

use crate::results::recommendation::{Level, Recommendation, Topic};
use crate::results::{GrowthRate, IdleResult, LeakVerdict, LimitAttempt, LimitOutcome, Measurements, ShapeRun, TrialRecord};
use crate::runtime::Provider;
use crate::stats::Summary;

/// A startup probe waits for the p95 fresh-worker spawn-to-ready plus this share of it.
pub(crate) const STARTUP_PROBE_MARGIN: f64 = 0.5;

/// A first request this much slower than the busy median counts as a penalty...
pub(crate) const SLOW_FACTOR: f64 = 1.5;

/// ...and only when every sample of it is slower than the slowest busy request: noise is not a penalty.
fn clearly_slower(after: &Summary, busy: &Summary) -> bool {
    after.median > SLOW_FACTOR * busy.median && after.min > busy.max
}

/// The shortest idle gap after which the next request is clearly slower than a busy one; a
/// keep-alive at a shorter interval would avoid it. `None`: no penalty up to the longest gap tried.
pub(crate) fn keep_alive_from(idle: &IdleResult) -> Option<(f64, f64)> {
    let busy = idle.steady.as_ref()?;
    idle.gaps
        .iter()
        .filter(|g| g.gap_s > 0.0)
        .find(|g| g.latency.as_ref().is_some_and(|l| clearly_slower(l, busy)))
        .and_then(|g| g.latency.as_ref().map(|l| (g.gap_s, l.median - busy.median)))
}

/// The seed's alert on memory growth.
pub(crate) const LEAK_ALERT_MB_PER_HOUR: f64 = 50.0;

/// Fewer samples than this leave a rate's uncertainty unknown (two points fit any line exactly).
pub(crate) const MIN_SOAK_SAMPLES: usize = 5;

/// Why a soak's rate could not be judged against the alert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SoakTooShort {
    /// Fewer than [`MIN_SOAK_SAMPLES`] samples: the error of the slope cannot be told.
    FewSamples,
    /// The rate is above the alert, but the memory gained over the soak is less than the leak
    /// scenario's pass bound: a short soak's settling, extrapolated to an hour, is not yet a leak.
    LittleGrowth { grew_mb: f64 },
}

/// A growth rate over `duration_s` (the samples' span) against the alert, with its uncertainty (two standard errors):
/// clearly below is a pass; a fail needs the interval clearly above and, since a rate per hour from
/// seconds of samples extrapolates whatever the first cycles settle, more growth over the soak than
/// the leak scenario already passes; anything else is a caution that asks for a longer soak.
pub(crate) fn soak_verdict(rate: &GrowthRate, duration_s: f64) -> (LeakVerdict, Option<SoakTooShort>) {
    if rate.samples < MIN_SOAK_SAMPLES {
        return (LeakVerdict::Caution, Some(SoakTooShort::FewSamples));
    }
    let (mb_per_hour, two_se) = (rate.mb_per_hour, 2.0 * rate.stderr_mb_per_hour);
    if mb_per_hour + two_se < LEAK_ALERT_MB_PER_HOUR {
        return (LeakVerdict::Pass, None);
    }
    if mb_per_hour - two_se <= LEAK_ALERT_MB_PER_HOUR {
        return (LeakVerdict::Caution, None);
    }
    let grew_mb = mb_per_hour * duration_s / 3600.0;
    if grew_mb < super::rules::LEAK_CAUTION_MB {
        return (LeakVerdict::Caution, Some(SoakTooShort::LittleGrowth { grew_mb }));
    }
    (LeakVerdict::Fail, None)
}

impl std::fmt::Display for SoakTooShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SoakTooShort::FewSamples => write!(f, "fewer than {MIN_SOAK_SAMPLES} samples: the rate's error is unknown"),
            SoakTooShort::LittleGrowth { grew_mb } => write!(
                f,
                "grew {grew_mb:.1} MB over the soak, under the {:.0} MB the leak check passes: too short to call a leak",
                super::rules::LEAK_CAUTION_MB
            ),
        }
    }
}

/// The seed's per-worker limit: 1.5 x the footprint.
pub(crate) const SEED_LIMIT_MULTIPLIER: f64 = 1.5;

/// The smallest multiplier tried under which the worker loaded and answered, and whether it and
/// every larger one held (a limit that held at 1.25 but not at 1.5 would be noise, not a threshold).
pub(crate) fn smallest_limit_that_held(attempts: &[LimitAttempt]) -> Option<f64> {
    let mut sorted: Vec<&LimitAttempt> = attempts.iter().collect();
    sorted.sort_by(|a, b| a.multiplier.total_cmp(&b.multiplier));
    let first_failure_above = |m: f64| sorted.iter().any(|a| a.multiplier > m && a.outcome != LimitOutcome::Survived);
    sorted.iter().find(|a| a.outcome == LimitOutcome::Survived && !first_failure_above(a.multiplier)).map(|a| a.multiplier)
}

/// Whether the seed's 1.5x held; `None` where 1.5 was not tried.
pub(crate) fn seed_limit_holds(attempts: &[LimitAttempt]) -> Option<bool> {
    attempts.iter().find(|a| (a.multiplier - SEED_LIMIT_MULTIPLIER).abs() < 1e-9).map(|a| a.outcome == LimitOutcome::Survived)
}

/// Shapes whose first run is clearly slower than their steady state: worth running once at warm-up.
pub(crate) fn shapes_worth_warming(shapes: &[ShapeRun]) -> Vec<&ShapeRun> {
    shapes
        .iter()
        .filter(|s| match (s.first_ms, s.steady.as_ref()) {
            (Some(first), Some(st)) => first > SLOW_FACTOR * st.median && first > st.max,
            _ => false,
        })
        .collect()
}

/// The lifecycle recommendations of one provider: keep-alive, soak, memory limit, shapes, startup
/// probe; each only where its scenario ran.
pub(crate) fn recommend(provider: Provider, trials: &[&TrialRecord], label: &dyn Fn(&str) -> String) -> Vec<Recommendation> {
    [
        keep_alive(provider, trials, label),
        soak(provider, trials, label),
        memory_limit(provider, trials, label),
        shapes(provider, trials, label),
        startup_probe(provider, trials, label),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn measured<'a, T>(trials: &[&'a TrialRecord], pick: impl Fn(&'a Measurements) -> Option<&'a T>) -> Vec<(&'a TrialRecord, &'a T)> {
    trials.iter().filter_map(|t| t.measurements.as_ref().and_then(&pick).map(|m| (*t, m))).collect()
}

fn keep_alive(provider: Provider, trials: &[&TrialRecord], label: &dyn Fn(&str) -> String) -> Option<Recommendation> {
    let rows = measured(trials, |m| if let Measurements::Idle(x) = m { Some(x.as_ref()) } else { None });
    if rows.is_empty() {
        return None;
    }
    let mut evidence = Vec::new();
    let mut figures = BTreeMap::new();
    let mut shortest: Option<f64> = None;
    for (t, m) in &rows {
        let busy = m.steady.as_ref().map_or(0.0, |s| s.median);
        let longest = m.gaps.iter().map(|g| g.gap_s).fold(0.0, f64::max);
        figures.insert(format!("{}.busy_p50_ms", t.model()), busy);
        figures.insert(format!("{}.longest_gap_s", t.model()), longest);
        match keep_alive_from(m) {
            Some((gap, extra)) => {
                shortest = Some(shortest.map_or(gap, |s: f64| s.min(gap)));
                figures.insert(format!("{}.keep_alive_from_s", t.model()), gap);
                evidence.push(format!(
                    "{}: after {gap} s idle the next request takes +{extra:.1} ms over a busy {busy:.1} ms",
                    label(t.model())
                ));
            }
            None => evidence.push(format!("{}: no penalty after idle gaps up to {longest} s (busy {busy:.1} ms)", label(t.model()))),
        }
    }
    let (level, action) = match shortest {
        Some(gap) => (
            Level::Moderate,
            format!(
                "ping idle models more often than every {gap} s where first-request latency matters (or unload them after the gap: they pay the penalty anyway); the penalty is per request, not a reload"
            ),
        ),
        None => (Level::Excellent, "no keep-alive needed for latency: an idle model answers as fast as a busy one".into()),
    };
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::KeepAlive,
        provider,
        level,
        verdict: match shortest {
            Some(gap) => format!("Idle models answer slower from {gap} s of idleness"),
            None => "Idle models answer as fast as busy ones".into(),
        },
        action,
        evidence,
        figures,
    })
}

fn soak(provider: Provider, trials: &[&TrialRecord], label: &dyn Fn(&str) -> String) -> Option<Recommendation> {
    let rows = measured(trials, |m| if let Measurements::Soak(x) = m { Some(x.as_ref()) } else { None });
    let mut evidence = Vec::new();
    let mut figures = BTreeMap::new();
    let mut worst = None;
    for (t, m) in &rows {
        for (phase, p) in [("cycling", &m.cycling), ("resident", &m.resident)] {
            for (what, rate) in [("RAM", &p.rss), ("VRAM", &p.vram)] {
                let Some(g) = rate else { continue };
                let (v, too_short) = soak_verdict(g, p.sampled_s());
                worst = Some(worst.map_or(v, |w: LeakVerdict| w.max(v)));
                figures.insert(format!("{}.{phase}.{what}.mb_per_hour", t.model()), g.mb_per_hour);
                evidence.push(format!(
                    "{} {phase} {what}: {v} {:+.1} ± {:.1} MB/hour over {:.0} s ({} samples){}",
                    label(t.model()),
                    g.mb_per_hour,
                    2.0 * g.stderr_mb_per_hour,
                    p.sampled_s(),
                    g.samples,
                    too_short.map_or(String::new(), |why| format!("; {why}"))
                ));
            }
        }
    }
    let worst = worst?;
    let (level, action) = match worst {
        LeakVerdict::Pass => {
            (Level::Excellent, format!("no growth near the {LEAK_ALERT_MB_PER_HOUR:.0} MB/hour alert; keep the alert in production"))
        }
        LeakVerdict::Caution => (
            Level::Moderate,
            "too short or too uncertain to judge against the alert: soak longer (--soak-duration 10m) before trusting it".into(),
        ),
        LeakVerdict::Fail => (
            Level::Poor,
            format!(
                "memory grows faster than {LEAK_ALERT_MB_PER_HOUR:.0} MB/hour: recycle workers on a schedule or isolate the model, and alert on it"
            ),
        ),
    };
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::SoakRate,
        provider,
        level,
        verdict: format!("{worst}: memory growth over time against the {LEAK_ALERT_MB_PER_HOUR:.0} MB/hour alert"),
        action,
        evidence,
        figures,
    })
}

fn memory_limit(provider: Provider, trials: &[&TrialRecord], label: &dyn Fn(&str) -> String) -> Option<Recommendation> {
    let rows = measured(trials, |m| if let Measurements::MemoryLimit(x) = m { Some(x.as_ref()) } else { None });
    let mut evidence = Vec::new();
    let mut figures = BTreeMap::new();
    let mut needs_more = Vec::new();
    let mut any = false;
    for (t, m) in &rows {
        for (what, attempts) in [("RAM", &m.ram), ("VRAM", &m.vram)] {
            if attempts.is_empty() {
                continue;
            }
            any = true;
            let held = smallest_limit_that_held(attempts);
            let seed = seed_limit_holds(attempts);
            if let Some(h) = held {
                figures.insert(format!("{}.{what}.smallest_limit_multiplier", t.model()), h);
            }
            if seed == Some(false) {
                needs_more.push(format!("{} ({what})", label(t.model())));
            }
            evidence.push(format!(
                "{} {what}: smallest multiplier that held {}; the seed's 1.5x {}",
                label(t.model()),
                held.map_or("none of those tried".into(), |h| format!("{h}x")),
                match seed {
                    Some(true) => "holds",
                    Some(false) => "FAILS",
                    None => "was not tried",
                }
            ));
        }
        if m.ram.is_empty() {
            if let crate::results::RamLimit::Unavailable(why) = &m.mechanism {
                evidence.push(format!("{}: no RAM limit could be set here: {why}", label(t.model())));
            }
        }
    }
    if !any && evidence.is_empty() {
        return None;
    }
    let (level, action) = if needs_more.is_empty() && any {
        (
            Level::Good,
            "set per-worker limits at 1.5 x the footprint plus the baseline, as the seed says: it held for every model here".to_string(),
        )
    } else if any {
        (
            Level::Poor,
            format!(
                "1.5 x is too tight for {}: set those limits at the smallest multiplier that held plus a margin",
                needs_more.join(", ")
            ),
        )
    } else {
        (Level::Moderate, "the rule could not be checked here".to_string())
    };
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::MemoryLimit,
        provider,
        level,
        verdict: "Per-worker memory limits, checked".into(),
        action,
        evidence,
        figures,
    })
}

fn shapes(provider: Provider, trials: &[&TrialRecord], label: &dyn Fn(&str) -> String) -> Option<Recommendation> {
    let rows = measured(trials, |m| if let Measurements::Shapes(x) = m { Some(x.as_ref()) } else { None });
    if rows.is_empty() {
        return None;
    }
    let mut evidence = Vec::new();
    let mut total = 0;
    for (t, m) in &rows {
        let warm = shapes_worth_warming(&m.shapes);
        total += warm.len();
        let list: Vec<String> = warm
            .iter()
            .map(|s| {
                format!(
                    "{}x{} ({:.0} ms first, {:.0} ms steady)",
                    s.batch_size,
                    s.sequence_length.map_or("-".into(), |q| q.to_string()),
                    s.first_ms.unwrap_or_default(),
                    s.steady.as_ref().map_or(0.0, |x| x.median)
                )
            })
            .collect();
        evidence.push(match (&m.not_applicable, list.is_empty()) {
            (Some(why), _) => format!("{}: {why}", label(t.model())),
            (None, true) => format!("{}: no shape's first run stood out", label(t.model())),
            (None, false) => format!("{}: warm {}", label(t.model()), list.join(", ")),
        });
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::ShapeWarmup,
        provider,
        level: if total == 0 { Level::Excellent } else { Level::Good },
        verdict: format!("{total} input shape(s) pay a first-run cost"),
        action: if total == 0 { "no shape needs warming".into() } else { "run those shapes once at warm-up, before taking traffic".into() },
        evidence,
        figures: BTreeMap::from([("shapes_worth_warming".to_string(), total as f64)]),
    })
}

/// A startup probe must give a new worker its p95 spawn-to-ready plus a margin.
fn startup_probe(provider: Provider, trials: &[&TrialRecord], label: &dyn Fn(&str) -> String) -> Option<Recommendation> {
    let rows = measured(trials, |m| if let Measurements::Single(x) = m { Some(x.as_ref()) } else { None });
    let mut evidence = Vec::new();
    let mut table = crate::results::recommendation::EvidenceTable::new(&["Model", "Spawn-to-ready p95 ms", "Workers", "Budget ms"]);
    let mut longest: Option<(String, f64)> = None;
    for (t, m) in &rows {
        let Some(ready) = &m.summary.spawn_to_ready_ms else { continue };
        let budget = ready.p95 * (1.0 + STARTUP_PROBE_MARGIN);
        table.rows.push(vec![t.model().to_string(), format!("{:.0}", ready.p95), ready.n.to_string(), format!("{budget:.0}")]);
        if longest.as_ref().is_none_or(|(_, b)| budget > *b) {
            longest = Some((t.model().to_string(), budget));
        }
        evidence.push(format!(
            "{}: spawn-to-ready p95 {:.0} ms over {} workers -> budget {budget:.0} ms",
            label(t.model()),
            ready.p95,
            ready.n
        ));
    }
    let (model, budget) = longest?;
    let seconds = crate::advice::rules::probe_seconds(budget);
    Some(Recommendation {
        machine_class: None,
        evidence_table: table.some(),
        topic: Topic::StartupProbe,
        provider,
        level: Level::Good,
        verdict: format!("A new worker is ready within {budget:.0} ms ({}, p95 + 50 %)", label(&model)),
        action: format!(
            "give a Kubernetes startup probe at least {seconds:.0} s (failureThreshold x periodSeconds: {budget:.0} ms rounded up to whole seconds, as probes count them) before the first readiness check, per model as below, instead of a guessed delay"
        ),
        evidence,
        figures: BTreeMap::from([("startup_probe_budget_ms".to_string(), budget)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::MemorySnapshot;
    use crate::results::{IdleGap, ProviderBaseline};

    fn idle(steady: &[f64], gaps: &[(f64, &[f64])]) -> IdleResult {
        IdleResult {
            provider_baseline: ProviderBaseline {
                init_ms: 1.0,
                first_run_ms: 1.0,
                before: MemorySnapshot::default(),
                after: MemorySnapshot::default(),
                rss_mb: None,
                gpu_mb: None,
            },
            steady: Summary::of(steady),
            gaps: gaps.iter().map(|(g, s)| IdleGap { gap_s: *g, samples_ms: s.to_vec(), latency: Summary::of(s) }).collect(),
        }
    }

    #[test]
    fn keep_alive_pays_from_the_first_gap_that_is_clearly_slower() {
        let r = idle(&[19.0, 20.0, 21.0], &[(0.0, &[19.0, 20.0, 19.5]), (1.0, &[20.0, 45.0, 19.7]), (3.0, &[43.0, 83.0, 46.0])]);
        let (gap, extra) = keep_alive_from(&r).unwrap();
        assert_eq!(gap, 3.0, "1 s: one slow sample of three is noise");
        assert_eq!(extra, 26.0);
        assert_eq!(keep_alive_from(&idle(&[19.0, 20.0], &[(5.0, &[20.0, 21.0])])), None);
    }

    #[test]
    fn a_soak_rate_is_judged_with_its_uncertainty_and_its_length() {
        let rate = |mb_per_hour, stderr_mb_per_hour, samples| GrowthRate { mb_per_hour, stderr_mb_per_hour, samples };
        let hour = 3600.0;
        assert_eq!(soak_verdict(&rate(10.0, 5.0, 20), hour), (LeakVerdict::Pass, None));
        assert_eq!(soak_verdict(&rate(100.0, 10.0, 20), hour), (LeakVerdict::Fail, None));
        assert_eq!(soak_verdict(&rate(40.0, 10.0, 20), hour).0, LeakVerdict::Caution, "40 +- 20 straddles 50: soak longer");
        assert_eq!(soak_verdict(&rate(3518.0, 2394.0, 20), 5.0).0, LeakVerdict::Caution, "a 5 s soak says little");
        // Two samples fit a line exactly: a zero error is no certainty (SmolLM2's 12 s half did).
        assert_eq!(soak_verdict(&rate(160.0, 0.0, 2), 12.0), (LeakVerdict::Caution, Some(SoakTooShort::FewSamples)));
        // +220 +- 86 MB/hour over 10 s is 0.6 MB gained: the first cycles settling, not yet a leak (the
        // same model soaked for 10 minutes grew +5.3 +- 0.6 MB/hour).
        let (v, why) = soak_verdict(&rate(220.0, 43.0, 24), 10.0);
        assert_eq!(v, LeakVerdict::Caution);
        assert!(matches!(why, Some(SoakTooShort::LittleGrowth { grew_mb }) if (grew_mb - 0.61).abs() < 0.01), "{why:?}");
        // Were it real, that rate over a quarter of an hour would gain 55 MB: a leak.
        assert_eq!(soak_verdict(&rate(220.0, 43.0, 200), 900.0), (LeakVerdict::Fail, None));
    }

    fn attempt(multiplier: f64, outcome: LimitOutcome) -> LimitAttempt {
        LimitAttempt { multiplier, limit_mb: 100.0 * multiplier, outcome, peak_mb: None, detail: None }
    }

    #[test]
    fn the_smallest_limit_that_held_with_every_larger_one() {
        let a = [
            attempt(1.1, LimitOutcome::KilledByLimit),
            attempt(1.25, LimitOutcome::Survived),
            attempt(1.5, LimitOutcome::Survived),
            attempt(2.0, LimitOutcome::Survived),
        ];
        assert_eq!(smallest_limit_that_held(&a), Some(1.25));
        assert_eq!(seed_limit_holds(&a), Some(true));
        let b = [attempt(1.1, LimitOutcome::Survived), attempt(1.5, LimitOutcome::KilledByLimit), attempt(2.0, LimitOutcome::Survived)];
        assert_eq!(smallest_limit_that_held(&b), Some(2.0));
        assert_eq!(seed_limit_holds(&b), Some(false));
        assert_eq!(smallest_limit_that_held(&[]), None);
    }

    #[test]
    fn only_shapes_whose_first_run_is_clearly_slow_are_worth_warming() {
        let run = |first: f64, steady: &[f64]| ShapeRun {
            batch_size: 1,
            sequence_length: Some(128),
            first_ms: Some(first),
            steady: Summary::of(steady),
            first_over_p50: None,
            error: None,
        };
        let shapes = [run(200.0, &[110.0, 114.0, 120.0]), run(46.0, &[23.0, 24.0, 50.0]), run(72.0, &[71.0, 72.0])];
        let warm = shapes_worth_warming(&shapes);
        assert_eq!(warm.len(), 1);
        assert_eq!(warm[0].first_ms, Some(200.0));
        let failed = ShapeRun { first_ms: None, steady: None, error: Some("positions".into()), ..shapes[0].clone() };
        assert!(shapes_worth_warming(&[failed]).is_empty(), "a shape that does not run is not one to warm");
    }
}
