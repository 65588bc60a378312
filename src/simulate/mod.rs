//! `mora simulate`'s model, pure: which models to keep loaded under a memory budget, for a trace of
//! requests, from a measured lifecycle profile. The trace ([`trace`]) and the costs ([`costs`]) go in;
//! each policy ([`policy`]) decides hits, loads and evictions in arrival order ([`plan`]), under the
//! memory model ([`memory`]); the plan is played out on a simulated clock ([`engine`]) into a [`run`]
//! whose [`figures`] are compared across policies and against a real replay; [`advice`] picks the
//! policy and budget that meet a p99 target; [`report`] renders the tables and charts.
//! No I/O and no wall clock: the same inputs and seed give the same figures.

pub mod advice;
pub mod costs;
pub mod engine;
pub mod figures;
pub mod memory;
pub mod plan;
pub mod policy;
pub mod preset;
pub mod report;
pub mod rng;
pub mod run;
pub mod trace;

use costs::{Costs, UnloadMode};
use figures::Figures;
use plan::{DoesNotFit, Plan};
use policy::Policy;
use run::Run;
use trace::Trace;

/// One simulation's inputs.
pub(crate) struct Setup<'a> {
    pub trace: &'a Trace,
    pub costs: &'a Costs,
    pub mode: UnloadMode,
    pub budget_mb: f64,
    /// Seeds the steady-latency draws.
    pub seed: u64,
    /// A reload of a model evicted within this long of its last use counts as thrash.
    pub thrash_window_ms: f64,
    /// How much slower a load and an inference run while both do (1: no contention modelled).
    pub interference: f64,
}

/// A policy's simulation: its plan, the run and its figures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Simulated {
    pub plan: Plan,
    pub run: Run,
    pub figures: Figures,
    /// Thrash reloads per hour of trace (`None` for a trace of no duration).
    pub thrash_per_hour: Option<f64>,
    /// Its memory went above the budget it ran under (a policy that plans with guessed sizes or
    /// ignores the budget): it is shown, never recommended.
    pub over_budget: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PolicyRun {
    pub policy: Policy,
    pub outcome: Result<Simulated, DoesNotFit>,
}

impl Setup<'_> {
    pub(crate) fn simulate(&self, policy: Policy) -> PolicyRun {
        self.simulate_at(policy, self.budget_mb)
    }

    /// A run's figures against this setup's budget, over the trace's duration.
    pub(crate) fn figures(&self, run: &Run) -> Figures {
        Figures::of(run, self.budget_mb, self.trace.duration_ms())
    }

    /// A plan played out with other costs (times measured again during a replay): the same decisions,
    /// the same draws.
    pub(crate) fn play(&self, plan: &Plan, costs: &Costs) -> Run {
        let noise = engine::noise(self.seed, self.trace.requests.len());
        engine::simulate(self.trace, costs, self.mode, plan, &noise, self.interference)
    }

    /// The keep-alive sweep: `base` with each keep-alive in turn.
    pub(crate) fn sweep(&self, base: Policy, keep_alives: &[Option<f64>]) -> Vec<PolicyRun> {
        keep_alives.iter().map(|&k| self.simulate(base.with_keep_alive(k))).collect()
    }

    /// The same setup under another budget (the recommendation searches budgets).
    pub(crate) fn simulate_at(&self, policy: Policy, budget_mb: f64) -> PolicyRun {
        let outcome = plan::plan(self.trace, self.costs, self.mode, budget_mb, &policy, self.thrash_window_ms).map(|plan| {
            let noise = engine::noise(self.seed, self.trace.requests.len());
            let run = engine::simulate(self.trace, self.costs, self.mode, &plan, &noise, self.interference);
            let figures = Figures::of(&run, budget_mb, self.trace.duration_ms());
            let hours = self.trace.duration_ms() / 3_600_000.0;
            let thrash_per_hour = (hours > 0.0).then(|| plan.thrash_reloads as f64 / hours);
            let over_budget = run.peak_mb > budget_mb + 1e-9;
            Simulated { plan, run, figures, thrash_per_hour, over_budget }
        });
        PolicyRun { policy, outcome }
    }
}

#[cfg(test)]
mod tests {
    use super::costs::tests::costs;
    use super::policy::PolicyKind;
    use super::*;

    #[test]
    fn every_policy_is_deterministic_for_a_seed() {
        let mut c = costs(&[("a", 300.0, 400.0), ("b", 30.0, 40.0), ("c", 100.0, 120.0)], 20.0);
        for m in &mut c.models {
            m.steady_p95_ms = 25.0;
        }
        let t = Trace::zipf(&["a".into(), "b".into(), "c".into()], 0.8, 400, 8.0, 11);
        let setup = Setup {
            trace: &t,
            costs: &c,
            mode: UnloadMode::InProcess,
            budget_mb: 360.0,
            seed: 3,
            thrash_window_ms: 60_000.0,
            interference: 1.0,
        };
        for kind in PolicyKind::ALL {
            let policy = Policy::order(kind);
            let one = setup.simulate(policy);
            assert_eq!(one, setup.simulate(policy), "{policy}");
            if let Ok(s) = &one.outcome {
                assert_eq!(s.figures.requests, 400);
                assert!(s.figures.peak_mb <= 360.0 + 1e-9, "{policy}: {} MB over the budget", s.figures.peak_mb);
            }
        }
        assert!(setup.simulate(Policy::order(PolicyKind::KeepAll)).outcome.is_err(), "450 MB of models do not fit 360");
    }
}
