//! Lifecycle policies: an eviction order behind one trait (which resident model goes when a load needs
//! room), and the limits a model server adds to it ([`Policy`]): a keep-alive (unload after so long
//! idle), a cap on the models loaded at once, the sizes it plans with, and whether it heeds the
//! budget at all. LRU and LFU count models by number; size-aware (GreedyDual-Size with cost 1)
//! prefers to evict large models, cost-aware (GreedyDual-Size with the reload time as cost) keeps
//! what is slow to bring back per MB; keep-all pre-warms everything; static-top-k pre-warms and pins
//! the trace's most requested models and serves the rest with LRU; shortest-keep-alive is Ollama's
//! order. Policies see requests in arrival order (and their arrival times, for keep-alive) only:
//! their decisions do not depend on simulated timing, so a replay can follow them exactly.

use serde::{Deserialize, Serialize};

use super::costs::{Costs, UnloadMode};
use super::preset::Preset;
use super::trace::Trace;

/// The eviction order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    Lru,
    Lfu,
    SizeAware,
    CostAware,
    KeepAll,
    StaticTopK,
    /// Ollama's: the runner with the shortest keep-alive first, ties by model name (with one global
    /// keep-alive, by name alone).
    ShortestKeepAlive,
}

/// What `--policies` names: an eviction order, or a model server's shipped defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyName {
    Lru,
    Lfu,
    SizeAware,
    CostAware,
    KeepAll,
    StaticTopK,
    Ollama,
    RayServe,
    Modelmesh,
    LlamaSwap,
    TritonExplicit,
}

/// The size a policy plans with: what mora measured, or a multiple of the model file (ModelMesh's
/// default guess when the runtime does not report a size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedSize {
    Measured,
    FileTimes(f64),
}

/// A lifecycle policy: the eviction order and a server's limits around it. Memory in the engine is
/// always the measured footprint; `planned_size` is only what the policy believes when it decides.
/// Records name it by its label ([`Policy`]'s Display); `simulate.json` lists its rule beside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// The server whose defaults these are, if any.
    pub preset: Option<Preset>,
    pub order: PolicyKind,
    /// Unload a model this long after its last request arrived (`None`: never for idleness).
    pub keep_alive_ms: Option<f64>,
    /// At most this many models loaded at once.
    pub max_models: Option<usize>,
    pub planned_size: PlannedSize,
    /// false: nothing is evicted to keep within the budget (the budget is only measured against).
    pub heeds_budget: bool,
}

impl Policy {
    /// An eviction order alone, within the budget.
    pub(crate) fn order(order: PolicyKind) -> Policy {
        Policy { preset: None, order, keep_alive_ms: None, max_models: None, planned_size: PlannedSize::Measured, heeds_budget: true }
    }

    /// What `--policies` names, with `--keep-alive` and `--max-models` for the eviction orders
    /// (a preset keeps its server's defaults).
    pub(crate) fn named(name: PolicyName, keep_alive_ms: Option<f64>, max_models: Option<usize>) -> Policy {
        let order = match name {
            PolicyName::Lru => PolicyKind::Lru,
            PolicyName::Lfu => PolicyKind::Lfu,
            PolicyName::SizeAware => PolicyKind::SizeAware,
            PolicyName::CostAware => PolicyKind::CostAware,
            PolicyName::KeepAll => PolicyKind::KeepAll,
            PolicyName::StaticTopK => PolicyKind::StaticTopK,
            PolicyName::Ollama => return Preset::Ollama.policy(),
            PolicyName::RayServe => return Preset::RayServe.policy(),
            PolicyName::Modelmesh => return Preset::Modelmesh.policy(),
            PolicyName::LlamaSwap => return Preset::LlamaSwap.policy(),
            PolicyName::TritonExplicit => return Preset::TritonExplicit.policy(),
        };
        Policy { keep_alive_ms, max_models, ..Policy::order(order) }
    }

    /// The same policy with another keep-alive (the sweep).
    pub(crate) fn with_keep_alive(self, keep_alive_ms: Option<f64>) -> Policy {
        Policy { keep_alive_ms, ..self }
    }

    /// What the policy plans a model at: its measured footprint, or the server's guess.
    pub(crate) fn planned_mb(&self, m: &super::costs::ModelCosts) -> f64 {
        match self.planned_size {
            PlannedSize::Measured => m.footprint_mb,
            PlannedSize::FileTimes(k) => m.file_mb * k,
        }
    }
}

