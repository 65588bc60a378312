//! The recommendation: the policy that meets a p99 target under the budget, or the smallest budget at
//! which one would (searched on a grid from the largest single model to everything resident); with no
//! target, the policy with the least p99.

use serde::Serialize;

use super::policy::Policy;
use super::{PolicyRun, Setup};

/// Budgets tried between the smallest that runs every model and the one that holds them all.
pub(crate) const SEARCH_STEPS: usize = 40;

/// How far above its simulation a replay's peak memory came, at most, in the replays measured on this
/// project's machines (docs/simulate.md, "A budget that holds"): the margin a memory limit needs
/// beyond the simulated peak. The kernel's peak RSS includes allocator and thread-stack noise that
/// the profile's medians do not. In-process replays came up to +7.7 % above; a kill-worker replay
/// +9.9 % (several workers' thread stacks and libraries, each counted from a bare worker).
pub(crate) const REPLAY_PEAK_MARGIN: f64 = 0.10;

/// The memory limit that holds a plan made under `budget_mb`: the budget plus the margin replays
/// measured above their simulations.
pub(crate) fn limit_for(budget_mb: f64) -> f64 {
    // In whole percent first: 200 x 1.1 is 220.00000000000003 in floating point, which ceil makes 221.
    (budget_mb * (100.0 + (REPLAY_PEAK_MARGIN * 100.0).round()) / 100.0).ceil()
}

/// Keep-alives the setting search tries when no sweep is given.
pub(crate) const KEEP_ALIVES_TRIED_MS: [Option<f64>; 6] =
    [Some(0.0), Some(10_000.0), Some(60_000.0), Some(300_000.0), Some(1_800_000.0), None];

/// The keep-alive and cap that meet the p99 target at the least memory held over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Setting {
    /// The eviction order with the keep-alive and cap found.
    pub policy: Policy,
    pub keep_alive: String,
    pub max_models: Option<usize>,
    pub p99_ms: f64,
    pub mb_hours: f64,
    pub peak_mb: f64,
    /// The memory limit to give the worker: its simulated peak plus the replays' margin.
    pub memory_limit_mb: f64,
    /// How many keep-alive and cap pairs were tried, and how many met the target.
    pub tried: usize,
    pub meeting: usize,
}

/// Every keep-alive of `keep_alives` with every cap from 1 to all the trace's models (and none), on
/// `base`'s eviction order: the pair meeting `target` p99 at the least MB-hours (ties: the lower p99).
pub(crate) fn setting(setup: &Setup, base: Policy, keep_alives: &[Option<f64>], target: f64) -> Option<Setting> {
    let caps = std::iter::once(None).chain((1..=setup.trace.models.len()).map(Some));
    let mut tried = 0;
    let mut meeting = Vec::new();
    for cap in caps {
        for &k in keep_alives {
            let policy = Policy { keep_alive_ms: k, max_models: cap, ..base };
            tried += 1;
            if let Ok(s) = setup.simulate(policy).outcome {
                if s.figures.latency.p99 <= target && !s.over_budget {
                    meeting.push((policy, s.figures));
                }
            }
        }
    }
    let n = meeting.len();
    meeting.into_iter().min_by(|a, b| a.1.mb_hours.total_cmp(&b.1.mb_hours).then(a.1.latency.p99.total_cmp(&b.1.latency.p99))).map(
        |(policy, f)| Setting {
            policy,
            keep_alive: super::policy::keep_alive_label(policy.keep_alive_ms),
            max_models: policy.max_models,
            p99_ms: f.latency.p99,
            mb_hours: f.mb_hours,
            peak_mb: f.peak_mb,
            memory_limit_mb: limit_for(f.peak_mb),
            tried,
            meeting: n,
        },
    )
}

