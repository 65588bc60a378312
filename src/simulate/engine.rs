//! The discrete-event model: a plan played out on a simulated clock. One loading slot per worker
//! runs load jobs in the order they were decided (first the evictions, each once the evicted model's
//! requests have finished, then the load); inference runs one request at a time per worker, first
//! come first served, a request whose model is still loading waiting for it. In-process there is one
//! worker; kill-worker gives each model a worker of its own (its own inference slot; loads still go
//! one at a time through the manager). Loads and inferences that run at once can slow each other
//! (`interference`, a factor a replay measures; 1 models no contention). No wall clock: the same
//! inputs give the same run.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use super::costs::{Costs, UnloadMode};
use super::memory::Memory;
use super::plan::{Action, Plan};
use super::rng::Rng;
use super::run::{IdleUnload, LoadSpan, Run, Served};
use super::trace::Trace;

/// A model's copy in memory: (model, generation). Each load makes a new generation.
type Instance = (usize, u32);

/// One standard normal draw per request, from the seed: every policy sees the same steady times.
pub(crate) fn noise(seed: u64, requests: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed ^ 0x005e_ed0f_1a7e);
    (0..requests).map(|_| rng.normal()).collect()
}

/// Completions carry the version of their activity: a change of speed reschedules it, and the stale
/// event is ignored.
#[derive(Debug, Clone, Copy)]
enum Event {
    Arrival(usize),
    /// A keep-alive ran out: the plan's expiry at this index.
    Expiry(usize),
    LoadDone {
        job: usize,
        version: u64,
    },
    InferenceDone {
        request: usize,
        slot: usize,
        version: u64,
    },
}

/// Work in progress on the loading slot or an inference slot: what is left of it at full speed.
#[derive(Debug, Clone, Copy)]
struct Busy {
    remaining_ms: f64,
    since_ms: f64,
    version: u64,
    scheduled: bool,
}

impl Busy {
    fn new(work_ms: f64, now: f64) -> Busy {
        Busy { remaining_ms: work_ms, since_ms: now, version: 0, scheduled: false }
    }
}

struct Scheduled {
    at: f64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest; events at the same time in the order they were scheduled.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.total_cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

/// A load (after its evictions), or an idle unload alone (`instance` None).
struct Job {
    instance: Option<Instance>,
    evict: Vec<Instance>,
    start_ms: f64,
    load_ms: f64,
}

#[derive(Default)]
struct Slot {
    /// The request being served.
    current: Option<(usize, Busy)>,
    queue: VecDeque<usize>,
}

struct Engine<'a> {
    trace: &'a Trace,
    costs: &'a Costs,
    mode: UnloadMode,
    noise: &'a [f64],
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    generation: Vec<u32>,
    route: Vec<Instance>,
    ready: BTreeSet<Instance>,
    waiting: BTreeMap<Instance, Vec<usize>>,
    pending: BTreeMap<Instance, usize>,
    first_done: BTreeSet<Instance>,
    slots: Vec<Slot>,
    jobs: Vec<Job>,
    loader_queue: VecDeque<usize>,
    /// The job being run.
    loader: Option<(usize, Busy)>,
    /// How much slower loads and inferences run while both do, and the speed in effect now.
    interference: f64,
    speed: f64,
    /// In-process: whether the worker has loaded, and run, a model (its first pays the warm-up).
    loaded_any: bool,
    inferred_any: bool,
    memory: Memory,
    timeline: Vec<(f64, f64)>,
    served: Vec<Served>,
    loads: Vec<LoadSpan>,
    idle_unloads: Vec<IdleUnload>,
}

