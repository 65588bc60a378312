//! The decisions: for each request in arrival order, a hit (its model is resident or already on its
//! way) or a load, with the models evicted to make room under the budget. They depend on the order of
//! requests only, never on timing, so the same plan drives the simulated clock ([`super::engine`])
//! and the real replay; hits and loads agree by construction and what the replay checks is time and
//! memory. Thrash is counted here too.

use serde::{Deserialize, Serialize};

use super::costs::{Costs, UnloadMode};
use super::memory::Memory;
use super::policy::PolicyKind;
use super::trace::Trace;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub(crate) enum Action {
    /// The model is resident or being loaded: no new load.
    Hit,
    /// Load the model, first evicting these (in order).
    Load { evict: Vec<usize> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub policy: PolicyKind,
    /// Loaded (and run once) before the first request.
    pub preloads: Vec<usize>,
    /// One per request of the trace.
    pub actions: Vec<Action>,
    /// Reloads of a model that had been evicted within the thrash window of its last use.
    pub thrash_reloads: usize,
}

impl Plan {
    pub(crate) fn hits(&self) -> usize {
        self.actions.iter().filter(|a| matches!(a, Action::Hit)).count()
    }
    pub(crate) fn loads(&self) -> usize {
        self.actions.len() - self.hits()
    }
    #[cfg(test)]
    pub(crate) fn evictions(&self) -> usize {
        self.actions.iter().map(|a| if let Action::Load { evict } = a { evict.len() } else { 0 }).sum()
    }
}

/// Why a policy cannot run under the budget.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DoesNotFit {
    pub needs_mb: f64,
}