impl Setting {
    /// The setting as a lifecycle profile's fragment (YAML), for a lifecycle manager to read.
    pub(crate) fn to_yaml(&self, setup: &Setup, target: f64) -> String {
        let keep = match self.policy.keep_alive_ms {
            Some(ms) => format!("{}", ms / 1000.0),
            None => "null  # forever".into(),
        };
        let cap = self.max_models.map_or("null  # no cap".to_string(), |n| n.to_string());
        format!(
            "# mora simulate: the keep-alive and cap that meet p99 <= {target:.0} ms at the least MB-hours\n# on host {}, {}, under a {:.0} MB budget ({} requests)\nlifecycle:\n  eviction: {}\n  keep_alive_s: {keep}\n  max_loaded_models: {cap}\n  budget_mb: {:.0}\n  memory_limit_mb: {:.0}  # the simulated peak + {:.0} %: replays peaked up to that above their simulations\n  unload: {}\n",
            setup.costs.host,
            setup.costs.provider,
            setup.budget_mb,
            setup.trace.requests.len(),
            self.policy.order,
            setup.budget_mb,
            self.memory_limit_mb,
            REPLAY_PEAK_MARGIN * 100.0,
            setup.mode
        )
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "keep-alive {} with {} ({}) meets it at the least memory held: {:.2} MB-hours, p99 {:.0} ms, peak {:.0} MB ({} of {} keep-alive and cap pairs met it); give the worker a limit of {:.0} MB",
            self.keep_alive,
            self.max_models.map_or("no cap".to_string(), |n| format!("at most {n} model{}", if n == 1 { "" } else { "s" })),
            self.policy.order,
            self.mb_hours,
            self.p99_ms,
            self.peak_mb,
            self.meeting,
            self.tried,
            self.memory_limit_mb
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "advice")]
pub(crate) enum Advice {
    /// No target: the policy with the least p99 under the budget.
    Best { policy: Policy, p99_ms: f64 },
    /// The target is met under the budget; `smallest` is the least budget at which any policy meets it.
    Meets { policy: Policy, p99_ms: f64, smallest: Option<(Policy, f64)> },
    /// Not met under the budget; this budget would meet it.
    RaiseBudget { policy: Policy, budget_mb: f64, p99_ms: f64 },
    /// No budget up to everything resident meets it; the best there is.
    Unreachable { policy: Policy, p99_ms: f64, up_to_mb: f64 },
}

/// The policy with the least p99 among `runs` that kept within their budget (ties: fewer loads).
fn best(runs: &[PolicyRun]) -> Option<(Policy, f64)> {
    runs.iter()
        .filter_map(|r| r.outcome.as_ref().ok().filter(|s| !s.over_budget).map(|s| (r.policy, s.figures.latency.p99, s.figures.loads)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)))
        .map(|(p, p99, _)| (p, p99))
}

pub(crate) fn advise(setup: &Setup, policies: &[Policy], runs: &[PolicyRun], target_p99_ms: Option<f64>) -> Option<Advice> {
    let Some(target) = target_p99_ms else {
        return best(runs).map(|(policy, p99_ms)| Advice::Best { policy, p99_ms });
    };
    let meeting: Vec<PolicyRun> =
        runs.iter().filter(|r| r.outcome.as_ref().is_ok_and(|s| s.figures.latency.p99 <= target)).cloned().collect();
    let smallest = smallest_budget(setup, policies, target);
    if let Some((policy, p99_ms)) = best(&meeting) {
        return Some(Advice::Meets { policy, p99_ms, smallest: smallest.map(|(p, b, _)| (p, b)) });
    }
    match smallest {
        Some((policy, budget_mb, p99_ms)) => Some(Advice::RaiseBudget { policy, budget_mb, p99_ms }),
        None => {
            let top = search_top(setup);
            let at_top: Vec<PolicyRun> = policies.iter().map(|&p| setup.simulate_at(p, top)).collect();
            best(&at_top).map(|(policy, p99_ms)| Advice::Unreachable { policy, p99_ms, up_to_mb: top })
        }
    }
}