/// Plays `plan` out for `trace`; `noise` holds one standard normal draw per request; `interference`
/// (1 or more) slows loads and inferences that run at the same time.
pub(crate) fn simulate(trace: &Trace, costs: &Costs, mode: UnloadMode, plan: &Plan, noise: &[f64], interference: f64) -> Run {
    let n = trace.requests.len();
    let slots = mode.inference_slots(costs.models.len());
    let mut e = Engine {
        trace,
        costs,
        mode,
        noise,
        heap: BinaryHeap::new(),
        seq: 0,
        generation: vec![0; costs.models.len()],
        route: Vec::with_capacity(n),
        ready: BTreeSet::new(),
        waiting: BTreeMap::new(),
        pending: BTreeMap::new(),
        first_done: BTreeSet::new(),
        slots: (0..slots).map(|_| Slot::default()).collect(),
        jobs: vec![],
        loader_queue: VecDeque::new(),
        loader: None,
        interference: interference.max(1.0),
        speed: 1.0,
        loaded_any: false,
        inferred_any: false,
        memory: Memory::new(costs, mode),
        timeline: vec![],
        served: trace
            .requests
            .iter()
            .map(|r| Served {
                model: r.model,
                arrival_ms: r.time_ms,
                start_ms: f64::NAN,
                end_ms: f64::NAN,
                hit: false,
                waited: false,
                first_after_load: false,
            })
            .collect(),
        loads: vec![],
        idle_unloads: vec![],
    };
    let preload_ms = e.preload(&plan.preloads);
    e.timeline.push((0.0, e.memory.current_mb()));
    // Arrivals first: at the same time, a request comes before an expiry (as the plan decided).
    for (i, r) in trace.requests.iter().enumerate() {
        e.schedule(r.time_ms, Event::Arrival(i));
    }
    for (k, x) in plan.expiries.iter().enumerate() {
        e.schedule(x.at_ms, Event::Expiry(k));
    }
    while let Some(Scheduled { at, event, .. }) = e.heap.pop() {
        let current = match event {
            Event::Arrival(_) | Event::Expiry(_) => true,
            Event::LoadDone { job, version } => e.loader.is_some_and(|(j, b)| j == job && b.version == version),
            Event::InferenceDone { request, slot, version } => {
                e.slots[slot].current.is_some_and(|(i, b)| i == request && b.version == version)
            }
        };
        if !current {
            continue;
        }
        e.settle(at);
        match event {
            Event::Arrival(i) => e.arrive(i, &plan.actions[i], at),
            Event::Expiry(k) => e.expire(plan.expiries[k].model, at),
            Event::LoadDone { job, .. } => e.load_done(job, at),
            Event::InferenceDone { request, slot, .. } => e.inference_done(request, slot, at),
        }
        e.refresh(at);
    }
    let end = e.served.iter().map(|s| s.end_ms).fold(0.0, f64::max);
    e.timeline.push((end, e.memory.current_mb()));
    let peak_mb = e.timeline.iter().map(|(_, mb)| *mb).fold(0.0, f64::max);
    Run { served: e.served, loads: e.loads, idle_unloads: e.idle_unloads, memory: e.timeline, peak_mb, preload_ms }
}

