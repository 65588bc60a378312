//! What the report says, independent of how it is rendered: the run's facts, one table per scenario
//! (providers side by side), the failures, and the recommendations.

use crate::recommendation::Recommendation;
use crate::report::{num, signed};
use crate::results::{Measurements, ModelInfo, Outcome, ResultsFile, SingleResult, TrialRecord};
use crate::runtime::Provider;
use crate::stats::median;

pub struct Report {
    pub title: String,
    /// Label / value pairs about the run.
    pub facts: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub recommendations: Vec<Recommendation>,
    pub footnotes: Vec<String>,
}

pub struct Section {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
}

impl Section {
    fn new(title: &str, header: &[&str]) -> Section {
        Section { title: title.into(), header: header.iter().map(|s| s.to_string()).collect(), rows: vec![], notes: vec![] }
    }
}

pub fn build(r: &ResultsFile) -> Report {
    let mut facts = vec![
        (
            "Host".into(),
            format!(
                "{} ({}, {} cores, {} MB RAM)",
                r.run.host.hostname,
                r.run.host.cpu_model.as_deref().unwrap_or("unknown CPU"),
                r.run.host.logical_cores,
                num(r.run.host.ram_total_mb, 0)
            ),
        ),
        ("Kernel".into(), r.run.host.kernel.clone().unwrap_or_else(|| "unknown".into())),
        ("ONNX Runtime".into(), format!("{} ({})", r.run.runtime.version, r.run.runtime.path.display())),
        ("Started".into(), r.run.started_at.clone()),
    ];
    for gpu in &r.run.gpus {
        facts.push((
            format!("GPU {}", gpu.index),
            format!("{} ({} MB, driver {})", gpu.name, num(gpu.memory_total_mb, 0), gpu.driver_version.as_deref().unwrap_or("?")),
        ));
    }
    for p in &r.run.providers {
        let value = match (&p.skipped_because, &p.cuda_libraries) {
            (Some(why), _) => format!("skipped: {why}"),
            (None, Some(libs)) => format!("ran (CUDA libraries from {libs})"),
            (None, None) => "ran".into(),
        };
        let value = match &p.gpu {
            Some(gpu) if p.ran => format!("{value}; {gpu}"),
            _ => value,
        };
        facts.push((format!("Provider {}", p.provider), value));
    }
    if !r.run.complete {
        facts.push(("Status".into(), "INCOMPLETE: the run was interrupted or is still going; these are the trials that finished".into()));
    }
    let mut footnotes = Vec::new();
    let random: Vec<&str> = r.models.iter().filter(|m| m.weights == crate::config::Weights::Random).map(|m| m.id.as_str()).collect();
    if !random.is_empty() {
        footnotes.push(format!(
            "Random weights: {}. These have the real architecture and size, so load time and memory are representative; their outputs are meaningless.",
            random.join(", ")
        ));
    }
    footnotes.push(
        "MB = 2^20 bytes. Memory is the process's RSS unless a column says otherwise; footprints are read after the first inference."
            .into(),
    );
    let sections = [
        baseline(r),
        providers_side_by_side(r),
        single(r),
        unload(r),
        cold(r),
        leak(r),
        isolation(r),
        concurrent(r),
        warnings(r),
        failures(r),
    ]
    .into_iter()
    .flatten()
    .collect();
    Report { title: "ModelMora: Model Lifecycle Benchmark".into(), facts, sections, recommendations: r.recommendations.clone(), footnotes }
}

fn model<'a>(r: &'a ResultsFile, id: &str) -> Option<&'a ModelInfo> {
    r.models.iter().find(|m| m.id == id)
}

/// Trials of one kind, ordered by model then provider so providers sit side by side.
fn trials<'a, T>(r: &'a ResultsFile, pick: impl Fn(&'a Measurements) -> Option<&'a T>) -> Vec<(&'a TrialRecord, &'a T)> {
    let order = |id: &str| r.models.iter().position(|m| m.id == id).unwrap_or(usize::MAX);
    let mut v: Vec<_> =
        r.trials.iter().filter(|t| t.outcome.is_ok()).filter_map(|t| t.measurements.as_ref().and_then(&pick).map(|m| (t, m))).collect();
    v.sort_by_key(|(t, _)| (order(t.model()), t.provider));
    v
}

/// The single scenario's trials: several tables read them.
fn singles(r: &ResultsFile) -> Vec<(&TrialRecord, &SingleResult)> {
    trials(r, |m| if let Measurements::Single(x) = m { Some(x.as_ref()) } else { None })
}

