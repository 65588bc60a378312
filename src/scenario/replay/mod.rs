//! The worker half of `mora simulate --replay` (`mora worker --replay FILE`): a simulated plan run
//! for real, with the same structure as the simulation's model. A dispatcher releases each request at
//! its time and applies the plan's decision; one loader thread (the loading slot) runs load jobs in
//! order, each evicting once the evicted model's requests are done, then loading; inference threads
//! serve ready requests first come first served. In-process, this worker holds every model (an
//! eviction drops the session and trims) and has one inference thread; kill-worker, each loaded model
//! lives in a serving worker of its own ([`serving`]: a load spawns one, an eviction kills it) with an
//! inference thread each. A sampler reads memory meanwhile. Then, under the same conditions, each
//! model's times are measured again alone. The worker reports a [`Run`], the simulation's own terms,
//! and those times on descriptor 3.

pub(crate) mod serving;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::inputs::ModelInputs;
use crate::loaded_model::{LoadedModel, ms_since};
use crate::phase::Phase;
use crate::probe::{Probe, gpu, malloc_trim, process};
use crate::protocol::{Channel, ReplayReport, WorkerMessage};
use crate::replay::ReplaySpec;
use crate::runtime::Runtime;
use crate::simulate::costs::{MeasuredTimes, UnloadMode};
use crate::simulate::plan::Action;
use crate::simulate::run::{IdleUnload, LoadSpan, Run, Served};
use serving::{ServeSpec, ServingWorker};

/// A model's copy in memory: (model, generation), as in the simulation's engine.
type Instance = (usize, u32);

/// `mora worker --replay FILE`: returns the process exit code.
pub(crate) fn main(path: &Path) -> i32 {
    let mut channel = Channel::open();
    let spec: ReplaySpec = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(e) => {
            channel.send(&WorkerMessage::Failed { phase: Phase::Start, error: format!("{}: {e}", path.display()), runtime_log: vec![] });
            return 2;
        }
    };
    match run(&spec, &mut channel) {
        Ok(report) => {
            channel.phase(Phase::Report);
            channel.send(&WorkerMessage::Replay(Box::new(report)));
            0
        }
        Err(e) => {
            let phase = channel.current_phase().clone();
            channel.send(&WorkerMessage::Failed { phase, error: format!("{e:#}"), runtime_log: vec![] });
            1
        }
    }
}

/// Enters a phase: the parent hears of it, and a fault injected for it fires.
fn phase(channel: &mut Channel, phase: Phase) {
    channel.phase(phase);
    crate::fault::inject(channel.current_phase());
}