fn search_top(setup: &Setup) -> f64 {
    setup.costs.all_resident_mb(setup.mode).ceil()
}

/// The least budget on the grid at which a policy meets the target: (policy, budget, its p99).
fn smallest_budget(setup: &Setup, policies: &[Policy], target: f64) -> Option<(Policy, f64, f64)> {
    let low = (0..setup.costs.models.len()).map(|m| setup.costs.alone_mb(m)).fold(0.0, f64::max).ceil();
    let high = search_top(setup).max(low);
    (0..=SEARCH_STEPS).find_map(|step| {
        let budget = (low + (high - low) * step as f64 / SEARCH_STEPS as f64).ceil();
        let runs: Vec<PolicyRun> = policies.iter().map(|&p| setup.simulate_at(p, budget)).collect();
        let meeting: Vec<PolicyRun> =
            runs.into_iter().filter(|r| r.outcome.as_ref().is_ok_and(|s| s.figures.latency.p99 <= target)).collect();
        best(&meeting).map(|(p, p99)| (p, budget, p99))
    })
}

impl std::fmt::Display for Advice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Advice::Best { policy, p99_ms } => write!(f, "{policy} gives the least p99 under this budget: {p99_ms:.0} ms"),
            Advice::Meets { policy, p99_ms, smallest } => {
                write!(f, "{policy} meets the p99 target under this budget: {p99_ms:.0} ms")?;
                if let Some((p, b)) = smallest {
                    write!(
                        f,
                        "; the smallest budget that meets it is {b:.0} MB ({p}): plan evictions at {b:.0} MB and give the worker a limit of {:.0} MB (+{:.0} %, the most replays peaked above their simulations)",
                        limit_for(*b),
                        REPLAY_PEAK_MARGIN * 100.0
                    )?;
                }
                Ok(())
            }
            Advice::RaiseBudget { policy, budget_mb, p99_ms } => {
                write!(
                    f,
                    "no policy meets the p99 target under this budget; {budget_mb:.0} MB would, with {policy} (p99 {p99_ms:.0} ms): plan evictions at {budget_mb:.0} MB and give the worker a limit of {:.0} MB (+{:.0} %, the most replays peaked above their simulations)",
                    limit_for(*budget_mb),
                    REPLAY_PEAK_MARGIN * 100.0
                )
            }
            Advice::Unreachable { policy, p99_ms, up_to_mb } => write!(
                f,
                "no budget up to {up_to_mb:.0} MB (every model resident) meets the p99 target; the best is {policy} at {p99_ms:.0} ms: the first requests' loads or the inference queue set it, not the budget"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::super::costs::{Costs, UnloadMode};
    use super::super::policy::PolicyKind;
    use super::super::trace::{Request, Trace};
    use super::*;

    /// a and b alternate every second; each 100 MB, a 500 ms load. With room for one, every request
    /// loads (p99 about 520 ms); with room for both, only the first two do.
    fn setup_parts() -> (Trace, Costs) {
        let c = costs(&[("a", 100.0, 500.0), ("b", 100.0, 500.0)], 0.0);
        let requests = (0..200).map(|i| Request { time_ms: i as f64 * 1000.0, model: i % 2 }).collect();
        (Trace { models: vec!["a".into(), "b".into()], requests }, c)
    }

    #[test]
    fn the_smallest_budget_that_meets_the_target_is_found() {
        let (t, c) = setup_parts();
        let setup = Setup {
            trace: &t,
            costs: &c,
            mode: UnloadMode::InProcess,
            budget_mb: 150.0,
            seed: 1,
            thrash_window_ms: 1.0,
            interference: 1.0,
        };
        let policies = [Policy::order(PolicyKind::Lru), Policy::order(PolicyKind::Lfu)];
        let runs: Vec<PolicyRun> = policies.iter().map(|&p| setup.simulate(p)).collect();
        let advice = advise(&setup, &policies, &runs, Some(100.0)).unwrap();
        // The grid runs 100..200 MB in 2.5 MB steps; 200 MB holds both: 198 requests at 10 ms and the
        // first two at 520 ms give a p99 of 0.99 x 10 + 0.01 x 520 = 15.1 ms.
        let Advice::RaiseBudget { policy, budget_mb, p99_ms } = advice.clone() else { panic!("{advice:?}") };
        assert_eq!((policy, budget_mb), (Policy::order(PolicyKind::Lru), 200.0));
        assert!((p99_ms - 15.1).abs() < 1e-9, "{p99_ms}");
        assert!(advice.to_string().contains("200 MB would, with lru"));
        let setup = Setup { budget_mb: 200.0, ..setup };
        let runs: Vec<PolicyRun> = policies.iter().map(|&p| setup.simulate(p)).collect();
        assert!(matches!(advise(&setup, &policies, &runs, Some(100.0)), Some(Advice::Meets { smallest: Some((_, 200.0)), .. })));
        assert!(matches!(advise(&setup, &policies, &runs, None), Some(Advice::Best { .. })));
        assert!(matches!(advise(&setup, &policies, &runs, Some(1.0)), Some(Advice::Unreachable { up_to_mb: 200.0, .. })));
    }

    #[test]
    fn the_setting_is_the_keep_alive_and_cap_that_meet_the_target_at_the_least_mb_hours() {
        let (t, c) = setup_parts();
        let setup = Setup {
            trace: &t,
            costs: &c,
            mode: UnloadMode::InProcess,
            budget_mb: 200.0,
            seed: 1,
            thrash_window_ms: 1.0,
            interference: 1.0,
        };
        let lru = Policy::order(PolicyKind::Lru);
        // a and b alternate each second: keep-alive 0 or a cap of 1 reloads every time (p99 about 520 ms);
        // 10 s and forever keep both and hold the same memory (nothing idles 10 s): the first listed wins.
        let s = setting(&setup, lru, &[Some(0.0), Some(10_000.0), None], 100.0).unwrap();
        assert_eq!((s.keep_alive.as_str(), s.max_models, s.tried, s.meeting), ("10 s", None, 9, 4));
        assert!((s.p99_ms - 15.1).abs() < 1e-9 && s.memory_limit_mb == limit_for(s.peak_mb) && s.peak_mb == 200.0);
        assert!(s.to_string().starts_with("keep-alive 10 s with no cap (lru) meets it"), "{s}");
        let yaml = s.to_yaml(&setup, 100.0);
        assert!(
            yaml.contains("keep_alive_s: 10\n") && yaml.contains("max_loaded_models: null") && yaml.contains("memory_limit_mb: 220"),
            "{yaml}"
        );
        assert_eq!(setting(&setup, lru, &[Some(0.0)], 100.0), None, "keep-alive 0 never meets it");
    }

    #[test]
    fn a_policy_that_goes_over_the_budget_is_never_recommended() {
        let (t, c) = setup_parts();
        let setup = Setup {
            trace: &t,
            costs: &c,
            mode: UnloadMode::InProcess,
            budget_mb: 150.0,
            seed: 1,
            thrash_window_ms: 1.0,
            interference: 1.0,
        };
        // Triton explicit holds both models (200 MB) whatever the budget: the least p99, over 150 MB.
        let policies = [super::super::preset::Preset::TritonExplicit.policy(), Policy::order(PolicyKind::Lru)];
        let runs: Vec<PolicyRun> = policies.iter().map(|&p| setup.simulate(p)).collect();
        assert!(runs[0].outcome.as_ref().unwrap().over_budget);
        let advice = advise(&setup, &policies, &runs, Some(100.0)).unwrap();
        assert!(matches!(advice, Advice::RaiseBudget { budget_mb: 200.0, .. }), "{advice:?}");
        assert_eq!(best(&runs).map(|b| b.0), Some(policies[1]), "lru, within the budget, however slow");
    }
}
