//! Scenario `levers`, in one worker: after the model's first load, the floor (how fast this machine
//! reads the model's files, and on CUDA copies to the device), then every load-path lever in turn:
//! `--repeats` loads each with its first inference, the steady p50, the footprint, the outputs against
//! the default's, and what ONNX Runtime reports back for the options the lever set. A lever that
//! cannot be tried is recorded with the reason; it does not end the trial.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};

use super::TrialContext;
use crate::inputs::ModelInputs;
use crate::levers::breakdown::{self, LoadBreakdown};
use crate::levers::outputs::{Outputs, compare};
use crate::levers::session::{self, LoadOptions, LogMarks};
use crate::levers::{Lever, LoadFrom, floor};
use crate::loaded_model::{LoadedModel, ms_since};
use crate::onnx_graph::GraphSummary;
use crate::phase::Phase;
use crate::probe::{GpuReading, malloc_trim, process::delta};
use crate::protocol::ModelSpec;
use crate::provider::setup::{ModelSource, OptLevel, ProviderSetup, SessionExtras, read_config_entry};
use crate::results::{LeverResult, LeversResult};
use crate::stats::{Summary, median};

/// Files the scenario makes (pre-optimised copies, optimised graphs to count), removed at the end.
struct Workdir(PathBuf);

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The model's bytes and its external data's, for loads from memory.
struct InMemory {
    model: Vec<u8>,
    external: Vec<(String, std::sync::Arc<[u8]>)>,
}

pub(crate) fn run(w: &mut TrialContext) -> Result<LeversResult> {
    let model = super::only_model(w)?;
    super::read_through(model)?;
    let mut planned = None;
    super::first_load(w, model, &mut planned)?;
    let inputs = planned.expect("the first load plans the inputs");

    w.phase(Phase::Floor);
    // The host-to-device floor is read with CUDA: for every provider whose memory is an NVIDIA GPU's.
    let cuda_device = w.spec.provider.memory().uses_nvml().then(|| crate::provider::cuda::device_id(&w.spec.provider.options) as i32);
    let floor = floor::measure(&model.files, cuda_device);
    super::read_through(model)?;

    w.phase(Phase::Preoptimize);
    let workdir = Workdir(std::env::temp_dir().join(format!("mora-levers-{}", std::process::id())));
    std::fs::create_dir_all(&workdir.0).with_context(|| format!("cannot create {}", workdir.0.display()))?;
    let start = Instant::now();
    let preoptimized = [("model.optimized.onnx", LoadFrom::PreOptimizedOnnx), ("model.optimized.ort", LoadFrom::PreOptimizedOrt)]
        .map(|(name, from)| (from, save_optimized(w, model, &workdir.0.join(name), None)));
    let preoptimize_ms = Some(ms_since(start));
    let in_memory = read_in_memory(model)?;

    let physical = sysinfo::System::physical_core_count().unwrap_or(1);
    let mut reference: Option<Outputs> = None;
    let mut default_threads = None;
    let mut levers = Vec::new();
    for lever in Lever::all(w.spec.provider.provider, physical) {
        w.phase(Phase::Lever(lever.to_string()));
        let source = match lever.load_from() {
            LoadFrom::File => Ok(ModelSource::File(&model.path)),
            LoadFrom::Memory => Ok(ModelSource::Memory { model: &in_memory.model, external: &in_memory.external }),
            from => match preoptimized.iter().find(|(f, _)| *f == from).map(|(_, made)| made) {
                Some(Ok(path)) => Ok(ModelSource::File(path.as_path())),
                Some(Err(e)) => Err(format!("the pre-optimised copy could not be made: {e:#}")),
                None => Err("no pre-optimised copy".to_string()),
            },
        };
        let mut result = match source {
            Ok(source) => {
                measure(w, lever, &source, &inputs, &mut reference, &workdir.0).unwrap_or_else(|e| failed(lever, format!("{e:#}")))
            }
            Err(why) => failed(lever, why),
        };
        result.evidence.extend(evidence(w, model, lever, &workdir.0, &mut default_threads));
        levers.push(result);
    }
    Ok(LeversResult { provider_baseline: w.provider_baseline.clone(), floor, preoptimize_ms, levers })
}