fn run(spec: &ReplaySpec, channel: &mut Channel) -> Result<ReplayReport> {
    let probe = Probe { gpu_index: spec.provider.gpu_index() };
    if probe.gpu_index.is_some() {
        let _ = gpu::nvml();
    }
    let process_start_mb = own_memory(probe.gpu_index);
    let device_start_mb = probe.gpu_index.and_then(|i| gpu::memory(i, std::process::id())).and_then(|g| g.device_used_mb);
    let memory = MemoryReader {
        gpu_index: probe.gpu_index,
        mode: spec.mode,
        base_mb: process_start_mb.unwrap_or(0.0),
        device_start_mb: device_start_mb.unwrap_or(0.0),
    };
    phase(channel, Phase::ProviderInit);
    let (runtime, provider_baseline) = super::init_provider(&spec.runtime, &spec.provider, &probe)?;
    phase(channel, Phase::ReadThrough);
    for model in &spec.models {
        super::read_through(model)?;
    }
    phase(channel, Phase::Preload);
    let mut inputs: Vec<Option<ModelInputs>> = vec![None; spec.models.len()];
    let mut state = State::new(spec);
    let loader = Loader { spec, runtime: &runtime };
    let start = Instant::now();
    // Preloads start on this thread, which outlives their serving workers (kill-worker).
    for &m in &spec.preloads {
        let mut held = loader
            .load(m, &mut inputs[m], |pid| {
                state.workers.insert(m, pid);
            })?
            .0;
        if let Held::Session(_) = held {
            held.run()?;
        }
        state.generation[m] = 1;
        state.sessions.insert(m, (1, Arc::new(Mutex::new(held))));
        state.first_done.insert((m, 1));
    }
    let preload_ms = ms_since(start);
    phase(channel, Phase::Replay);
    let shared = Shared { state: Mutex::new(state), changed: Condvar::new() };
    let t0 = Instant::now();
    if probe.gpu_index.is_none() {
        process::reset_peak_rss();
    }
    let slots = spec.mode.inference_slots(spec.models.len());
    let samples = std::thread::scope(|scope| -> Result<Vec<(f64, f64)>> {
        let sampler = scope.spawn(|| sample(&shared, &memory, t0, spec.sample_every_ms));
        let loading = scope.spawn(|| guarded(&shared, || load_jobs(&shared, &loader, &mut inputs, t0)));
        let shared = &shared;
        let inference: Vec<_> = (0..slots).map(|slot| scope.spawn(move || guarded(shared, || infer(shared, slot, t0)))).collect();
        let dispatched = guarded(shared, || dispatch(shared, spec, t0));
        let mut results = vec![Ok(dispatched), loading.join()];
        results.extend(inference.into_iter().map(|t| t.join()));
        let samples = sampler.join().map_err(|_| anyhow!("the memory sampler panicked"))?;
        for r in results {
            r.map_err(|_| anyhow!("a replay thread panicked"))??;
        }
        Ok(samples)
    })?;
    let mut state = shared.state.into_inner().map_err(|_| anyhow!("a replay thread panicked"))?;
    if let Some(e) = state.error {
        bail!(e);
    }
    let sampled_peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    // The kernel's peak is this process's own: the whole story in-process only.
    let kernel_peak = match (probe.gpu_index, spec.mode) {
        (None, UnloadMode::InProcess) => process::ProcessMemory::current().peak_rss_mb.map(|p| p - memory.base_mb),
        _ => None,
    };
    phase(channel, Phase::MeasureAgain);
    // The trace is over: its sessions go (kill-worker: its workers are gone) before each model is
    // measured alone.
    state.sessions.clear();
    malloc_trim();
    let measured_times = match spec.mode {
        UnloadMode::InProcess => measure_again(spec, &runtime, &mut inputs)?,
        UnloadMode::KillWorker => measure_again_in_workers(&loader)?,
    };
    let runtime_log = runtime.take_log();
    Ok(ReplayReport {
        provider_baseline,
        providers_registered: spec.provider.registered_names(),
        run: Run {
            served: state.served,
            loads: state.loads,
            idle_unloads: state.idle_unloads,
            peak_mb: kernel_peak.unwrap_or(0.0).max(sampled_peak),
            memory: samples,
            preload_ms,
        },
        process_start_mb,
        measured_times,
        runtime_log,
    })
}

/// Steady runs per model when its times are measured again after the trace.
const STEADY_RUNS: usize = 10;
/// The pause before each of them: requests arrive apart, and on a machine shared with other work
/// back-to-back runs are slower than runs that start after a pause (the scheduler favours threads
/// that slept), so the runs are measured the way the replay served them.
const PAUSE: Duration = Duration::from_millis(100);