fn weights(t: &TrialRecord) -> String {
    t.weights.clone()
}

fn baseline(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Provider baseline (paid once per worker process, before any model)",
        &["Provider", "Init ms", "First run ms", "RSS kept MB", "GPU kept MB", "From trial"],
    );
    let mut seen = Vec::new();
    for t in r.trials.iter().filter(|t| t.outcome.is_ok()) {
        let Some(measurements) = t.measurements.as_ref() else { continue };
        let b = match measurements {
            Measurements::Single(m) => &m.provider_baseline,
            Measurements::Cold(m) => &m.provider_baseline,
            Measurements::Leak(m) => &m.provider_baseline,
            Measurements::Isolation(m) => &m.worker_provider_baseline,
            Measurements::Concurrent(m) => &m.provider_baseline,
        };
        if seen.contains(&t.provider) {
            continue;
        }
        seen.push(t.provider);
        s.rows.push(vec![
            t.provider.to_string(),
            num(Some(b.init_ms), 1),
            num(Some(b.first_run_ms), 2),
            num(b.rss_mb, 1),
            num(b.gpu_mb, 1),
            t.id.clone(),
        ]);
    }
    s.notes.push("Environment, provider libraries and (CUDA) context, measured with a tiny embedded model that is then dropped; a model's reclamation is computed above this baseline.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// One row per model that ran on two providers: the first provider's figure beside the second's,
/// with the speed-up. Only where one run holds both (`--provider cpu,cuda`).
fn providers_side_by_side(r: &ResultsFile) -> Option<Section> {
    let singles = singles(r);
    let mut providers: Vec<Provider> = singles.iter().map(|(t, _)| t.provider).collect();
    providers.sort();
    providers.dedup();
    let [a, b, ..] = providers[..] else { return None };
    let pair = |x: String, y: String| format!("{x} / {y}");
    let mut s = Section::new(
        &format!("{b} vs {a} (scenarios single and cold)"),
        &[
            "Model",
            "Weights",
            &format!("Load ms {a} / {b}"),
            &format!("Later loads ms {a} / {b}"),
            &format!("First inf ms {a} / {b}"),
            &format!("p50 ms {a} / {b}"),
            &format!("p50 {a}/{b}"),
            &format!("RAM +MB {a} / {b}"),
            &format!("GPU +MB {b}"),
        ],
    );
    for (t, x) in singles.iter().filter(|(t, _)| t.provider == a) {
        let Some((_, y)) = singles.iter().find(|(u, _)| u.provider == b && u.model() == t.model()) else { continue };
        let p50 = |m: &SingleResult| m.steady.as_ref().map(|s| s.median);
        let speedup = p50(x).zip(p50(y)).filter(|(_, y)| *y > 0.0).map(|(x, y)| x / y);
        s.rows.push(vec![
            t.model().into(),
            weights(t),
            pair(num(Some(x.load_time_ms), 1), num(Some(y.load_time_ms), 1)),
            pair(num(later_loads_ms(r, t.model(), a), 1), num(later_loads_ms(r, t.model(), b), 1)),
            pair(num(Some(x.first_inference_ms), 1), num(Some(y.first_inference_ms), 1)),
            pair(num(p50(x), 2), num(p50(y), 2)),
            speedup.map(|v| format!("{v:.1}x")).unwrap_or_else(|| "—".into()),
            pair(signed(x.figures.memory_increase_mb, 1), signed(y.figures.memory_increase_mb, 1)),
            signed(y.figures.gpu_memory_increase_mb, 1),
        ]);
    }
    s.notes.push(format!(
        "Load: the model's first load in a fresh worker, after the provider baseline above. Later loads: the median of the cold scenario's warm loads in one worker, else of the leak scenario's cycles after the first. p50 {a}/{b}: how many times faster the steady state runs on {b}."
    ));
    (!s.rows.is_empty()).then_some(s)
}

/// Loads after the first in one worker, where the run has them: what a model server pays to load
/// again once the provider and the model's kernels are warm.
fn later_loads_ms(r: &ResultsFile, model: &str, provider: Provider) -> Option<f64> {
    let ours = |t: &&TrialRecord| t.outcome.is_ok() && t.model() == model && t.provider == provider && t.models.len() == 1;
    let measurements = || r.trials.iter().filter(ours).filter_map(|t| t.measurements.as_ref());
    let warm = measurements().find_map(|m| match m {
        Measurements::Cold(c) => c.warm_load.as_ref().map(|w| w.median),
        _ => None,
    });
    warm.or_else(|| {
        measurements().find_map(|m| match m {
            Measurements::Leak(l) => median(&l.cycles.iter().skip(1).map(|c| c.load_time_ms).collect::<Vec<_>>()),
            _ => None,
        })
    })
}

fn single(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Load and inference (scenario single)",
        &[
            "Model",
            "Type",
            "Weights",
            "Provider",
            "Size MB",
            "Cache",
            "Load ms",
            "First inf ms",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "Memory +MB",
            "anon/file MB",
            "GPU +MB",
            "Load peak MB",
        ],
    );
    for (t, m) in singles(r) {
        let info = model(r, t.model());
        let cache = match (m.cache_hit, m.resident_fraction_before_load) {
            (Some(true), _) => "HIT".to_string(),
            (Some(false), Some(f)) => format!("MISS ({:.0}%)", f * 100.0),
            _ => "—".into(),
        };
        let f = &m.figures;
        s.rows.push(vec![
            t.model().into(),
            info.map(|i| i.model_type.to_string()).unwrap_or_default(),
            weights(t),
            t.provider.to_string(),
            num(info.map(|i| i.size_mb), 1),
            cache,
            num(Some(m.load_time_ms), 1),
            num(Some(m.first_inference_ms), 1),
            num(m.steady.as_ref().map(|s| s.median), 2),
            num(m.steady.as_ref().map(|s| s.p95), 2),
            num(m.steady.as_ref().map(|s| s.p99), 2),
            signed(f.memory_increase_mb, 1),
            format!("{} / {}", signed(f.memory_increase_anon_mb, 1), signed(f.memory_increase_file_mb, 1)),
            signed(f.gpu_memory_increase_mb, 1),
            num(m.peak_rss_during_load_mb.zip(m.memory.before_load.process.rss_mb).map(|(p, b)| p - b), 1),
        ]);
    }
    s.notes.push("Cache: whether the model's files were in the page cache before the load (mincore). p50/p95/p99 over the steady-state runs after the warm-up. Load peak: the highest RSS during the load above the RSS before it.".into());
    (!s.rows.is_empty()).then_some(s)
}