/// A keep-alive in words: "0 s", "10 s", "5 min", "forever".
pub(crate) fn keep_alive_label(ms: Option<f64>) -> String {
    match ms {
        None => "forever".into(),
        Some(ms) if ms >= 3_600_000.0 && ms % 3_600_000.0 == 0.0 => format!("{} h", ms / 3_600_000.0),
        Some(ms) if ms >= 60_000.0 && ms % 60_000.0 == 0.0 => format!("{} min", ms / 60_000.0),
        Some(ms) => format!("{} s", ms / 1000.0),
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = self.preset {
            return write!(f, "{p}");
        }
        write!(f, "{}", self.order)?;
        if self.keep_alive_ms.is_some() {
            write!(f, ", keep-alive {}", keep_alive_label(self.keep_alive_ms))?;
        }
        if let Some(n) = self.max_models {
            write!(f, ", at most {n}")?;
        }
        Ok(())
    }
}

impl PolicyKind {
    #[cfg(test)]
    pub(crate) const ALL: [PolicyKind; 6] =
        [PolicyKind::Lru, PolicyKind::Lfu, PolicyKind::SizeAware, PolicyKind::CostAware, PolicyKind::KeepAll, PolicyKind::StaticTopK];

    /// The policy, ready for `trace` under `budget_mb`.
    pub(crate) fn build(self, costs: &Costs, trace: &Trace, mode: UnloadMode, budget_mb: f64) -> Box<dyn Eviction> {
        let n = costs.models.len();
        match self {
            PolicyKind::Lru => Box::new(Lru::new(n)),
            PolicyKind::Lfu => Box::new(Lfu { recency: Lru::new(n), count: vec![0; n] }),
            PolicyKind::SizeAware => Box::new(GreedyDual::new(costs.models.iter().map(|m| 1.0 / m.footprint_mb.max(1e-3)).collect())),
            PolicyKind::CostAware => {
                Box::new(GreedyDual::new(costs.models.iter().map(|m| reload_ms(m, mode) / m.footprint_mb.max(1e-3)).collect()))
            }
            PolicyKind::KeepAll => Box::new(Pinned { pinned: (0..n).collect(), rest: Lru::new(n) }),
            PolicyKind::StaticTopK => Box::new(Pinned { pinned: top_k(costs, trace, mode, budget_mb), rest: Lru::new(n) }),
            PolicyKind::ShortestKeepAlive => {
                // One keep-alive for every model: the order is the models' names.
                let mut by_name: Vec<usize> = (0..n).collect();
                by_name.sort_by(|a, b| costs.models[*a].id.cmp(&costs.models[*b].id));
                let mut rank = vec![0; n];
                for (r, &m) in by_name.iter().enumerate() {
                    rank[m] = r;
                }
                Box::new(ByRank { rank })
            }
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PolicyKind::Lru => "lru",
            PolicyKind::Lfu => "lfu",
            PolicyKind::SizeAware => "size-aware",
            PolicyKind::CostAware => "cost-aware",
            PolicyKind::KeepAll => "keep-all",
            PolicyKind::StaticTopK => "static-top-k",
            PolicyKind::ShortestKeepAlive => "shortest keep-alive, then name",
        })
    }
}

/// What bringing a model back costs: a load and its first inference, or a new worker.
fn reload_ms(m: &super::costs::ModelCosts, mode: UnloadMode) -> f64 {
    match mode {
        UnloadMode::InProcess => m.load_warm_ms + m.first_inference_ms,
        UnloadMode::KillWorker => m.spawn_to_ready_ms.unwrap_or(m.load_warm_ms + m.first_inference_ms),
    }
}

pub(crate) trait Eviction {
    /// Models loaded before the first request and never evicted.
    fn pinned(&self) -> &[usize] {
        &[]
    }
    /// A request for `model`, hit or miss, in arrival order.
    fn on_request(&mut self, model: usize);
    /// `model` was admitted (after the evictions that made room for it).
    fn on_load(&mut self, model: usize);
    fn on_evict(&mut self, model: usize);
    /// Which of `candidates` (resident, unpinned, never empty) to evict next.
    fn victim(&mut self, candidates: &[usize]) -> usize;
}

