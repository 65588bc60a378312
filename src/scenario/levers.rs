//! Scenario `levers`, in one worker: after the model's first load, the floor (how fast this machine
//! reads the model's files, and on CUDA copies to the device), then every load-path lever in turn:
//! `--repeats` loads each (at least three) with its first inference and a steady p50 of its own
//! session, the footprint and where the weights went (mapped or copied), the outputs against the
//! default's, and what ONNX Runtime reports back for the options the lever set. After the fixed
//! levers, the graph transformers that cost the default's load most are each skipped in turn, and
//! the best two levers that change different things are tried together. A lever that cannot be
//! tried is recorded with the reason; it does not end the trial.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};

use super::TrialContext;
use crate::inputs::ModelInputs;
use crate::levers::breakdown::{self, LoadBreakdown};
use crate::levers::outputs::{Outputs, compare};
use crate::levers::residence::{Readings, Residence};
use crate::levers::session::{self, LoadOptions, LogMarks};
use crate::levers::{self as lv, Lever, LoadFrom, PreOptimized, floor};
use crate::loaded_model::{LoadedModel, ms_since};
use crate::onnx_graph::GraphSummary;
use crate::phase::Phase;
use crate::probe::{GpuReading, MemorySnapshot, malloc_trim, process::delta};
use crate::protocol::ModelSpec;
use crate::provider::setup::{ModelSource, OptLevel, SessionExtras, read_config_entry};
use crate::results::{LeverResult, LeversResult};
use crate::stats::{Summary, median};

/// Sessions whose steady p50 each configuration is judged on, at the least.
const MIN_SESSIONS: usize = 3;
/// Graph transformers of the default's logged load tried skipped, the costliest first (on a small
/// model they cost little: the rows then show that skipping them saves nothing).
const OPTIMIZER_LEVERS: usize = 3;

/// Files the scenario makes (pre-optimised copies, optimised graphs to count), removed at the end.
struct Workdir(PathBuf);

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything a lever's model can come from: the model's files, its bytes in memory, the
/// pre-optimised copies (or why one could not be made) and the ORT copy's bytes.
struct Sources<'a> {
    model: &'a ModelSpec,
    bytes: Vec<u8>,
    external: Vec<(String, std::sync::Arc<[u8]>)>,
    copies: Vec<(PreOptimized, Result<PathBuf, String>)>,
    ort_bytes: Option<Vec<u8>>,
}

impl Sources<'_> {
    /// The source `from` names, and the files it loads from (their size is what the weights are
    /// judged against).
    fn get(&self, from: LoadFrom) -> Result<(ModelSource<'_>, Vec<PathBuf>), String> {
        let copy = |c: PreOptimized| match self.copies.iter().find(|(made, _)| *made == c).map(|(_, r)| r) {
            Some(Ok(path)) => Ok(path.as_path()),
            Some(Err(e)) => Err(format!("the pre-optimised copy could not be made: {e}")),
            None => Err("no pre-optimised copy".to_string()),
        };
        let files_of = |p: &Path| crate::levers::optimized::files_of(p).into_iter().filter(|f| f.exists()).collect();
        Ok(match from {
            LoadFrom::File => (ModelSource::File(&self.model.path), self.model.files.clone()),
            LoadFrom::Memory => (ModelSource::Memory { model: &self.bytes, external: &self.external }, self.model.files.clone()),
            LoadFrom::PreOptimizedOrtBytes => {
                let path = copy(PreOptimized::Ort)?;
                let bytes = self.ort_bytes.as_deref().ok_or_else(|| format!("{} could not be read into memory", path.display()))?;
                (ModelSource::Memory { model: bytes, external: &[] }, files_of(path))
            }
            from => {
                let path = copy(from.copy().expect("every other source is a copy"))?;
                (ModelSource::File(path), files_of(path))
            }
        })
    }
}