fn unload(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Unload in-process (scenario single)",
        &[
            "Model",
            "Weights",
            "Provider",
            "Unload ms",
            "Reclaimed MB",
            "Reclaimed %",
            "After trim MB",
            "After trim %",
            "GPU reclaimed MB",
            "GPU %",
        ],
    );
    for (t, m) in singles(r) {
        let f = &m.figures;
        s.rows.push(vec![
            t.model().into(),
            weights(t),
            t.provider.to_string(),
            num(Some(m.unload_time_ms), 1),
            num(f.memory_reclaimed_mb, 1),
            num(f.reclamation_percentage, 1),
            num(f.memory_reclaimed_after_trim_mb, 1),
            num(f.reclamation_after_trim_percentage, 1),
            num(f.gpu_memory_reclaimed_mb, 1),
            num(f.gpu_reclamation_percentage, 1),
        ]);
    }
    s.notes.push("Reclaimed % = (RSS before unload - RSS after) / (RSS before unload - RSS before load): the share of the model's footprint above the provider baseline that came back. After trim: once more after malloc_trim(0), which returns what the allocator kept.".into());
    (!s.rows.is_empty()).then_some(s)
}

fn cold(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Cold vs warm load (scenario cold)",
        &[
            "Model",
            "Weights",
            "Provider",
            "Files MB",
            "Resident before cold",
            "Cold ms",
            "Warm median ms",
            "Warm min-max ms",
            "Spread %",
            "Cold/warm",
            "Warm first inf ms",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::Cold(x) = m { Some(x.as_ref()) } else { None }) {
        let w = m.warm_load.as_ref();
        s.rows.push(vec![
            t.model().into(),
            weights(t),
            t.provider.to_string(),
            num(Some(m.files_mb), 1),
            match m.cold.resident_fraction_before {
                Some(f) => format!("{:.1}%{}", f * 100.0, if m.eviction_effective { "" } else { " (not evicted)" }),
                None => "—".into(),
            },
            num(Some(m.cold.load_time_ms), 1),
            num(w.map(|w| w.median), 1),
            w.map(|w| format!("{:.1}-{:.1}", w.min, w.max)).unwrap_or_else(|| "—".into()),
            num(w.map(|w| w.relative_spread * 100.0), 1),
            num(m.cold_to_warm_ratio, 2),
            num(m.warm_first_inference.as_ref().map(|s| s.median), 1),
        ]);
    }
    s.notes.push("Cold: after fsync + POSIX_FADV_DONTNEED on every model file, verified with mincore. Warm: after a full read, repeated; spread = (max - min) / median.".into());
    (!s.rows.is_empty()).then_some(s)
}