/// `STEADY_RUNS` runs, each after the pause, summarised.
fn steady_runs(mut run: impl FnMut() -> Result<f64>) -> Result<crate::stats::Summary> {
    let steady = (0..STEADY_RUNS)
        .map(|_| {
            std::thread::sleep(PAUSE);
            run()
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(crate::stats::Summary::of(&steady).expect("steady runs were measured"))
}

/// Each model alone, in a warmed worker, right after the replay: load, first inference, steady runs
/// (each after a pause), unload and trim.
fn measure_again(spec: &ReplaySpec, runtime: &Runtime, inputs: &mut [Option<ModelInputs>]) -> Result<Vec<MeasuredTimes>> {
    let mut measured = Vec::with_capacity(spec.models.len());
    for (m, model) in spec.models.iter().enumerate() {
        let (mut loaded, load_ms) = LoadedModel::load_with_inputs(runtime, &spec.provider, model, &mut inputs[m])?;
        let first_inference_ms = loaded.run()?;
        let summary = steady_runs(|| loaded.run())?;
        let unload_ms = loaded.unload();
        malloc_trim();
        measured.push(MeasuredTimes {
            model: model.id.clone(),
            load_ms,
            first_inference_ms,
            steady_p50_ms: summary.median,
            steady_p95_ms: summary.p95,
            unload_ms,
            spawn_to_ready_ms: None,
        });
    }
    Ok(measured)
}

/// Each model alone in a fresh serving worker, right after a kill-worker replay: spawn-to-ready (the
/// load, as the replay's loads are), steady runs (each after a pause, over the worker's pipe as the
/// replay's were), the kill.
fn measure_again_in_workers(loader: &Loader) -> Result<Vec<MeasuredTimes>> {
    let mut measured = Vec::with_capacity(loader.spec.models.len());
    for (m, model) in loader.spec.models.iter().enumerate() {
        let mut worker = ServingWorker::start(&loader.serve_spec(m)).with_context(|| format!("measuring {} again", model.id))?;
        let (spawn_to_ready_ms, ready) = worker.wait_ready().with_context(|| format!("measuring {} again", model.id))?;
        let summary = steady_runs(|| worker.run())?;
        let start = Instant::now();
        worker.kill();
        measured.push(MeasuredTimes {
            model: model.id.clone(),
            load_ms: ready.load_time_ms,
            first_inference_ms: ready.first_inference_ms,
            steady_p50_ms: summary.median,
            steady_p95_ms: summary.p95,
            unload_ms: ms_since(start),
            spawn_to_ready_ms: Some(spawn_to_ready_ms),
        });
    }
    Ok(measured)
}

/// A loaded model: a session in this worker, or a serving worker of its own.
enum Held {
    Session(LoadedModel),
    Worker(Box<ServingWorker>),
}

impl Held {
    fn run(&mut self) -> Result<f64> {
        match self {
            Held::Session(s) => s.run(),
            Held::Worker(w) => w.run(),
        }
    }

    /// The eviction: drop the session and trim, or kill the worker.
    fn evict(self) {
        match self {
            Held::Session(s) => {
                s.unload();
                malloc_trim();
            }
            Held::Worker(w) => w.kill(),
        }
    }
}

/// Makes loaded models the way the replay's mode does.
struct Loader<'a> {
    spec: &'a ReplaySpec,
    runtime: &'a Runtime,
}

impl Loader<'_> {
    fn serve_spec(&self, m: usize) -> ServeSpec {
        ServeSpec { provider: self.spec.provider.clone(), runtime: self.spec.runtime.clone(), model: self.spec.models[m].clone() }
    }

    /// Loads model `m`: in this worker (returns the load time), or in a new serving worker started on
    /// the calling thread, whose pid goes to `started` before it is waited for (returns spawn-to-ready,
    /// its first inference included).
    fn load(&self, m: usize, inputs: &mut Option<ModelInputs>, started: impl FnOnce(u32)) -> Result<(Held, f64)> {
        let model = &self.spec.models[m];
        match self.spec.mode {
            UnloadMode::InProcess => {
                let (loaded, ms) = LoadedModel::load_with_inputs(self.runtime, &self.spec.provider, model, inputs)
                    .with_context(|| format!("loading {}", model.id))?;
                Ok((Held::Session(loaded), ms))
            }
            UnloadMode::KillWorker => {
                let mut worker = ServingWorker::start(&self.serve_spec(m))?;
                started(worker.pid());
                let (ms, _) = worker.wait_ready().with_context(|| format!("loading {} in a serving worker", model.id))?;
                Ok((Held::Worker(Box::new(worker)), ms))
            }
        }
    }
}

/// This process's memory now: RSS, or its GPU memory on CUDA.
fn own_memory(gpu_index: Option<u32>) -> Option<f64> {
    match gpu_index {
        Some(i) => gpu::memory(i, std::process::id()).and_then(|g| g.process_mb.or(g.device_used_mb)),
        None => process::rss_mb(std::process::id()),
    }
}