fn failed(lever: Lever, why: String) -> LeverResult {
    LeverResult {
        lever,
        label: lever.to_string(),
        error: Some(why),
        load_ms: None,
        first_inference_ms: None,
        steady_p50_ms: None,
        memory_increase_mb: None,
        gpu_memory_increase_mb: None,
        agreement: None,
        evidence: vec![],
        breakdown: None,
        logged_breakdown: None,
    }
}

/// `--repeats` loads under `lever`, each with its first inference and ONNX Runtime's profiler; the
/// steady p50 on the last; one more load with the session's log read, for the finer breakdown.
fn measure(
    w: &TrialContext,
    lever: Lever,
    source: &ModelSource,
    inputs: &ModelInputs,
    reference: &mut Option<Outputs>,
    workdir: &Path,
) -> Result<LeverResult> {
    let (mut setup, extras) = lever.apply(&w.spec.provider);
    // The cache lever's folder: new, so its first load compiles and fills it.
    let cache = (lever == Lever::ProviderCache).then(|| workdir.join("provider-cache"));
    if let Some(dir) = &cache {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        crate::levers::with_cache(&mut setup, dir);
    }
    let profiled = LoadOptions { profile_prefix: Some(workdir.join("profile")), ..LoadOptions::default() };
    let (mut loads, mut firsts, mut rss, mut gpu, mut breakdowns) = (vec![], vec![], vec![], vec![], vec![]);
    let mut agreement = None;
    let mut steady_p50_ms = None;
    let mut evidence = Vec::new();
    // The cache lever loads once more: its first load (empty cache) is reported apart.
    let repeats = w.spec.settings.repeats.max(1) + usize::from(cache.is_some());
    for i in 0..repeats {
        malloc_trim();
        let before = w.snapshot();
        let start = Instant::now();
        let mut session = session::open(&setup, &w.runtime.env, source, &extras, &profiled)?;
        let load_ms = ms_since(start);
        loads.push(load_ms);
        match session::take_profile(&mut session).and_then(|trace| breakdown::parse_profile(&trace)) {
            Ok(p) => breakdowns.push(LoadBreakdown::new(load_ms, p, None)),
            Err(e) if i == 0 => evidence.push(format!("no load breakdown: {e:#}")),
            Err(_) => {}
        }
        let mut loaded = LoadedModel::with_inputs(session, inputs)?;
        let (first_ms, outputs) = loaded.run_keeping_outputs()?;
        firsts.push(first_ms);
        let after = w.snapshot();
        rss.extend(delta(after.process.rss_mb, before.process.rss_mb));
        if let Some(r) = GpuReading::choose([&after]) {
            gpu.extend(delta(r.read(&after), r.read(&before)));
        }
        if i == 0 {
            let mut captured = Outputs::capture(&outputs);
            if crate::fault::perturb_outputs(&lever.to_string()) {
                captured = captured.perturbed();
            }
            match (lever, reference.as_ref()) {
                (Lever::Default, _) => *reference = Some(captured),
                (_, Some(r)) => agreement = Some(compare(r, &captured)),
                (_, None) => {}
            }
        }
        drop(outputs);
        if i + 1 == repeats {
            let steady: Vec<f64> = (0..w.spec.settings.runs).map(|_| loaded.run()).collect::<Result<_>>()?;
            steady_p50_ms = median(&steady);
        }
        loaded.unload();
    }
    let logged_breakdown = match logged_load(w, &setup, &extras, source, workdir) {
        Ok(b) => Some(b),
        Err(e) => {
            evidence.push(format!("no logged breakdown: {e:#}"));
            None
        }
    };
    if let Some(dir) = &cache {
        let (files, bytes) = folder_size(dir);
        if !breakdowns.is_empty() {
            breakdowns.remove(0);
        }
        evidence.push(format!(
            "first load with the empty cache: {:.0} ms (then {:.0} ms first inference); the cache then held {files} files, {:.1} MB; the loads below read it",
            loads.remove(0),
            firsts.remove(0),
            bytes as f64 / crate::units::MIB as f64
        ));
        let _ = std::fs::remove_dir_all(dir);
        if files == 0 {
            evidence.push("the provider wrote nothing into its cache folder: these loads compiled again".into());
        }
    }
    Ok(LeverResult {
        lever,
        label: lever.to_string(),
        error: None,
        load_ms: Summary::of(&loads),
        first_inference_ms: Summary::of(&firsts),
        steady_p50_ms,
        memory_increase_mb: Summary::of(&rss),
        gpu_memory_increase_mb: Summary::of(&gpu),
        agreement,
        evidence,
        breakdown: LoadBreakdown::median_of(&breakdowns),
        logged_breakdown,
    })
}