fn leak(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Repeated load/unload (scenario leak)",
        &[
            "Model",
            "Weights",
            "Provider",
            "Memory",
            "Baseline MB",
            "After each unload MB",
            "After each trim MB",
            "Net MB",
            "Net after trim MB",
            "Slope after trim MB/cycle",
            "Verdict",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::Leak(x) = m { Some(x.as_ref()) } else { None }) {
        for (what, series) in [("RSS", Some(&m.rss)), ("VRAM", m.gpu.as_ref())] {
            let Some(x) = series else { continue };
            let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
            s.rows.push(vec![
                t.model().into(),
                weights(t),
                t.provider.to_string(),
                what.into(),
                num(Some(x.baseline_mb), 1),
                list(&x.after_unload_mb),
                list(&x.after_trim_mb),
                signed(Some(x.net_growth_mb), 1),
                signed(Some(x.net_growth_after_trim_mb), 1),
                signed(x.slope_after_trim_mb_per_cycle, 2),
                format!("{} {}", leak_mark(x.verdict), x.verdict),
            ]);
        }
    }
    s.notes.push("Verdict on the net growth after malloc_trim against the baseline before the first cycle: < 10 MB pass, 10-50 MB caution, > 50 MB fail. Without trim the allocator's retention shows as growth; it is not a leak if trim returns it.".into());
    (!s.rows.is_empty()).then_some(s)
}

fn leak_mark(v: crate::results::LeakVerdict) -> &'static str {
    match v {
        crate::results::LeakVerdict::Pass => "✅",
        crate::results::LeakVerdict::Caution => "⚠️",
        crate::results::LeakVerdict::Fail => "❌",
    }
}

fn isolation(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Subprocess isolation (scenario isolation)",
        &[
            "Model",
            "Weights",
            "Provider",
            "Spawn to ready ms",
            "Worker RSS / private MB",
            "Memory before/loaded/after MB",
            "Reclaimed by kill MB",
            "Kill %",
            "In-process %",
            "GPU before/loaded/after MB",
            "GPU reclaimed MB",
        ],
    );
    let singles = singles(r);
    let isolations = trials(r, |m| if let Measurements::Isolation(x) = m { Some(x.as_ref()) } else { None });
    for &(t, m) in &isolations {
        let in_process = singles
            .iter()
            .find(|(st, _)| st.model() == t.model() && st.provider == t.provider)
            .and_then(|(_, sm)| sm.figures.reclamation_percentage);
        let trio = |a: Option<f64>, b: Option<f64>, c: Option<f64>| format!("{} / {} / {}", num(a, 0), num(b, 0), num(c, 0));
        s.rows.push(vec![
            t.model().into(),
            weights(t),
            t.provider.to_string(),
            num(Some(m.spawn_to_ready_ms), 0),
            format!("{} / {}", num(m.worker_memory_loaded.process.rss_mb, 1), num(m.worker_memory_loaded.process.private_mb, 1)),
            trio(m.system_before.tracked().0, m.system_loaded.tracked().0, m.system_after_exit.tracked().0),
            num(m.memory_reclaimed_mb, 1),
            num(m.reclamation_percentage, 1),
            num(in_process, 1),
            trio(m.gpu_device_before_mb, m.gpu_device_loaded_mb, m.gpu_device_after_exit_mb),
            num(m.gpu_memory_reclaimed_mb, 1),
        ]);
    }
    if let Some((_, m)) = isolations.first() {
        s.notes.push(format!(
            "mora starts a worker that loads the model and answers once, then reads {} and the GPU before the spawn, while loaded and after killing it. That reading includes other processes: read the worker's private memory (what its exit frees for certain) beside it.",
            m.memory_reading
        ));
    }
    (!s.rows.is_empty()).then_some(s)
}

