//! The recommendation: the policy that meets a p99 target under the budget, or the smallest budget at
//! which one would (searched on a grid from the largest single model to everything resident); with no
//! target, the policy with the least p99.

use serde::Serialize;

use super::policy::Policy;
use super::{PolicyRun, Setup};

/// Budgets tried between the smallest that runs every model and the one that holds them all.
pub(crate) const SEARCH_STEPS: usize = 40;

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

/// The policy with the least p99 among `runs` (ties: fewer loads).
fn best(runs: &[PolicyRun]) -> Option<(Policy, f64)> {
    runs.iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|s| (r.policy, s.figures.latency.p99, s.figures.loads)))
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
                    write!(f, "; the smallest budget that meets it is {b:.0} MB ({p})")?;
                }
                Ok(())
            }
            Advice::RaiseBudget { policy, budget_mb, p99_ms } => {
                write!(f, "no policy meets the p99 target under this budget; {budget_mb:.0} MB would, with {policy} (p99 {p99_ms:.0} ms)")
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
}