impl Engine<'_> {
    fn schedule(&mut self, at: f64, event: Event) {
        self.seq += 1;
        self.heap.push(Scheduled { at, seq: self.seq, event });
    }

    /// The speed of work now: slowed by the interference while the loading slot and an inference
    /// slot are both busy.
    fn speed_now(&self) -> f64 {
        if self.loader.is_some() && self.slots.iter().any(|s| s.current.is_some()) { 1.0 / self.interference } else { 1.0 }
    }

    fn busy_mut(&mut self) -> impl Iterator<Item = &mut Busy> {
        self.loader.iter_mut().map(|(_, b)| b).chain(self.slots.iter_mut().filter_map(|s| s.current.as_mut().map(|(_, b)| b)))
    }

    /// Accounts the work done since each activity's last account, at the speed in effect.
    fn settle(&mut self, now: f64) {
        let speed = self.speed;
        for b in self.busy_mut() {
            b.remaining_ms = (b.remaining_ms - (now - b.since_ms) * speed).max(0.0);
            b.since_ms = now;
        }
    }

    /// Schedules the completion of new activities, and of every activity when the speed changed.
    fn refresh(&mut self, now: f64) {
        let speed = self.speed_now();
        let changed = speed != self.speed;
        self.speed = speed;
        let mut due = Vec::new();
        if let Some((job, b)) = &mut self.loader {
            if changed || !b.scheduled {
                b.version += 1;
                b.scheduled = true;
                due.push((now + b.remaining_ms / speed, Event::LoadDone { job: *job, version: b.version }));
            }
        }
        for (slot, s) in self.slots.iter_mut().enumerate() {
            if let Some((request, b)) = &mut s.current {
                if changed || !b.scheduled {
                    b.version += 1;
                    b.scheduled = true;
                    due.push((now + b.remaining_ms / speed, Event::InferenceDone { request: *request, slot, version: b.version }));
                }
            }
        }
        for (at, event) in due {
            self.schedule(at, event);
        }
    }

    fn slot_of(&self, model: usize) -> usize {
        self.mode.slot_of(model)
    }

    /// Loads and runs each model once before the trace starts; returns the time it took.
    fn preload(&mut self, models: &[usize]) -> f64 {
        let mut total = 0.0;
        for &m in models {
            total += self.load_ms(m);
            if self.mode == UnloadMode::InProcess {
                total += self.first_inference_ms(m);
            }
            self.memory.load(m, self.costs.models[m].footprint_mb);
            self.generation[m] = 1;
            self.ready.insert((m, 1));
            self.first_done.insert((m, 1));
        }
        total
    }

    /// A load: a new worker (kill-worker), the worker's first load, or a load in the warmed worker.
    fn load_ms(&mut self, m: usize) -> f64 {
        let c = &self.costs.models[m];
        let ms = match self.mode {
            UnloadMode::KillWorker => c.spawn_to_ready_ms.unwrap_or(c.load_fresh_ms + c.first_inference_ms),
            UnloadMode::InProcess if !self.loaded_any => c.load_fresh_ms,
            UnloadMode::InProcess => c.load_warm_ms,
        };
        self.loaded_any = true;
        ms
    }

    /// A new session's first inference; the worker's very first pays the warm-up on top.
    fn first_inference_ms(&mut self, m: usize) -> f64 {
        let extra = if self.inferred_any { 0.0 } else { self.costs.worker.first_inference_extra_ms };
        self.inferred_any = true;
        self.costs.models[m].first_inference_ms + extra
    }

    fn arrive(&mut self, i: usize, action: &Action, now: f64) {
        let m = self.trace.requests[i].model;
        if let Action::Load { evict } = action {
            self.generation[m] += 1;
            let evict = evict.iter().map(|&v| (v, self.generation[v])).collect();
            self.jobs.push(Job { instance: Some((m, self.generation[m])), evict, start_ms: f64::NAN, load_ms: 0.0 });
            self.loader_queue.push_back(self.jobs.len() - 1);
        }
        let instance = (m, self.generation[m]);
        self.route.push(instance);
        *self.pending.entry(instance).or_default() += 1;
        let ready = self.ready.contains(&instance);
        self.served[i].hit = matches!(action, Action::Hit);
        self.served[i].waited = !ready;
        if ready {
            let s = self.slot_of(m);
            self.slots[s].queue.push_back(i);
        } else {
            self.waiting.entry(instance).or_default().push(i);
        }
        self.try_loader(now);
        self.try_slot(self.slot_of(m), now);
    }

    /// A keep-alive ran out: the model's unload joins the loading slot's queue.
    fn expire(&mut self, m: usize, now: f64) {
        self.jobs.push(Job { instance: None, evict: vec![(m, self.generation[m])], start_ms: f64::NAN, load_ms: 0.0 });
        self.loader_queue.push_back(self.jobs.len() - 1);
        self.try_loader(now);
    }

    /// Starts the next load job once the models it evicts have served what was routed to them.
    fn try_loader(&mut self, now: f64) {
        if self.loader.is_some() {
            return;
        }
        let Some(&j) = self.loader_queue.front() else { return };
        if self.jobs[j].evict.iter().any(|v| self.pending.get(v).copied().unwrap_or(0) > 0) {
            return;
        }
        self.loader_queue.pop_front();
        let mut unload_ms = 0.0;
        for v in self.jobs[j].evict.clone() {
            self.ready.remove(&v);
            let c = &self.costs.models[v.0];
            // A kill is immediate; an in-process unload drops the session and trims.
            if self.mode == UnloadMode::InProcess {
                unload_ms += c.unload_ms;
            }
            self.memory.unload(v.0, c.reclaimed);
        }
        if !self.jobs[j].evict.is_empty() {
            self.timeline.push((now + unload_ms, self.memory.current_mb()));
        }
        self.jobs[j].start_ms = now;
        let Some((m, _)) = self.jobs[j].instance else {
            self.loader = Some((j, Busy::new(unload_ms, now)));
            return;
        };
        // A load that peaks above its footprint holds the peak while it runs (a step at its start:
        // the profile has the peak, not when it comes); otherwise memory rises when it is done.
        let c = &self.costs.models[m];
        let during = self.memory.during_load_mb(c.footprint_mb, c.load_peak_mb);
        if c.load_peak_mb > c.footprint_mb && during > self.memory.current_mb() {
            self.timeline.push((now + unload_ms, during));
        }
        let load_ms = self.load_ms(m);
        self.jobs[j].load_ms = load_ms;
        self.loader = Some((j, Busy::new(unload_ms + load_ms, now)));
    }

    fn load_done(&mut self, j: usize, now: f64) {
        let Some(instance) = self.jobs[j].instance else {
            let model = self.jobs[j].evict[0].0;
            self.idle_unloads.push(IdleUnload { model, start_ms: self.jobs[j].start_ms, end_ms: now });
            self.loader = None;
            self.try_loader(now);
            return;
        };
        self.memory.load(instance.0, self.costs.models[instance.0].footprint_mb);
        self.timeline.push((now, self.memory.current_mb()));
        self.ready.insert(instance);
        if self.mode == UnloadMode::KillWorker {
            // Spawn-to-ready includes the new worker's first inference.
            self.first_done.insert(instance);
        }
        let s = self.slot_of(instance.0);
        for i in self.waiting.remove(&instance).unwrap_or_default() {
            self.slots[s].queue.push_back(i);
        }
        let job = &self.jobs[j];
        self.loads.push(LoadSpan {
            model: instance.0,
            evicted: job.evict.iter().map(|v| v.0).collect(),
            start_ms: job.start_ms,
            end_ms: now,
            load_ms: job.load_ms,
        });
        self.loader = None;
        self.try_loader(now);
        self.try_slot(s, now);
    }

    fn try_slot(&mut self, s: usize, now: f64) {
        if self.slots[s].current.is_some() {
            return;
        }
        let Some(i) = self.slots[s].queue.pop_front() else { return };
        let instance = self.route[i];
        let m = instance.0;
        let service = if self.first_done.insert(instance) {
            self.served[i].first_after_load = true;
            self.first_inference_ms(m)
        } else {
            self.costs.models[m].steady_ms(self.noise[i])
        };
        self.slots[s].current = Some((i, Busy::new(service, now)));
        self.served[i].start_ms = now;
    }

    fn inference_done(&mut self, i: usize, s: usize, now: f64) {
        self.served[i].end_ms = now;
        let instance = self.route[i];
        if let Some(p) = self.pending.get_mut(&instance) {
            *p -= 1;
        }
        self.slots[s].current = None;
        self.try_slot(s, now);
        self.try_loader(now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::super::plan::plan;
    use super::super::policy::{Policy, PolicyKind};
    use super::super::trace::Request;
    use super::*;

    fn trace(requests: &[(f64, usize)]) -> Trace {
        Trace {
            models: vec!["a".into(), "b".into(), "c".into()],
            requests: requests.iter().map(|&(t, m)| Request { time_ms: t, model: m }).collect(),
        }
    }

    fn run(t: &Trace, c: &Costs, budget: f64, kind: PolicyKind) -> Run {
        let p = plan(t, c, UnloadMode::InProcess, budget, &Policy::order(kind), 0.0).unwrap();
        simulate(t, c, UnloadMode::InProcess, &p, &vec![0.0; t.requests.len()], 1.0)
    }

    fn latencies(r: &Run) -> Vec<f64> {
        r.served.iter().map(|s| s.latency_ms()).collect()
    }

    #[test]
    fn queueing_behind_a_load_and_a_busy_slot_by_hand() {
        // a loads in 100 ms; first inference 20 ms, then 10 ms.
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 0.0);
        // Three requests for a at 0, 50 and 110 ms.
        let r = run(&trace(&[(0.0, 0), (50.0, 0), (110.0, 0)]), &c, 1000.0, PolicyKind::Lru);
        // #0: load 0-100, first inference 100-120 -> 120. #1 waits for the load too, then for #0: 120-130
        // -> 80. #2 arrives at 110 while #0 runs: 130-140 -> 30.
        assert_eq!(latencies(&r), [120.0, 80.0, 30.0]);
        assert_eq!(r.served.iter().map(|s| (s.hit, s.waited)).collect::<Vec<_>>(), [(false, true), (true, true), (true, false)]);
        assert_eq!(r.loads.len(), 1);
        assert_eq!((r.loads[0].start_ms, r.loads[0].end_ms), (0.0, 100.0));
    }

    #[test]
    fn a_resident_model_is_served_while_another_loads() {
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 0.0);
        // a at 0 (load 0-100, 100-120); b at 200 (load 200-500); a at 250 is served at once: 10 ms.
        let r = run(&trace(&[(0.0, 0), (200.0, 1), (250.0, 0)]), &c, 1000.0, PolicyKind::Lru);
        assert_eq!(latencies(&r), [120.0, 320.0, 10.0]);
    }

    #[test]
    fn an_eviction_waits_for_the_evicted_models_requests() {
        // Room for one model. a at 0 loads (0-100) and infers (100-120); b at 10 must evict a, so its
        // job waits until a's request is done at 120, then loads 300 ms: 420, first inference 440.
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 0.0);
        let r = run(&trace(&[(0.0, 0), (10.0, 1)]), &c, 150.0, PolicyKind::Lru);
        assert_eq!(latencies(&r), [120.0, 430.0]);
        assert_eq!((r.loads[1].start_ms, r.loads[1].end_ms, r.loads[1].evicted.clone()), (120.0, 420.0, vec![0]));
        // Memory: 100 MB from 100 ms, 0 after a's unload at 120, 100 again at 420.
        assert_eq!(r.memory, [(0.0, 0.0), (100.0, 100.0), (120.0, 0.0), (420.0, 100.0), (440.0, 100.0)]);
        assert_eq!(r.peak_mb, 100.0);
    }

    #[test]
    fn pre_warmed_models_serve_the_first_request_at_steady_speed() {
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 10.0);
        let r = run(&trace(&[(0.0, 0), (0.0, 1), (0.0, 2)]), &c, 1000.0, PolicyKind::KeepAll);
        assert_eq!(latencies(&r), [10.0, 20.0, 30.0], "one slot: they queue");
        assert_eq!(r.preload_ms, 100.0 + 300.0 + 50.0 + 3.0 * 20.0);
        assert_eq!(r.peak_mb, 310.0);
        assert!(r.loads.is_empty());
    }

    #[test]
    fn kill_worker_spawns_workers_that_serve_in_parallel() {
        // spawn-to-ready = 2 x load (the hand-made costs); each model its own worker and slot.
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 50.0), ("c", 100.0, 50.0)], 10.0);
        let t = trace(&[(0.0, 0), (0.0, 1), (300.0, 0), (300.0, 1)]);
        let p = plan(&t, &c, UnloadMode::KillWorker, 1000.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
        let r = simulate(&t, &c, UnloadMode::KillWorker, &p, &[0.0; 4], 1.0);
        // a's worker ready at 200 (its first inference inside), serves at steady speed: 210. b's spawn
        // waits for the manager's slot: 200-300, 310. At 300 both serve at once.
        assert_eq!(latencies(&r), [210.0, 310.0, 10.0, 20.0]);
        // Two workers of 10 MB baseline + 100 MB.
        assert_eq!(r.peak_mb, 220.0);
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let mut c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 0.0);
        c.models[0].steady_p95_ms = 30.0;
        let t = Trace::zipf(&["a".into(), "b".into(), "c".into()], 1.0, 300, 10.0, 5);
        let p = plan(&t, &c, UnloadMode::InProcess, 220.0, &Policy::order(PolicyKind::Lru), 0.0).unwrap();
        let one = simulate(&t, &c, UnloadMode::InProcess, &p, &noise(9, 300), 1.0);
        assert_eq!(one, simulate(&t, &c, UnloadMode::InProcess, &p, &noise(9, 300), 1.0));
        assert_ne!(one, simulate(&t, &c, UnloadMode::InProcess, &p, &noise(10, 300), 1.0));
        assert!(one.served.iter().all(|s| s.end_ms >= s.start_ms && s.start_ms >= s.arrival_ms));
    }

    #[test]
    fn interference_slows_what_overlaps_by_hand() {
        // a resident (pre-warmed), b loads in 300 ms from 0; a's request at 100 runs 10 ms of work at
        // half speed while b loads: 100-120. b's load did 100 ms alone, 20 ms at half speed (10 ms of
        // work), then the last 190 ms alone: it ends at 310 instead of 300.
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 0.0);
        let t = trace(&[(0.0, 1), (100.0, 0)]);
        let p = Plan {
            policy: Policy::order(PolicyKind::KeepAll),
            preloads: vec![0],
            actions: vec![Action::Load { evict: vec![] }, Action::Hit],
            expiries: vec![],
            thrash_reloads: 0,
        };
        let plain = simulate(&t, &c, UnloadMode::InProcess, &p, &[0.0; 2], 1.0);
        let slowed = simulate(&t, &c, UnloadMode::InProcess, &p, &[0.0; 2], 2.0);
        assert_eq!(plain.served[1].latency_ms(), 10.0);
        assert_eq!(slowed.served[1].latency_ms(), 20.0);
        assert_eq!((plain.loads[0].end_ms, slowed.loads[0].end_ms), (300.0, 310.0));
        assert_eq!(slowed.served[0].latency_ms(), 330.0, "b's first inference, 20 ms, after its load");
    }

    #[test]
    fn an_idle_unload_waits_for_the_request_in_flight_and_the_next_request_reloads() {
        // Keep-alive 0: a's unload is due at 0 but waits for its request (load 0-100, first inference
        // 100-120); the request at 50 then needs a new load: 120-220, first inference 220-240.
        let mut c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 300.0), ("c", 100.0, 50.0)], 0.0);
        c.models[0].load_peak_mb = 150.0;
        let t = trace(&[(0.0, 0), (50.0, 0)]);
        let policy = Policy { keep_alive_ms: Some(0.0), ..Policy::order(PolicyKind::Lru) };
        let p = plan(&t, &c, UnloadMode::InProcess, 1000.0, &policy, 0.0).unwrap();
        let r = simulate(&t, &c, UnloadMode::InProcess, &p, &[0.0; 2], 1.0);
        assert_eq!(latencies(&r), [120.0, 190.0]);
        assert_eq!(r.idle_unloads[0], IdleUnload { model: 0, start_ms: 120.0, end_ms: 120.0 });
        assert_eq!(r.idle_unloads.len(), 2, "the last request's too, at the end");
        // Each load holds its peak (150 MB) until it settles at the footprint.
        assert_eq!(&r.memory[..6], [(0.0, 0.0), (0.0, 150.0), (100.0, 100.0), (120.0, 0.0), (120.0, 150.0), (220.0, 100.0)]);
        assert_eq!(r.peak_mb, 150.0);
    }
}