/// The first of `candidates` with the least key.
fn least<K: PartialOrd>(candidates: &[usize], key: impl Fn(usize) -> K) -> usize {
    let mut best = candidates[0];
    for &c in &candidates[1..] {
        if key(c) < key(best) {
            best = c;
        }
    }
    best
}

struct Lru {
    tick: u64,
    last_use: Vec<u64>,
}

impl Lru {
    fn new(n: usize) -> Lru {
        Lru { tick: 0, last_use: vec![0; n] }
    }
}

impl Eviction for Lru {
    fn on_request(&mut self, model: usize) {
        self.tick += 1;
        self.last_use[model] = self.tick;
    }
    fn on_load(&mut self, _: usize) {}
    fn on_evict(&mut self, _: usize) {}
    fn victim(&mut self, candidates: &[usize]) -> usize {
        least(candidates, |m| self.last_use[m])
    }
}

struct Lfu {
    recency: Lru,
    count: Vec<u64>,
}

impl Eviction for Lfu {
    fn on_request(&mut self, model: usize) {
        self.recency.on_request(model);
        self.count[model] += 1;
    }
    fn on_load(&mut self, _: usize) {}
    fn on_evict(&mut self, _: usize) {}
    fn victim(&mut self, candidates: &[usize]) -> usize {
        least(candidates, |m| (self.count[m], self.recency.last_use[m]))
    }
}

/// GreedyDual-Size (Cao and Irani, 1997): each resident model has a value H = L + cost/size, set when
/// it is used; the least H goes, and L rises to it, so models not used for a while age out.
struct GreedyDual {
    /// cost / size per model.
    worth: Vec<f64>,
    h: Vec<f64>,
    inflation: f64,
    recency: Lru,
}

impl GreedyDual {
    fn new(worth: Vec<f64>) -> GreedyDual {
        let n = worth.len();
        GreedyDual { worth, h: vec![0.0; n], inflation: 0.0, recency: Lru::new(n) }
    }
}

impl Eviction for GreedyDual {
    fn on_request(&mut self, model: usize) {
        self.recency.on_request(model);
        self.h[model] = self.inflation + self.worth[model];
    }
    fn on_load(&mut self, model: usize) {
        self.h[model] = self.inflation + self.worth[model];
    }
    fn on_evict(&mut self, model: usize) {
        self.inflation = self.h[model];
    }
    fn victim(&mut self, candidates: &[usize]) -> usize {
        least(candidates, |m| (self.h[m], self.recency.last_use[m]))
    }
}

/// A fixed order: the least rank goes first.
struct ByRank {
    rank: Vec<usize>,
}

impl Eviction for ByRank {
    fn on_request(&mut self, _: usize) {}
    fn on_load(&mut self, _: usize) {}
    fn on_evict(&mut self, _: usize) {}
    fn victim(&mut self, candidates: &[usize]) -> usize {
        least(candidates, |m| self.rank[m])
    }
}

/// Pre-warmed, never evicted models; LRU among the others.
struct Pinned {
    pinned: Vec<usize>,
    rest: Lru,
}

impl Eviction for Pinned {
    fn pinned(&self) -> &[usize] {
        &self.pinned
    }
    fn on_request(&mut self, model: usize) {
        self.rest.on_request(model);
    }
    fn on_load(&mut self, _: usize) {}
    fn on_evict(&mut self, _: usize) {}
    fn victim(&mut self, candidates: &[usize]) -> usize {
        self.rest.victim(candidates)
    }
}