/// What the levers share as they run: the default's outputs and thread count.
#[derive(Default)]
struct Shared {
    reference: Option<Outputs>,
    default_threads: Option<u64>,
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
    let copies: Vec<(PreOptimized, Result<PathBuf, String>)> = PreOptimized::ALL
        .iter()
        .map(|c| (*c, save_optimized(w, model, &workdir.0.join(c.file_name()), None, c.save_entries()).map_err(|e| format!("{e:#}"))))
        .collect();
    let preoptimize_ms = Some(ms_since(start));
    for (_, made) in &copies {
        if let Ok(path) = made {
            for f in crate::levers::optimized::files_of(path).iter().filter(|f| f.exists()) {
                let _ = crate::probe::page_cache::read_through(f);
            }
        }
    }
    let ort_bytes =
        copies.iter().find(|(c, _)| *c == PreOptimized::Ort).and_then(|(_, r)| r.as_ref().ok()).and_then(|p| std::fs::read(p).ok());
    let bytes = std::fs::read(&model.path).with_context(|| format!("cannot read {}", model.path.display()))?;
    let sources = Sources { model, bytes, external: super::external_data(model)?, copies, ort_bytes };

    let physical = sysinfo::System::physical_core_count().unwrap_or(1);
    let mut shared = Shared::default();
    let mut levers = Vec::new();
    for lever in Lever::all(&w.spec.provider, physical) {
        levers.push(try_lever(w, &lever, &sources, &inputs, &mut shared, &workdir.0));
    }
    // The transformers that cost the default's load most, each skipped in turn.
    for lever in costliest_transformers(&levers).into_iter().map(|name| Lever::DisableOptimizer { name }) {
        levers.push(try_lever(w, &lever, &sources, &inputs, &mut shared, &workdir.0));
    }
    let mut result = LeversResult { provider_baseline: w.provider_baseline.clone(), floor, preoptimize_ms, levers, chosen: None };
    result.choose();
    if let Some(pair) = best_pair(&result) {
        let lever = Lever::Combined { of: pair };
        let measured = try_lever(w, &lever, &sources, &inputs, &mut shared, &workdir.0);
        result.levers.push(measured);
        result.choose();
    }
    Ok(result)
}

/// The costliest graph transformers of the default's logged load, by name, less those that run with
/// optimisation disabled too: ONNX Runtime's required ones, which it does not skip.
fn costliest_transformers(levers: &[LeverResult]) -> Vec<String> {
    let logged = |l: Lever| levers.iter().find(|x| x.lever == l).and_then(|x| x.logged_breakdown.as_ref());
    let Some(default) = logged(Lever::Default) else { return vec![] };
    let required: Vec<&str> = logged(Lever::Optimization { level: OptLevel::Disabled })
        .map_or(vec![], |b| b.transformers.iter().map(|t| t.name.as_str()).collect());
    default
        .transformers
        .iter()
        .filter(|t| t.ms > 0.0 && !required.contains(&t.name.as_str()))
        .take(OPTIMIZER_LEVERS)
        .map(|t| t.name.clone())
        .collect()
}

/// The two fastest eligible levers to first answer, each faster than the default, that change
/// different things; the first such pair in their order.
fn best_pair(r: &LeversResult) -> Option<Vec<Lever>> {
    let default = r.default_lever()?.first_answer_ms.as_ref()?.median;
    let gains: Vec<&LeverResult> =
        r.ranked().into_iter().filter(|l| l.first_answer_ms.as_ref().is_some_and(|s| s.median < default)).collect();
    for (i, a) in gains.iter().enumerate() {
        for b in &gains[i + 1..] {
            if a.lever.combines_with(&b.lever) {
                return Some(vec![a.lever.clone(), b.lever.clone()]);
            }
        }
    }
    None
}

/// Measures `lever`, or records why it could not be: before any load (ONNX Runtime's own
/// conditions), a missing source, or ONNX Runtime refusing the options (not applicable here, with
/// its error).
fn try_lever(
    w: &mut TrialContext,
    lever: &Lever,
    sources: &Sources,
    inputs: &ModelInputs,
    shared: &mut Shared,
    workdir: &Path,
) -> LeverResult {
    w.phase(Phase::Lever(lever.to_string()));
    let mut result = match (lever.not_applicable(), sources.get(lever.load_from())) {
        (Some(why), _) => LeverResult::failed(lever.clone(), why),
        (None, Err(why)) => LeverResult::failed(lever.clone(), why),
        (None, Ok((source, files))) => match measure(w, lever, &source, &files, inputs, shared, workdir) {
            Ok(r) => r,
            Err(Failure::Refused(e)) => LeverResult::failed(lever.clone(), format!("not applicable here: ONNX Runtime refused it: {e:#}")),
            Err(Failure::Later(e)) => LeverResult::failed(lever.clone(), format!("{e:#}")),
        },
    };
    result.evidence.extend(evidence(w, sources, lever, workdir, &mut shared.default_threads));
    result
}

