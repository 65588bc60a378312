//! The decisions: for each request in arrival order, a hit (its model is resident or already on its
//! way) or a load, with the models evicted to make room under the budget. They depend on the order of
//! requests only, never on timing, so the same plan drives the simulated clock ([`super::engine`])
//! and the real replay; hits and loads agree by construction and what the replay checks is time and
//! memory. Thrash is counted here too.

use serde::{Deserialize, Serialize};

use super::costs::{Costs, UnloadMode};
use super::memory::Memory;
use super::policy::Policy;
use super::trace::Trace;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub(crate) enum Action {
    /// The model is resident or being loaded: no new load.
    Hit,
    /// Load the model, first evicting these (in order).
    Load { evict: Vec<usize> },
}

/// A keep-alive that ran out: unload `model` at `at_ms` (once its requests in flight are served).
/// It comes after every request that arrived at or before `at_ms` and before every later one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Expiry {
    pub at_ms: f64,
    pub model: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Plan {
    pub policy: Policy,
    /// Loaded (and run once) before the first request.
    pub preloads: Vec<usize>,
    /// One per request of the trace.
    pub actions: Vec<Action>,
    /// Idle unloads, in time order (none after the last request's arrival).
    pub expiries: Vec<Expiry>,
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

/// The decisions of `policy` for `trace` under `budget_mb`, made in arrival order. `thrash_window_ms`:
/// an eviction this soon after the model's last use makes its next load a thrash reload. The policy
/// decides with the sizes it plans with (`Policy::planned_mb`) and a load's peak, not only what the
/// model holds once loaded: a load that would peak over the budget makes room first.
pub(crate) fn plan(
    trace: &Trace,
    costs: &Costs,
    mode: UnloadMode,
    budget_mb: f64,
    policy: &Policy,
    thrash_window_ms: f64,
) -> Result<Plan, DoesNotFit> {
    let mut order = policy.order.build(costs, trace, mode, budget_mb);
    let pinned = order.pinned().to_vec();
    let planned = |m: usize| policy.planned_mb(&costs.models[m]);
    // The load's peak, scaled like the planned size (a server that guesses the size guesses the peak alike).
    let planned_peak = |m: usize| {
        let c = &costs.models[m];
        planned(m) * if c.footprint_mb > 0.0 { c.load_peak_mb.max(c.footprint_mb) / c.footprint_mb } else { 1.0 }
    };
    let over = |memory: &Memory, m: usize| policy.heeds_budget && memory.during_load_mb(planned(m), planned_peak(m)) > budget_mb;
    let mut memory = Memory::new(costs, mode);
    for &m in &pinned {
        memory.load(m, planned(m));
    }
    if policy.heeds_budget && memory.current_mb() > budget_mb {
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
    let mut expiries = Vec::new();
    // Unloads every model whose keep-alive ran out before `now` (`inclusive`: at `now` too).
    let mut expire = |now: f64,
                      inclusive: bool,
                      resident: &mut [bool],
                      memory: &mut Memory,
                      order: &mut Box<dyn super::policy::Eviction>,
                      last_use_ms: &[Option<f64>],
                      evicted_hot: &mut [bool]| {
        let Some(keep) = policy.keep_alive_ms else { return };
        let mut due: Vec<(f64, usize)> = (0..n)
            .filter(|&v| resident[v] && !pinned.contains(&v))
            .filter_map(|v| last_use_ms[v].map(|t| (t + keep, v)))
            .filter(|&(at, _)| at < now || (inclusive && at <= now))
            .collect();
        due.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (at_ms, v) in due {
            memory.unload(v, costs.models[v].reclaimed);
            resident[v] = false;
            order.on_evict(v);
            evicted_hot[v] = last_use_ms[v].is_some_and(|t| at_ms - t < thrash_window_ms);
            expiries.push(Expiry { at_ms, model: v });
        }
    };
    for request in &trace.requests {
        let m = request.model;
        expire(request.time_ms, false, &mut resident, &mut memory, &mut order, &last_use_ms, &mut evicted_hot);
        order.on_request(m);
        if resident[m] {
            actions.push(Action::Hit);
        } else {
            let mut evict = Vec::new();
            let at_cap = |resident: &[bool]| policy.max_models.is_some_and(|cap| resident.iter().filter(|&&r| r).count() >= cap);
            while over(&memory, m) || at_cap(&resident) {
                let candidates: Vec<usize> = (0..n).filter(|&v| resident[v] && v != m && !pinned.contains(&v)).collect();
                if candidates.is_empty() {
                    return Err(DoesNotFit { needs_mb: memory.during_load_mb(planned(m), planned_peak(m)) });
                }
                let v = order.victim(&candidates);
                memory.unload(v, costs.models[v].reclaimed);
                resident[v] = false;
                order.on_evict(v);
                evicted_hot[v] = last_use_ms[v].is_some_and(|t| request.time_ms - t < thrash_window_ms);
                evict.push(v);
            }
            if std::mem::take(&mut evicted_hot[m]) {
                thrash_reloads += 1;
            }
            memory.load(m, planned(m));
            resident[m] = true;
            order.on_load(m);
            actions.push(Action::Load { evict });
        }
        last_use_ms[m] = Some(request.time_ms);
    }
    expire(trace.duration_ms(), true, &mut resident, &mut memory, &mut order, &last_use_ms, &mut evicted_hot);
    Ok(Plan { policy: *policy, preloads: pinned, actions, expiries, thrash_reloads })
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::super::policy::PolicyKind;
    use super::super::preset::Preset;
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
        let lru = plan(&t, &three(), UnloadMode::InProcess, 250.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
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
        let lfu = plan(&t, &three(), UnloadMode::InProcess, 250.0, &Policy::order(PolicyKind::Lfu), 0.0).unwrap();
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
        let p = plan(&t, &c, UnloadMode::InProcess, 200.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
        assert_eq!(p.actions[2], Action::Load { evict: vec![0, 1] });
    }

    #[test]
    fn keep_all_preloads_everything_or_does_not_fit() {
        let t = trace(&[(0.0, 0), (1.0, 1), (2.0, 2)]);
        let p = plan(&t, &three(), UnloadMode::InProcess, 310.0, &Policy::order(PolicyKind::KeepAll), 0.0).unwrap();
        assert_eq!(p.preloads, [0, 1, 2]);
        assert_eq!(p.hits(), 3);
        assert_eq!(
            plan(&t, &three(), UnloadMode::InProcess, 250.0, &Policy::order(PolicyKind::KeepAll), 0.0),
            Err(DoesNotFit { needs_mb: 310.0 })
        );
    }

    #[test]
    fn thrash_counts_reloads_of_models_evicted_soon_after_their_last_use() {
        // Room for one model: a, b, a, b... every load evicts the other, used 1 s before.
        let t = trace(&[(0.0, 0), (1000.0, 1), (2000.0, 0), (3000.0, 1), (60_000.0, 0)]);
        let c = three();
        let p = plan(&t, &c, UnloadMode::InProcess, 150.0, &Policy::order(PolicyKind::Lru), 5000.0).unwrap();
        assert_eq!(p.loads(), 5);
        // Reloads: a at 2 s (evicted at 1 s, last used at 0 s: hot), b at 3 s (hot), a at 60 s (evicted at
        // 3 s, 1 s after its last use at 2 s: hot too).
        assert_eq!(p.thrash_reloads, 3);
        let p = plan(&t, &c, UnloadMode::InProcess, 150.0, &Policy::order(PolicyKind::Lru), 500.0).unwrap();
        assert_eq!(p.thrash_reloads, 0, "every eviction came 1 s after the last use, beyond a 0.5 s window");
    }

    #[test]
    fn the_plan_does_not_depend_on_timing() {
        let a = trace(&[(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 0)]);
        let b = trace(&[(0.0, 0), (500.0, 1), (501.0, 2), (9000.0, 0)]);
        for kind in PolicyKind::ALL {
            let pa = plan(&a, &three(), UnloadMode::InProcess, 250.0, &Policy::order(kind), 0.0);
            let pb = plan(&b, &three(), UnloadMode::InProcess, 250.0, &Policy::order(kind), 0.0);
            assert_eq!(pa, pb, "{kind}");
        }
    }

    fn lru_with(keep_alive_ms: Option<f64>, max_models: Option<usize>) -> Policy {
        Policy { keep_alive_ms, max_models, ..Policy::order(PolicyKind::Lru) }
    }

    #[test]
    fn a_keep_alive_unloads_idle_models_at_their_time_and_a_request_then_reloads() {
        // Room for all three; keep-alive 10 s. a at 0, b at 5 s, a at 8 s (a's timer restarts), b at 20 s:
        // b expired at 15 s and loads again; a expires at 18 s; at the end (20 s) b is 0 s idle.
        let t = trace(&[(0.0, 0), (5000.0, 1), (8000.0, 0), (20_000.0, 1)]);
        let p = plan(&t, &three(), UnloadMode::InProcess, 1000.0, &lru_with(Some(10_000.0), None), 60_000.0).unwrap();
        assert_eq!(p.expiries, [Expiry { at_ms: 15_000.0, model: 1 }, Expiry { at_ms: 18_000.0, model: 0 }]);
        assert_eq!(p.actions[3], Action::Load { evict: vec![] });
        assert_eq!(p.thrash_reloads, 1, "b was unloaded 10 s after its last use, within the 60 s window");
        // A request exactly when the keep-alive runs out still finds its model.
        let t = trace(&[(0.0, 0), (10_000.0, 0)]);
        let p = plan(&t, &three(), UnloadMode::InProcess, 1000.0, &lru_with(Some(10_000.0), None), 0.0).unwrap();
        assert_eq!((p.actions[1].clone(), p.expiries.len()), (Action::Hit, 0));
        // Keep-alive 0: unloaded as soon as served, the last request's too (at the trace's end).
        let p = plan(&t, &three(), UnloadMode::InProcess, 1000.0, &lru_with(Some(0.0), None), 0.0).unwrap();
        assert_eq!(p.loads(), 2);
        assert_eq!(p.expiries, [Expiry { at_ms: 0.0, model: 0 }, Expiry { at_ms: 10_000.0, model: 0 }]);
    }

    #[test]
    fn a_cap_on_loaded_models_evicts_before_the_budget_would() {
        let t = trace(&[(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 0)]);
        let p = plan(&t, &three(), UnloadMode::InProcess, 1000.0, &lru_with(None, Some(2)), 0.0).unwrap();
        assert_eq!(
            p.actions,
            [
                Action::Load { evict: vec![] },
                Action::Load { evict: vec![] },
                Action::Load { evict: vec![0] },
                Action::Load { evict: vec![1] }
            ]
        );
        // A cap and a budget together: room for two models, at most three: the budget decides.
        let q = plan(&t, &three(), UnloadMode::InProcess, 250.0, &lru_with(None, Some(3)), 0.0).unwrap();
        assert_eq!(q.actions, p.actions);
    }

    #[test]
    fn a_load_makes_room_for_its_peak_not_only_its_footprint() {
        // Room for three 100 MB models (310 MB with the baseline), but c's load peaks at 150 MB: a must go
        // before it loads.
        let mut c = three();
        c.models[2].load_peak_mb = 150.0;
        let t = trace(&[(0.0, 0), (1.0, 1), (2.0, 2)]);
        let p = plan(&t, &c, UnloadMode::InProcess, 310.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
        assert_eq!(p.actions[2], Action::Load { evict: vec![0] });
        c.models[2].load_peak_mb = 100.0;
        let p = plan(&t, &c, UnloadMode::InProcess, 310.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
        assert_eq!(p.actions[2], Action::Load { evict: vec![] });
    }

    #[test]
    fn presets_decide_as_their_servers_do() {
        // Four models a, b, c, d of 100 MB each in a 10 GB budget: only the presets' own limits act.
        let c = costs(&[("d", 100.0, 1.0), ("b", 100.0, 1.0), ("a", 100.0, 1.0), ("c", 100.0, 1.0)], 0.0);
        let t = Trace {
            models: vec!["d".into(), "b".into(), "a".into(), "c".into()],
            requests: [0, 1, 2, 0, 3].iter().enumerate().map(|(i, &m)| Request { time_ms: i as f64 * 1000.0, model: m }).collect(),
        };
        let run = |p: Preset| plan(&t, &c, UnloadMode::InProcess, 10_000.0, &p.policy(), 0.0).unwrap();
        // Ollama: three at most; the fourth evicts by name (a), not the least recent (b).
        assert_eq!(run(Preset::Ollama).actions[4], Action::Load { evict: vec![2] });
        // Ray Serve: three per replica, LRU: b goes (d was used at 3 s).
        assert_eq!(run(Preset::RayServe).actions[4], Action::Load { evict: vec![1] });
        // llama-swap: one model at a time.
        assert_eq!(run(Preset::LlamaSwap).loads(), 5);
        // Triton explicit: everything loaded at start, whatever the budget.
        let triton = plan(&t, &c, UnloadMode::InProcess, 150.0, &Preset::TritonExplicit.policy(), 0.0).unwrap();
        assert_eq!((triton.preloads.len(), triton.hits()), (4, 5));
        // ModelMesh plans with 1.25 x the file (half the footprint here): 62.5 MB a model, so under
        // 200 MB it keeps three resident where the measured sizes allow two.
        let mesh = plan(&t, &c, UnloadMode::InProcess, 200.0, &Preset::Modelmesh.policy(), 0.0).unwrap();
        let measured = plan(&t, &c, UnloadMode::InProcess, 200.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
        assert_eq!(
            (mesh.actions[2].clone(), measured.actions[2].clone()),
            (Action::Load { evict: vec![] }, Action::Load { evict: vec![0] })
        );
    }
}