/// What the models hold, counted from a bare worker's memory before its provider started (as the
/// profile's baseline is): in-process this worker's, kill-worker the sum over the serving workers
/// (each counted from this worker's own start, the same binary at the same point) or, on a GPU, the
/// device's growth since the replay started.
struct MemoryReader {
    gpu_index: Option<u32>,
    mode: UnloadMode,
    base_mb: f64,
    device_start_mb: f64,
}

impl MemoryReader {
    fn now(&self, workers: &[u32]) -> Option<f64> {
        match (self.mode, self.gpu_index) {
            (UnloadMode::InProcess, gpu) => own_memory(gpu).map(|mb| mb - self.base_mb),
            (UnloadMode::KillWorker, Some(i)) => {
                gpu::memory(i, std::process::id()).and_then(|g| g.device_used_mb).map(|mb| mb - self.device_start_mb)
            }
            // A worker that has just exited reads as nothing: it holds nothing.
            (UnloadMode::KillWorker, None) => {
                Some(workers.iter().filter_map(|&pid| process::rss_mb(pid)).map(|mb| (mb - self.base_mb).max(0.0)).sum())
            }
        }
    }
}

/// A load after its evictions, or a keep-alive's unload alone (`instance` None).
struct Job {
    instance: Option<Instance>,
    evict: Vec<Instance>,
}

/// Everything the threads share, under one lock.
struct State {
    generation: Vec<u32>,
    mode: UnloadMode,
    /// Loaded models: model -> (generation, what holds it).
    sessions: BTreeMap<usize, (u32, Arc<Mutex<Held>>)>,
    /// Kill-worker: the serving workers alive, loading or loaded: model -> pid (for the sampler).
    workers: BTreeMap<usize, u32>,
    route: Vec<Instance>,
    waiting: BTreeMap<Instance, Vec<usize>>,
    pending: BTreeMap<Instance, usize>,
    first_done: BTreeSet<Instance>,
    /// Ready requests per inference slot.
    ready: Vec<VecDeque<usize>>,
    jobs: VecDeque<Job>,
    dispatched_all: bool,
    loads_done: bool,
    served: Vec<Served>,
    loads: Vec<LoadSpan>,
    idle_unloads: Vec<IdleUnload>,
    /// The first error of any thread: everyone stops.
    error: Option<String>,
}

impl State {
    fn new(spec: &ReplaySpec) -> State {
        State {
            generation: vec![0; spec.models.len()],
            mode: spec.mode,
            sessions: BTreeMap::new(),
            workers: BTreeMap::new(),
            route: vec![(0, 0); spec.requests.len()],
            waiting: BTreeMap::new(),
            pending: BTreeMap::new(),
            first_done: BTreeSet::new(),
            ready: vec![VecDeque::new(); spec.mode.inference_slots(spec.models.len())],
            jobs: VecDeque::new(),
            dispatched_all: false,
            loads_done: false,
            served: spec
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
            error: None,
        }
    }

    fn is_ready(&self, instance: Instance) -> bool {
        self.sessions.get(&instance.0).is_some_and(|(g, _)| *g == instance.1)
    }

    fn make_ready(&mut self, request: usize, model: usize) {
        let slot = self.mode.slot_of(model);
        self.ready[slot].push_back(request);
    }