/// Why a measurement stopped: ONNX Runtime refused the lever's first session (its options, its
/// source), or something failed after a session was made.
enum Failure {
    Refused(anyhow::Error),
    Later(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Later(e)
    }
}

/// `--repeats` loads under `lever` (at least three), each with its first inference, ONNX Runtime's
/// profiler and a steady p50; one more load with the session's log read, for the finer breakdown.
fn measure(
    w: &TrialContext,
    lever: &Lever,
    source: &ModelSource,
    files: &[PathBuf],
    inputs: &ModelInputs,
    shared: &mut Shared,
    workdir: &Path,
) -> Result<LeverResult, Failure> {
    let lv::Applied { mut setup, extras, entries } = lever.apply(&w.spec.provider);
    // The cache lever's folder: new, so its first load compiles and fills it.
    let cache = (*lever == Lever::ProviderCache).then(|| workdir.join("provider-cache"));
    if let Some(dir) = &cache {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        crate::levers::with_cache(&mut setup, dir);
    }
    let in_place = lever.load_from() == LoadFrom::PreOptimizedOrtBytes;
    let options = LoadOptions { entries, ort_bytes_in_place: in_place, ..LoadOptions::default() };
    let profiled = LoadOptions { profile_prefix: Some(workdir.join("profile")), ..options.clone() };
    let (mut loads, mut firsts, mut answers, mut p50s) = (vec![], vec![], vec![], vec![]);
    let (mut rss, mut gpu, mut breakdowns, mut readings) = (vec![], vec![], vec![], vec![]);
    let mut agreement = None;
    let mut evidence = Vec::new();
    // The cache lever loads once more: its first load (empty cache) is reported apart.
    let repeats = w.spec.settings.repeats.max(MIN_SESSIONS) + usize::from(cache.is_some());
    for i in 0..repeats {
        malloc_trim();
        let before = w.snapshot();
        let start = Instant::now();
        let opened = session::open(&setup, &w.runtime.env, source, &extras, &profiled);
        let mut session = match opened {
            Ok(s) => s,
            Err(e) if i == 0 => return Err(Failure::Refused(e)),
            Err(e) => return Err(Failure::Later(e)),
        };
        let load_ms = ms_since(start);
        loads.push(load_ms);
        let after_load = w.snapshot();
        match session::take_profile(&mut session).and_then(|trace| breakdown::parse_profile(&trace)) {
            Ok(p) => breakdowns.push(LoadBreakdown::new(load_ms, p, None)),
            Err(e) if i == 0 => evidence.push(format!("no load breakdown: {e:#}")),
            Err(_) => {}
        }
        let mut loaded = LoadedModel::with_inputs(session, inputs)?;
        let (first_ms, outputs) = loaded.run_keeping_outputs()?;
        firsts.push(first_ms);
        answers.push(load_ms + first_ms);
        let after = w.snapshot();
        rss.extend(delta(after.process.rss_mb, before.process.rss_mb));
        if let Some(r) = GpuReading::choose([&after]) {
            gpu.extend(delta(r.read(&after), r.read(&before)));
        }
        readings.extend(reading(&before, &after_load, &after));
        if i == 0 {
            let mut captured = Outputs::capture(&outputs);
            if crate::fault::perturb_outputs(&lever.to_string()) {
                captured = captured.perturbed();
            }
            match (lever, shared.reference.as_ref()) {
                (Lever::Default, _) => shared.reference = Some(captured),
                (_, Some(r)) => agreement = Some(compare(r, &captured)),
                (_, None) => {}
            }
        }
        drop(outputs);
        // Each session's own p50: the choice rests on their median and spread, never on one session.
        let steady: Vec<f64> = (0..w.spec.settings.runs).map(|_| loaded.run()).collect::<Result<_>>()?;
        p50s.extend(median(&steady));
        loaded.unload();
    }
    let logged_breakdown = match logged_load(w, &setup, &extras, source, &options, workdir) {
        Ok((b, marks)) => {
            evidence.extend(logged_evidence(lever, &marks));
            Some(b)
        }
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
        answers.remove(0);
        if !readings.is_empty() {
            readings.remove(0);
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
    let files_mb = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| crate::units::mib(m.len())).sum();
    Ok(LeverResult {
        load_ms: Summary::of(&loads),
        first_inference_ms: Summary::of(&firsts),
        first_answer_ms: Summary::of(&answers),
        first_answers_ms: answers,
        steady_p50_ms: median(&p50s),
        steady_p50_sessions_ms: Summary::of(&p50s),
        steady_p50s_ms: p50s,
        weights: Residence::of(files_mb, &readings),
        memory_increase_mb: Summary::of(&rss),
        gpu_memory_increase_mb: Summary::of(&gpu),
        agreement,
        evidence,
        breakdown: LoadBreakdown::median_of(&breakdowns),
        logged_breakdown,
        error: None,
        ..LeverResult::failed(lever.clone(), String::new())
    })
}

/// RssAnon and RssFile at the three instants of one load, where /proc gives them.
fn reading(before: &MemorySnapshot, after_load: &MemorySnapshot, after_first: &MemorySnapshot) -> Option<Readings> {
    let pair = |s: &MemorySnapshot| Some((s.process.rss_anon_mb?, s.process.rss_file_mb?));
    Some(Readings { before: pair(before)?, after_load: pair(after_load)?, after_first: pair(after_first)? })
}

/// One load with the profiler and the session's INFO log stamped on arrival: the initialisation split
/// by its log lines, each graph transformer's time; the log lines themselves, for the evidence.
fn logged_load(
    w: &TrialContext,
    setup: &crate::provider::setup::ProviderSetup,
    extras: &SessionExtras,
    source: &ModelSource,
    options: &LoadOptions,
    workdir: &Path,
) -> Result<(LoadBreakdown, Vec<(f64, String)>)> {
    malloc_trim();
    let marks = LogMarks::default();
    let start = Instant::now();
    let options =
        LoadOptions { profile_prefix: Some(workdir.join("profile-logged")), log_marks: Some((start, marks.clone())), ..options.clone() };
    let mut session = session::open(setup, &w.runtime.env, source, extras, &options)?;
    let wall_ms = ms_since(start);
    let profiled = breakdown::parse_profile(&session::take_profile(&mut session)?)?;
    drop(session);
    let marks = marks.lock().map(|m| m.clone()).unwrap_or_default();
    let split = breakdown::split_initialization(&marks);
    Ok((LoadBreakdown::new(wall_ms, profiled, split), marks))
}

/// What the session's own log says about `lever`: the mapped ORT load's line, an optimizer that did
/// or did not run.
fn logged_evidence(lever: &Lever, marks: &[(f64, String)]) -> Vec<String> {
    let mut out = Vec::new();
    if lever.load_from() == LoadFrom::PreOptimizedOrtMapped {
        out.push(if marks.iter().any(|(_, m)| m.starts_with(lv::MAPPED_ORT_LOG)) {
            format!("ONNX Runtime logged \"{}\"", lv::MAPPED_ORT_LOG)
        } else {
            format!("ONNX Runtime did not log a memory-mapped load: this runtime may not know {}", lv::MAPPED_ORT)
        });
    }
    let mut skipped = Vec::new();
    collect_skipped(lever, &mut skipped);
    for name in skipped {
        let ran = marks.iter().any(|(_, m)| m.strip_prefix("GraphTransformer ").is_some_and(|r| r.split_whitespace().next() == Some(name)));
        out.push(if ran {
            format!("ONNX Runtime still ran {name}: it does not take that name in {}", lv::DISABLE_OPTIMIZERS)
        } else {
            format!("{name} did not run (the session's log has no line of it)")
        });
    }
    out
}

fn collect_skipped<'a>(lever: &'a Lever, out: &mut Vec<&'a str>) {
    match lever {
        Lever::DisableOptimizer { name } => out.push(name),
        Lever::Combined { of } => of.iter().for_each(|l| collect_skipped(l, out)),
        _ => {}
    }
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

/// Creates a session that saves the graph as optimised (at `level`, default all) to `path`, with
/// `entries` set beside (the pre-packed weights' key); returns the path.
fn save_optimized(w: &TrialContext, model: &ModelSpec, path: &Path, level: Option<OptLevel>, entries: &[(&str, &str)]) -> Result<PathBuf> {
    let extras = SessionExtras { optimization: level, save_optimized: Some(path.to_path_buf()), ..SessionExtras::default() };
    let options = entries.iter().fold(LoadOptions::default(), |o, (k, v)| o.entry(k, v));
    drop(session::open(&w.spec.provider, &w.runtime.env, &ModelSource::File(&model.path), &extras, &options)?);
    if !path.exists() {
        return Err(anyhow!("ONNX Runtime wrote no optimised model to {}", path.display()));
    }
    Ok(path.to_path_buf())
}

/// What ONNX Runtime reports back for the options `lever` sets.
fn evidence(w: &TrialContext, sources: &Sources, lever: &Lever, workdir: &Path, default_threads: &mut Option<u64>) -> Vec<String> {
    let model = sources.model;
    let lv::Applied { setup, extras, entries } = lever.apply(&w.spec.provider);
    let in_place = lever.load_from() == LoadFrom::PreOptimizedOrtBytes;
    let options = LoadOptions { entries: entries.clone(), ort_bytes_in_place: in_place, ..LoadOptions::default() };
    let mut out = Vec::new();
    if let Ok(builder) = setup.builder(&w.runtime.env, &extras).and_then(|b| session::with_options(b, &options)) {
        let mut keys: Vec<String> =
            ["session.disable_prepacking", "session.use_device_allocator_for_initializers"].iter().map(|k| k.to_string()).collect();
        keys.extend(entries.iter().map(|(k, _)| k.clone()));
        if in_place {
            keys.push("session.use_ort_model_bytes_directly".into());
        }
        for key in keys {
            if let Some(value) = read_config_entry(&builder, &key) {
                out.push(format!("{key}={value}"));
            }
        }
    }
    match lever {
        Lever::Default | Lever::IntraThreads { .. } | Lever::ParallelPrepacking { .. } => {
            // ONNX Runtime starts an intra-op pool per session: the process's thread count shows it.
            if let Ok(session) = setup.session(&w.runtime.env, &ModelSource::File(&model.path), &extras) {
                let threads = process_threads();
                drop(session);
                if let Some(n) = threads {
                    out.push(format!("threads while loaded: {n}"));
                    if *lever == Lever::Default {
                        *default_threads = Some(n);
                    } else if let Some(d) = default_threads {
                        out.push(format!("(default: {d})"));
                    }
                }
            }
        }
        Lever::Optimization { level } => {
            let path = workdir.join(format!("graph-{level}.onnx"));
            if let Ok(path) = save_optimized(w, model, &path, Some(*level), &[]) {
                let nodes = |p: &Path| GraphSummary::read(p).ok().map(|g| g.nodes);
                if let (Some(optimised), Some(original)) = (nodes(&path), nodes(&model.path)) {
                    out.push(format!("nodes after optimisation: {optimised} (the file has {original})"));
                }
            }
        }
        Lever::Load { from: LoadFrom::PreOptimizedPrepacked } => {
            // The pre-packed weights are written beside the plain ones: the data file says they are there.
            let data =
                |c: PreOptimized| sources.copies.iter().find(|(m, _)| *m == c).and_then(|(_, r)| r.as_ref().ok()).map(|p| data_mb(p));
            if let (Some(packed), Some(plain)) = (data(PreOptimized::Prepacked), data(PreOptimized::Onnx)) {
                out.push(format!("external data {packed:.1} MB, {:+.1} MB against the copy without pre-packed weights", packed - plain));
            }
        }
        _ => {}
    }
    out
}

/// The size of a pre-optimised ONNX copy's external data file, in MB.
fn data_mb(path: &Path) -> f64 {
    crate::levers::optimized::files_of(path)
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "data"))
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| crate::units::mib(m.len()))
        .sum()
}

/// The process's thread count (/proc/self/status `Threads:`).
fn process_threads() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")?.trim().parse().ok())
}