/// The decisions of `kind` for `trace` under `budget_mb`. `thrash_window_ms`: an eviction this soon
/// after the model's last use makes its next load a thrash reload.
pub(crate) fn plan(
    trace: &Trace,
    costs: &Costs,
    mode: UnloadMode,
    budget_mb: f64,
    kind: PolicyKind,
    thrash_window_ms: f64,
) -> Result<Plan, DoesNotFit> {
    let mut policy = kind.build(costs, trace, mode, budget_mb);
    let pinned = policy.pinned().to_vec();
    let footprint = |m: usize| costs.models[m].footprint_mb;
    let mut memory = Memory::new(costs, mode);
    for &m in &pinned {
        memory.load(m, footprint(m));
    }
    if memory.current_mb() > budget_mb {
        return Err(DoesNotFit { needs_mb: memory.current_mb() });
    }
    let n = costs.models.len();
    let mut resident = vec![false; n];
    for &m in &pinned {
        resident[m] = true;
    }
    let mut last_use_ms: Vec<Option<f64>> = vec![None; n];
    let mut evicted_hot = vec![false; n];
    let mut thrash_reloads = 0;
    let mut actions = Vec::with_capacity(trace.requests.len());
    for request in &trace.requests {
        let m = request.model;
        policy.on_request(m);
        if resident[m] {
            actions.push(Action::Hit);
        } else {
            let mut evict = Vec::new();
            while memory.after_load_mb(footprint(m)) > budget_mb {
                let candidates: Vec<usize> = (0..n).filter(|&v| resident[v] && v != m && !pinned.contains(&v)).collect();
                if candidates.is_empty() {
                    return Err(DoesNotFit { needs_mb: memory.after_load_mb(footprint(m)) });
                }
                let v = policy.victim(&candidates);
                memory.unload(v, costs.models[v].reclaimed);
                resident[v] = false;
                policy.on_evict(v);
                evicted_hot[v] = last_use_ms[v].is_some_and(|t| request.time_ms - t < thrash_window_ms);
                evict.push(v);
            }
            if std::mem::take(&mut evicted_hot[m]) {
                thrash_reloads += 1;
            }
            memory.load(m, footprint(m));
            resident[m] = true;
            policy.on_load(m);
            actions.push(Action::Load { evict });
        }
        last_use_ms[m] = Some(request.time_ms);
    }
    Ok(Plan { policy: kind, preloads: pinned, actions, thrash_reloads })
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::super::trace::Request;
    use super::*;

    fn trace(requests: &[(f64, usize)]) -> Trace {
        Trace {
            models: vec!["a".into(), "b".into(), "c".into()],
            requests: requests.iter().map(|&(t, m)| Request { time_ms: t, model: m }).collect(),
        }
    }

    /// Three models of 100 MB, room for two (baseline 10 MB).
    fn three() -> Costs {
        costs(&[("a", 100.0, 50.0), ("b", 100.0, 50.0), ("c", 100.0, 50.0)], 10.0)
    }

    #[test]
    fn lru_and_lfu_by_hand() {
        // a a a b c b a
        let t = trace(&[(0.0, 0), (1.0, 0), (2.0, 0), (3.0, 1), (4.0, 2), (5.0, 1), (6.0, 0)]);
        let lru = plan(&t, &three(), UnloadMode::InProcess, 250.0, PolicyKind::Lru, 0.0).unwrap();
        // c evicts a (least recent); then b hits; then a evicts c (b was used at 5).
        assert_eq!(
            lru.actions,
            [
                Action::Load { evict: vec![] },
                Action::Hit,
                Action::Hit,
                Action::Load { evict: vec![] },
                Action::Load { evict: vec![0] },
                Action::Hit,
                Action::Load { evict: vec![2] },
            ]
        );
        assert_eq!((lru.hits(), lru.loads(), lru.evictions()), (3, 4, 2));
        let lfu = plan(&t, &three(), UnloadMode::InProcess, 250.0, PolicyKind::Lfu, 0.0).unwrap();
        // c evicts b (requested once, against a's three); b comes back and evicts c (b's own request
        // counts before the choice: c once, a three times); a is still resident and hits.
        assert_eq!(
            lfu.actions,
            [
                Action::Load { evict: vec![] },
                Action::Hit,
                Action::Hit,
                Action::Load { evict: vec![] },
                Action::Load { evict: vec![1] },
                Action::Load { evict: vec![2] },
                Action::Hit,
            ]
        );
        assert_eq!((lfu.hits(), lfu.loads(), lfu.evictions()), (3, 4, 2));
    }

    #[test]
    fn evictions_free_enough_for_a_large_model() {
        let c = costs(&[("a", 100.0, 1.0), ("b", 100.0, 1.0), ("c", 200.0, 1.0)], 0.0);
        let t = trace(&[(0.0, 0), (1.0, 1), (2.0, 2)]);
        let p = plan(&t, &c, UnloadMode::InProcess, 200.0, PolicyKind::Lru, 0.0).unwrap();
        assert_eq!(p.actions[2], Action::Load { evict: vec![0, 1] });
    }

    #[test]
    fn keep_all_preloads_everything_or_does_not_fit() {
        let t = trace(&[(0.0, 0), (1.0, 1), (2.0, 2)]);
        let p = plan(&t, &three(), UnloadMode::InProcess, 310.0, PolicyKind::KeepAll, 0.0).unwrap();
        assert_eq!(p.preloads, [0, 1, 2]);
        assert_eq!(p.hits(), 3);
        assert_eq!(plan(&t, &three(), UnloadMode::InProcess, 250.0, PolicyKind::KeepAll, 0.0), Err(DoesNotFit { needs_mb: 310.0 }));
    }

    #[test]
    fn thrash_counts_reloads_of_models_evicted_soon_after_their_last_use() {
        // Room for one model: a, b, a, b... every load evicts the other, used 1 s before.
        let t = trace(&[(0.0, 0), (1000.0, 1), (2000.0, 0), (3000.0, 1), (60_000.0, 0)]);
        let c = three();
        let p = plan(&t, &c, UnloadMode::InProcess, 150.0, PolicyKind::Lru, 5000.0).unwrap();
        assert_eq!(p.loads(), 5);
        // Reloads: a at 2 s (evicted at 1 s, last used at 0 s: hot), b at 3 s (hot), a at 60 s (evicted at
        // 3 s, 1 s after its last use at 2 s: hot too).
        assert_eq!(p.thrash_reloads, 3);
        let p = plan(&t, &c, UnloadMode::InProcess, 150.0, PolicyKind::Lru, 500.0).unwrap();
        assert_eq!(p.thrash_reloads, 0, "every eviction came 1 s after the last use, beyond a 0.5 s window");
    }

    #[test]
    fn the_plan_does_not_depend_on_timing() {
        let a = trace(&[(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 0)]);
        let b = trace(&[(0.0, 0), (500.0, 1), (501.0, 2), (9000.0, 0)]);
        for kind in PolicyKind::ALL {
            let pa = plan(&a, &three(), UnloadMode::InProcess, 250.0, kind, 0.0);
            let pb = plan(&b, &three(), UnloadMode::InProcess, 250.0, kind, 0.0);
            assert_eq!(pa, pb, "{kind}");
        }
    }
}