    /// Every request dispatched and served, every load done.
    fn finished(&self) -> bool {
        self.dispatched_all
            && self.loads_done
            && self.ready.iter().all(VecDeque::is_empty)
            && self.waiting.values().all(Vec::is_empty)
            && self.pending.values().all(|&p| p == 0)
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `until` holds or a thread failed; returns the guard, or `None` on failure.
    fn wait_for<'a>(&'a self, mut guard: MutexGuard<'a, State>, until: impl Fn(&State) -> bool) -> Option<MutexGuard<'a, State>> {
        while guard.error.is_none() && !until(&guard) {
            guard = self.changed.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        guard.error.is_none().then_some(guard)
    }
}

/// Runs a thread's work; its error stops the others.
fn guarded(shared: &Shared, work: impl FnOnce() -> Result<()>) -> Result<()> {
    let result = work();
    if let Err(e) = &result {
        let mut s = shared.lock();
        s.error.get_or_insert_with(|| format!("{e:#}"));
        shared.changed.notify_all();
    }
    result
}

/// Sleeps until `time_ms` after `t0`.
fn sleep_until(t0: Instant, time_ms: f64) {
    let due = t0 + Duration::from_secs_f64(time_ms / 1000.0);
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

/// Releases each request at its time and applies the plan's decision; queues each keep-alive's
/// unload at its time, after the requests at or before it (as the plan decided).
fn dispatch(shared: &Shared, spec: &ReplaySpec, t0: Instant) -> Result<()> {
    let mut expiries = spec.expiries.iter().peekable();
    for (i, request) in spec.requests.iter().enumerate() {
        while let Some(x) = expiries.next_if(|x| x.at_ms < request.time_ms) {
            sleep_until(t0, x.at_ms);
            let mut s = shared.lock();
            if s.error.is_some() {
                return Ok(());
            }
            let instance = (x.model, s.generation[x.model]);
            s.jobs.push_back(Job { instance: None, evict: vec![instance] });
            shared.changed.notify_all();
        }
        sleep_until(t0, request.time_ms);
        let mut s = shared.lock();
        if s.error.is_some() {
            return Ok(());
        }
        let m = request.model;
        if let Action::Load { evict } = &request.action {
            s.generation[m] += 1;
            let evict = evict.iter().map(|&v| (v, s.generation[v])).collect();
            let instance = (m, s.generation[m]);
            s.jobs.push_back(Job { instance: Some(instance), evict });
        }
        let instance = (m, s.generation[m]);
        if instance.1 == 0 {
            bail!("request {i} for model {m} is a hit on a model the plan never loaded: the plan does not match the trace");
        }
        s.route[i] = instance;
        *s.pending.entry(instance).or_default() += 1;
        let ready = s.is_ready(instance);
        s.served[i].hit = matches!(request.action, Action::Hit);
        s.served[i].waited = !ready;
        if ready {
            s.make_ready(i, m);
        } else {
            s.waiting.entry(instance).or_default().push(i);
        }
        shared.changed.notify_all();
    }
    for x in expiries {
        sleep_until(t0, x.at_ms);
        let mut s = shared.lock();
        if s.error.is_some() {
            return Ok(());
        }
        let instance = (x.model, s.generation[x.model]);
        s.jobs.push_back(Job { instance: None, evict: vec![instance] });
        shared.changed.notify_all();
    }
    shared.lock().dispatched_all = true;
    shared.changed.notify_all();
    Ok(())
}

/// The loading slot: each job in order, its evictions once their requests are served, then the load.
/// Kill-worker, serving workers are started on this thread, so it stays until the replay is over
/// and kills those left (a worker's parent-death signal fires when the thread that started it ends).
fn load_jobs(shared: &Shared, loader: &Loader, inputs: &mut [Option<ModelInputs>], t0: Instant) -> Result<()> {
    let result = run_load_jobs(shared, loader, inputs, t0);
    if loader.spec.mode == UnloadMode::KillWorker {
        let guard = shared.lock();
        // After an error here nothing will finish: kill at once.
        let mut s = match result {
            Ok(()) => shared.wait_for(guard, State::finished).unwrap_or_else(|| shared.lock()),
            Err(_) => guard,
        };
        let left: Vec<_> = std::mem::take(&mut s.sessions).into_values().map(|(_, held)| held).collect();
        s.workers.clear();
        drop(s);
        for held in left {
            // Every request is served (or the replay failed): nothing else holds it.
            if let Ok(held) = Arc::try_unwrap(held) {
                held.into_inner().unwrap_or_else(|p| p.into_inner()).evict();
            }
        }
    }
    result
}

fn run_load_jobs(shared: &Shared, loader: &Loader, inputs: &mut [Option<ModelInputs>], t0: Instant) -> Result<()> {
    loop {
        let guard = shared.lock();
        let Some(mut s) = shared.wait_for(guard, |s| !s.jobs.is_empty() || s.dispatched_all) else { return Ok(()) };
        if s.jobs.is_empty() {
            s.loads_done = true;
            shared.changed.notify_all();
            return Ok(());
        }
        let drained = |s: &State| s.jobs.front().is_some_and(|j| j.evict.iter().all(|v| s.pending.get(v).copied().unwrap_or(0) == 0));
        let Some(mut s) = shared.wait_for(s, drained) else { return Ok(()) };
        let job = s.jobs.pop_front().expect("waited for a job");
        let start_ms = ms_since(t0);
        let mut evicted = Vec::new();
        for v in &job.evict {
            match s.sessions.remove(&v.0) {
                Some((g, held)) if g == v.1 => evicted.push(held),
                _ => bail!("the plan evicts model {} generation {}, which is not loaded", v.0, v.1),
            }
            s.workers.remove(&v.0);
        }
        drop(s);
        for held in evicted {
            let held = Arc::try_unwrap(held).map_err(|_| anyhow!("an evicted model is still in use"))?;
            held.into_inner().unwrap_or_else(|p| p.into_inner()).evict();
        }
        let Some(instance) = job.instance else {
            let mut s = shared.lock();
            let model = job.evict[0].0;
            s.idle_unloads.push(IdleUnload { model, start_ms, end_ms: ms_since(t0) });
            shared.changed.notify_all();
            continue;
        };
        let m = instance.0;
        let (held, load_ms) = loader.load(m, &mut inputs[m], |pid| {
            shared.lock().workers.insert(m, pid);
        })?;
        let mut s = shared.lock();
        let is_worker = matches!(held, Held::Worker(_));
        s.sessions.insert(m, (instance.1, Arc::new(Mutex::new(held))));
        if is_worker {
            // Spawn-to-ready includes the new worker's first inference, as the simulation has it.
            s.first_done.insert(instance);
        }
        for i in s.waiting.remove(&instance).unwrap_or_default() {
            s.make_ready(i, m);
        }
        let end_ms = ms_since(t0);
        s.loads.push(LoadSpan { model: m, evicted: job.evict.iter().map(|v| v.0).collect(), start_ms, end_ms, load_ms });
        shared.changed.notify_all();
    }
}

/// An inference slot: its ready requests one at a time, first come first served.
fn infer(shared: &Shared, slot: usize, t0: Instant) -> Result<()> {
    loop {
        let guard = shared.lock();
        let finished = |s: &State| s.dispatched_all && s.loads_done && s.waiting.values().all(Vec::is_empty);
        let Some(mut s) = shared.wait_for(guard, |s| !s.ready[slot].is_empty() || finished(s)) else { return Ok(()) };
        let Some(i) = s.ready[slot].pop_front() else { return Ok(()) };
        let instance = s.route[i];
        let held = match s.sessions.get(&instance.0) {
            Some((g, held)) if *g == instance.1 => Arc::clone(held),
            _ => bail!("request {i}'s model {} generation {} is not loaded", instance.0, instance.1),
        };
        let first = s.first_done.insert(instance);
        drop(s);
        let start_ms = ms_since(t0);
        held.lock().unwrap_or_else(|p| p.into_inner()).run()?;
        let end_ms = ms_since(t0);
        drop(held);
        let mut s = shared.lock();
        let served = &mut s.served[i];
        served.start_ms = start_ms;
        served.end_ms = end_ms;
        served.first_after_load = first;
        if let Some(p) = s.pending.get_mut(&instance) {
            *p -= 1;
        }
        shared.changed.notify_all();
    }
}

/// Reads memory every `every_ms` until the replay ends: (ms after the start, MB the models hold).
fn sample(shared: &Shared, memory: &MemoryReader, t0: Instant, every_ms: u64) -> Vec<(f64, f64)> {
    let mut samples = Vec::new();
    loop {
        let workers: Vec<u32> = shared.lock().workers.values().copied().collect();
        if let Some(mb) = memory.now(&workers) {
            samples.push((ms_since(t0), mb));
        }
        {
            let s = shared.lock();
            if s.error.is_some() || s.finished() {
                return samples;
            }
        }
        std::thread::sleep(Duration::from_millis(every_ms.max(1)));
    }
}