fn concurrent(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Concurrent models (scenario concurrent)",
        &["Models", "Provider", "Load wall ms", "Slowest load ms", "Memory +MB together", "GPU +MB together"],
    );
    for (t, m) in trials(r, |m| if let Measurements::Concurrent(x) = m { Some(x.as_ref()) } else { None }) {
        let slowest = m.per_model.iter().map(|p| p.load_time_ms).fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
        s.rows.push(vec![
            t.models.join(", "),
            t.provider.to_string(),
            num(Some(m.load_wall_ms), 0),
            num(slowest, 0),
            signed(m.total_increase_mb, 1),
            signed(m.gpu_total_increase_mb, 1),
        ]);
    }
    (!s.rows.is_empty()).then_some(s)
}

/// What trials noticed that weakens a figure (mora's warnings) and what ONNX Runtime logged (e.g.
/// nodes it placed on CPU under CUDA), each message once with the trials that reported it.
fn warnings(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new("Warnings", &["From", "Warning", "Trials"]);
    let mut seen: Vec<(String, String, Vec<&str>)> = Vec::new();
    for t in &r.trials {
        let ours = t.warnings.iter().map(|w| ("mora".to_string(), w.clone()));
        let runtime = t.runtime_log.iter().map(|l| (format!("ONNX Runtime ({})", l.level), l.message.trim().to_string()));
        for (from, message) in ours.chain(runtime) {
            match seen.iter_mut().find(|(f, m, _)| *f == from && *m == message) {
                Some((_, _, ids)) if !ids.contains(&t.id.as_str()) => ids.push(&t.id),
                Some(_) => {}
                None => seen.push((from, message, vec![&t.id])),
            }
        }
    }
    for (from, message, ids) in seen {
        let trials = match ids.len() {
            n if n <= 3 => ids.join(", "),
            n => format!("{} and {} more", ids[..3].join(", "), n - 3),
        };
        s.rows.push(vec![from, message, trials]);
    }
    (!s.rows.is_empty()).then_some(s)
}

fn failures(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new("Trials that did not finish", &["Trial", "Weights", "What happened", "Last stderr line"]);
    for t in r.trials.iter().filter(|t| !t.outcome.is_ok()) {
        let tail = match &t.outcome {
            Outcome::Crashed { stderr_tail, .. } | Outcome::TimedOut { stderr_tail, .. } => {
                stderr_tail.lines().last().unwrap_or("").to_string()
            }
            _ => String::new(),
        };
        s.rows.push(vec![t.id.clone(), t.weights.clone(), t.outcome.summary(), tail]);
    }
    (!s.rows.is_empty()).then_some(s)
}

/// Trials of scenario `single` that the first and the last file both hold, figure by figure.
pub fn comparison(files: &[(String, &ResultsFile)]) -> Option<Section> {
    let ((a_label, a), (b_label, b)) = (files.first()?, files.last()?);
    let a_col = format!("A: {a_label}");
    let b_col = format!("B: {b_label}");
    let mut s = Section::new("Comparison (scenario single)", &["Trial", "Figure", &a_col, &b_col, "B / A"]);
    let single = |r: &'_ ResultsFile, id: &str| {
        r.trials.iter().find(|t| t.id == id && t.outcome.is_ok()).and_then(|t| match &t.measurements {
            Some(Measurements::Single(m)) => Some(m.as_ref().clone()),
            _ => None,
        })
    };
    for t in &a.trials {
        let (Some(x), Some(y)) = (single(a, &t.id), single(b, &t.id)) else { continue };
        let figures = [
            ("load ms", Some(x.load_time_ms), Some(y.load_time_ms)),
            ("first inference ms", Some(x.first_inference_ms), Some(y.first_inference_ms)),
            ("p50 ms", x.steady.as_ref().map(|s| s.median), y.steady.as_ref().map(|s| s.median)),
            ("memory +MB", x.figures.memory_increase_mb, y.figures.memory_increase_mb),
            ("reclaimed %", x.figures.reclamation_percentage, y.figures.reclamation_percentage),
        ];
        for (name, va, vb) in figures {
            let ratio = va.zip(vb).filter(|(a, _)| a.abs() > 1e-9).map(|(a, b)| b / a);
            s.rows.push(vec![t.id.clone(), name.into(), num(va, 2), num(vb, 2), num(ratio, 3)]);
        }
    }
    s.notes.push("Ratios of two runs are only as steady as the machines were: compare runs made on the same machine, or read the spread in the cold scenario.".into());
    (!s.rows.is_empty()).then_some(s)
}