/// The most requested models of the trace (ties: the first listed) that fit together while leaving
/// room for the largest model not among them.
fn top_k(costs: &Costs, trace: &Trace, mode: UnloadMode, budget_mb: f64) -> Vec<usize> {
    let counts = trace.counts();
    let mut order: Vec<usize> = (0..costs.models.len()).collect();
    order.sort_by(|a, b| counts[*b].cmp(&counts[*a]).then(a.cmp(b)));
    let mut pinned: Vec<usize> = Vec::new();
    for &candidate in &order {
        let mut with = pinned.clone();
        with.push(candidate);
        let rest_largest = order
            .iter()
            .filter(|m| !with.contains(m))
            .map(|&m| costs.models[m].footprint_mb)
            .fold(None, |a: Option<f64>, f| Some(a.map_or(f, |a| a.max(f))));
        let mut memory = super::memory::Memory::new(costs, mode);
        for &m in &with {
            memory.load(m, costs.models[m].footprint_mb);
        }
        let needed = match rest_largest {
            Some(f) => memory.after_load_mb(f),
            None => memory.current_mb(),
        };
        if needed > budget_mb {
            break;
        }
        pinned = with;
    }
    pinned
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::*;
    use crate::simulate::trace::Request;

    fn trace(models: &[usize]) -> Trace {
        Trace {
            models: vec!["a".into(), "b".into(), "c".into()],
            requests: models.iter().enumerate().map(|(i, &m)| Request { time_ms: i as f64, model: m }).collect(),
        }
    }

    #[test]
    fn lru_and_lfu_pick_different_victims() {
        let c = costs(&[("a", 10.0, 1.0), ("b", 10.0, 1.0), ("c", 10.0, 1.0)], 0.0);
        let t = trace(&[0, 0, 0, 1]);
        // a three times, then b: LRU evicts a (used least recently), LFU evicts b (used once).
        let mut lru = PolicyKind::Lru.build(&c, &t, UnloadMode::InProcess, 100.0);
        let mut lfu = PolicyKind::Lfu.build(&c, &t, UnloadMode::InProcess, 100.0);
        for p in [&mut lru, &mut lfu] {
            for r in &t.requests {
                p.on_request(r.model);
            }
        }
        assert_eq!(lru.victim(&[0, 1]), 0);
        assert_eq!(lfu.victim(&[0, 1]), 1);
    }

    #[test]
    fn size_aware_evicts_the_large_model_and_ages_what_is_left() {
        let c = costs(&[("a", 100.0, 1.0), ("b", 10.0, 1.0), ("c", 10.0, 1.0)], 0.0);
        let t = trace(&[1, 0]);
        let mut p = PolicyKind::SizeAware.build(&c, &t, UnloadMode::InProcess, 1000.0);
        p.on_request(1);
        p.on_load(1);
        p.on_request(0);
        p.on_load(0);
        // a was used last but is ten times larger: H(a) = 0.01 < H(b) = 0.1.
        assert_eq!(p.victim(&[0, 1]), 0);
        p.on_evict(0);
        // L is now 0.01: c, loaded now, is worth 0.01 + 0.1 and outlives b (0.1) unless b is used again.
        p.on_request(2);
        p.on_load(2);
        assert_eq!(p.victim(&[1, 2]), 1);
    }

    #[test]
    fn cost_aware_keeps_what_is_slow_to_reload_per_mb() {
        // Same size; a takes 10x longer to load.
        let c = costs(&[("a", 100.0, 1000.0), ("b", 100.0, 100.0), ("c", 10.0, 1.0)], 0.0);
        let t = trace(&[0, 1]);
        let mut p = PolicyKind::CostAware.build(&c, &t, UnloadMode::InProcess, 1000.0);
        for m in [0, 1] {
            p.on_request(m);
            p.on_load(m);
        }
        assert_eq!(p.victim(&[0, 1]), 1, "b reloads quicker");
    }

    #[test]
    fn static_top_k_pins_the_most_requested_models_that_leave_room() {
        let c = costs(&[("a", 100.0, 1.0), ("b", 50.0, 1.0), ("c", 80.0, 1.0)], 10.0);
        // c most requested, then a, then b.
        let t = trace(&[2, 2, 2, 0, 0, 1]);
        let p = PolicyKind::StaticTopK.build(&c, &t, UnloadMode::InProcess, 200.0);
        // c (80) + room for a (100) + baseline 10 = 190 fits; c + a (180) + room for b (50) + 10 = 240 does not.
        assert_eq!(p.pinned(), &[2]);
        let p = PolicyKind::StaticTopK.build(&c, &t, UnloadMode::InProcess, 239.0);
        assert_eq!(p.pinned(), &[2]);
        // At 240 the room left for b holds b: all three are pinned.
        let p = PolicyKind::StaticTopK.build(&c, &t, UnloadMode::InProcess, 240.0);
        assert_eq!(p.pinned(), &[2, 0, 1]);
        assert_eq!(PolicyKind::KeepAll.build(&c, &t, UnloadMode::InProcess, 1.0).pinned(), &[0, 1, 2]);
    }
}