/// One load with the profiler and the session's INFO log stamped on arrival: the initialisation split
/// by its log lines, each graph transformer's time.
fn logged_load(
    w: &TrialContext,
    setup: &ProviderSetup,
    extras: &SessionExtras,
    source: &ModelSource,
    workdir: &Path,
) -> Result<LoadBreakdown> {
    malloc_trim();
    let marks = LogMarks::default();
    let start = Instant::now();
    let options = LoadOptions {
        profile_prefix: Some(workdir.join("profile-logged")),
        log_marks: Some((start, marks.clone())),
        ..LoadOptions::default()
    };
    let mut session = session::open(setup, &w.runtime.env, source, extras, &options)?;
    let wall_ms = ms_since(start);
    let profiled = breakdown::parse_profile(&session::take_profile(&mut session)?)?;
    drop(session);
    let marks = marks.lock().map(|m| m.clone()).unwrap_or_default();
    let split = breakdown::split_initialization(&marks);
    Ok(LoadBreakdown::new(wall_ms, profiled, split))
}

/// Files and bytes under `dir`, recursively: proof that a cache was written.
fn folder_size(dir: &Path) -> (usize, u64) {
    let mut out = (0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => {
                let (f, b) = folder_size(&e.path());
                out = (out.0 + f, out.1 + b);
            }
            Ok(m) => out = (out.0 + 1, out.1 + m.len()),
            Err(_) => {}
        }
    }
    out
}

/// Creates a session that saves the graph as optimised (at `level`, default all) to `path`; returns
/// the path.
fn save_optimized(w: &TrialContext, model: &ModelSpec, path: &Path, level: Option<OptLevel>) -> Result<PathBuf> {
    let extras = SessionExtras { optimization: level, save_optimized: Some(path.to_path_buf()), ..SessionExtras::default() };
    drop(w.spec.provider.session(&w.runtime.env, &ModelSource::File(&model.path), &extras)?);
    if !path.exists() {
        return Err(anyhow!("ONNX Runtime wrote no optimised model to {}", path.display()));
    }
    Ok(path.to_path_buf())
}

fn read_in_memory(model: &ModelSpec) -> Result<InMemory> {
    let bytes = std::fs::read(&model.path).with_context(|| format!("cannot read {}", model.path.display()))?;
    Ok(InMemory { model: bytes, external: super::external_data(model)? })
}

/// What ONNX Runtime reports back for the options `lever` sets.
fn evidence(w: &TrialContext, model: &ModelSpec, lever: Lever, workdir: &Path, default_threads: &mut Option<u64>) -> Vec<String> {
    let (setup, extras) = lever.apply(&w.spec.provider);
    let mut out = Vec::new();
    if let Ok(builder) = setup.builder(&w.runtime.env, &extras) {
        for key in ["session.disable_prepacking", "session.use_device_allocator_for_initializers"] {
            if let Some(value) = read_config_entry(&builder, key) {
                out.push(format!("{key}={value}"));
            }
        }
    }
    match lever {
        Lever::Default | Lever::IntraThreads { .. } => {
            // ONNX Runtime starts an intra-op pool per session: the process's thread count shows it.
            if let Ok(session) = setup.session(&w.runtime.env, &ModelSource::File(&model.path), &extras) {
                let threads = process_threads();
                drop(session);
                if let Some(n) = threads {
                    out.push(format!("threads while loaded: {n}"));
                    if lever == Lever::Default {
                        *default_threads = Some(n);
                    } else if let Some(d) = default_threads {
                        out.push(format!("(default: {d})"));
                    }
                }
            }
        }
        Lever::Optimization { level } => {
            let path = workdir.join(format!("graph-{level}.onnx"));
            if let Ok(path) = save_optimized(w, model, &path, Some(level)) {
                let nodes = |p: &Path| GraphSummary::read(p).ok().map(|g| g.nodes);
                if let (Some(optimised), Some(original)) = (nodes(&path), nodes(&model.path)) {
                    out.push(format!("nodes after optimisation: {optimised} (the file has {original})"));
                }
            }
        }
        _ => {}
    }
    out
}

/// The process's thread count (/proc/self/status `Threads:`).
fn process_threads() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")?.trim().parse().ok())
}
