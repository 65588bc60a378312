//! What the report says, independent of how it is rendered: the run's facts, one table per scenario
//! (providers side by side), the failures, and the recommendations.

use crate::report::{num, signed, spread};
use crate::results::derive::{WarmupSource, worker_warmups};
use crate::results::heap::{BACK_TO_BACK_VS_TRIMMED, HeapState, warm_load};
use crate::results::recommendation::Recommendation;
use crate::results::{InputPoint, Measurements, ModelInfo, Outcome, ResultsFile, SingleTrial, TrialRecord};
use crate::runtime::Provider;
use crate::stats::{Summary, median};

pub(crate) struct Report {
    pub title: String,
    /// Providers that did not run, with why: the reason is also a fact's value (`facts`); a report
    /// printed where the reason was just said drops it from there ([`Report::without_skip_reasons`]).
    pub skipped: Vec<(Provider, String)>,
    /// What the report opens with: the seed's answers per provider and one row per model.
    pub summary: Option<super::summary::Summary>,
    /// Label / value pairs about the run.
    pub facts: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub recommendations: Vec<Recommendation>,
    pub footnotes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
    /// In a fleet's report: the host whose trials the section shows (its title says so too).
    pub host: Option<String>,
}

impl Report {
    /// The report at the end of a run that named each skipped provider's reason as it started: the
    /// providers are listed, their reasons not said twice on one screen (results.json keeps them).
    pub(crate) fn without_skip_reasons(mut self) -> Report {
        for (provider, why) in &self.skipped {
            let (label, value) = (format!("Provider {provider}"), format!("skipped: {why}"));
            if let Some(fact) = self.facts.iter_mut().find(|(l, v)| *l == label && *v == value) {
                fact.1 = "skipped (why: said when the run started; results.json keeps it)".into();
            }
        }
        self
    }
}

impl Section {
    pub(crate) fn new(title: &str, header: &[&str]) -> Section {
        Section::with_header(title, header.iter().map(|s| s.to_string()).collect())
    }

    pub(crate) fn with_header(title: &str, header: Vec<String>) -> Section {
        Section { title: title.into(), header, rows: vec![], notes: vec![], host: None }
    }
}

/// The report of a run, of runs merged from one machine, or of a fleet (runs from several machines:
/// the hosts compared, planning per machine class, then each host's tables).
pub(crate) fn build(r: &ResultsFile) -> Report {
    if crate::fleet::is_fleet(r) { fleet(r) } else { run(r) }
}

fn run(r: &ResultsFile) -> Report {
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
    let mut skipped = Vec::new();
    for p in &r.run.providers {
        let value = match (&p.skipped_because, &p.libraries) {
            (Some(why), _) => {
                skipped.push((p.provider, why.clone()));
                format!("skipped: {why}")
            }
            (None, Some(libs)) => format!("ran ({libs})"),
            (None, None) => "ran".into(),
        };
        let value = match &p.gpu {
            Some(gpu) if p.ran => format!("{value}; {gpu}"),
            _ => value,
        };
        facts.push((format!("Provider {}", p.provider), value));
    }
    if !r.run.complete {
        facts.push(("Status".into(), incomplete(r, "the run")));
    }
    facts.push((
        "Judged by".into(),
        format!("rules v{} (mora {}; recorded by mora {})", r.rules_version, env!("CARGO_PKG_VERSION"), r.run.tool.version),
    ));
    if !r.run.merged_from.is_empty() {
        facts.push(("Merged from".into(), format!("{} runs: {}", r.run.merged_from.len(), r.run.merged_from.join(", "))));
    }
    if !r.run.failed_runs.is_empty() {
        facts.push(("Failed runs".into(), failed_runs_fact(r)));
    }
    for note in &r.run.notes {
        facts.push(("Note".into(), note.clone()));
    }
    let mut footnotes = Vec::new();
    footnotes.extend(common_footnotes(r));
    let sections = [
        baseline(r),
        warmup(r),
        super::backends::section(r),
        fresh_workers(r),
        single(r),
        unload(r),
        cold(r),
        leak(r),
        rotation(r),
        first_answer(r),
        levers(r),
        load_breakdown(r),
        memory_levers(r),
        idle(r),
        shapes(r),
        soak(r),
        memory_limit(r),
        isolation(r),
        concurrent(r),
        warnings(r),
        failures(r),
        failed_runs(r),
    ]
    .into_iter()
    .flatten()
    .collect();
    Report {
        title: "ModelMora: Model Lifecycle Benchmark".into(),
        summary: super::summary::build(r),
        skipped,
        facts,
        sections,
        recommendations: r.recommendations.clone(),
        footnotes,
    }
}

fn common_footnotes(r: &ResultsFile) -> Vec<String> {
    let mut footnotes = Vec::new();
    let random: Vec<&str> = r.models.iter().filter(|m| m.weights == crate::config::Weights::Random).map(|m| m.id.as_str()).collect();
    if !random.is_empty() {
        footnotes.push(format!(
            "Random weights: {}. These have the real architecture and size, so load time and memory are representative; their outputs are meaningless.",
            random.join(", ")
        ));
    }
    let unknown: Vec<&str> = r.models.iter().filter(|m| m.weights == crate::config::Weights::Unknown).map(|m| m.id.as_str()).collect();
    if !unknown.is_empty() {
        footnotes.push(format!(
            "Weights not stated: {} (your own files: load time and memory are theirs; whether outputs mean anything, mora does not know).",
            unknown.join(", ")
        ));
    }
    let sizes = |get: fn(&InputPoint) -> Option<usize>| {
        let mut v: Vec<usize> = r.trials.iter().filter_map(|t| t.point.as_ref().and_then(get)).collect();
        v.sort_unstable();
        v.dedup();
        v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    };
    let (batches, sequences) = (sizes(|p| p.batch_size), sizes(|p| p.sequence_length));
    if !batches.is_empty() || !sequences.is_empty() {
        let swept: Vec<String> = [("batch sizes", batches), ("sequence lengths (text inputs)", sequences)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(what, v)| format!("{what} {v}"))
            .collect();
        footnotes.push(format!(
            "Swept, a trial per size: {}. The recommendations and the profile rest on each model's first size; the tables show every one.",
            swept.join("; ")
        ));
    }
    footnotes.push(
        "MB = 2^20 bytes. Memory is the process's RSS unless a column says otherwise; footprints are read after the first inference."
            .into(),
    );
    footnotes
}

/// Why a results file is not complete, as far as it tells: an interrupt leaves an interrupted trial
/// or an end time (the run wrote its end after stopping); a kill, a write that failed (a full disk) or
/// a run still going leave neither.
fn incomplete(r: &ResultsFile, run: &str) -> String {
    let ended = r.run.finished_at.is_some() && r.run.merged_from.is_empty();
    if ended || r.trials.iter().any(|t| matches!(t.outcome, Outcome::Interrupted { .. })) {
        format!("INCOMPLETE: {run} was interrupted; these are the trials that finished")
    } else {
        format!(
            "INCOMPLETE: {run} stopped before its end (killed, results.json could not be written, or still going); these are the trials that finished"
        )
    }
}

/// Runs from several machines: what each machine is, the hosts side by side on the single
/// scenario's figures, the planning advice per machine class, the runs that failed; then each
/// host's own tables, titled with its name.
fn fleet(r: &ResultsFile) -> Report {
    let classes = crate::fleet::classes(r);
    let mut facts = vec![
        ("Fleet".to_string(), format!("{} hosts in {} machine classes", r.run.hosts.len(), classes.len())),
        ("Merged from".into(), format!("{} runs: {}", r.run.merged_from.len(), r.run.merged_from.join(", "))),
    ];
    if !r.run.failed_runs.is_empty() {
        facts.push(("Failed runs".into(), failed_runs_fact(r)));
    }
    if !r.run.complete {
        facts.push(("Status".into(), incomplete(r, "a run")));
    }
    facts.push(("Judged by".into(), format!("rules v{} (mora {}), per machine class", r.rules_version, env!("CARGO_PKG_VERSION"))));
    let mut sections: Vec<Section> = [hosts(r), host_by_host(r), planning_per_class(r), failed_runs(r)].into_iter().flatten().collect();
    for host in &r.run.hosts {
        for mut s in run(&crate::fleet::host_view(r, host)).sections {
            s.title = format!("{} — {}", s.title, host.label);
            s.host = Some(host.label.clone());
            sections.push(s);
        }
    }
    Report {
        title: format!("ModelMora: Model Lifecycle Benchmark, {} hosts", r.run.hosts.len()),
        summary: super::summary::build(r),
        skipped: vec![],
        facts,
        sections,
        recommendations: r.recommendations.clone(),
        footnotes: common_footnotes(r),
    }
}

/// One row per machine of a fleet: what it is and what ran on it.
fn hosts(r: &ResultsFile) -> Option<Section> {
    let mut s =
        Section::new("Hosts", &["Host", "Machine class", "CPU", "Cores", "RAM GB", "GPUs", "ONNX Runtime", "Kernel", "Runs", "Trials ok"]);
    for h in &r.run.hosts {
        let trials: Vec<&TrialRecord> = r.trials.iter().filter(|t| t.host.as_deref() == Some(h.label.as_str())).collect();
        let gpus: Vec<String> = h.gpus.iter().map(|g| format!("{} ({} MB)", g.name, num(g.memory_total_mb, 0))).collect();
        s.rows.push(vec![
            h.label.clone(),
            h.machine_class.clone(),
            h.host.cpu_model.clone().unwrap_or_else(|| "unknown".into()),
            h.host.logical_cores.to_string(),
            num(h.host.ram_total_mb.map(crate::units::mib_to_gib), 1),
            if gpus.is_empty() { "none".into() } else { gpus.join(", ") },
            h.runtime_version.clone(),
            h.host.kernel.clone().unwrap_or_default(),
            h.runs.join(", "),
            format!("{} of {}", trials.iter().filter(|t| t.outcome.is_ok()).count(), trials.len()),
        ]);
    }
    s.notes.push("A machine class is the hardware that makes hosts comparable: GPUs, CPU model and cores. Hosts of one class should give the same figures within their noise; the advice below is given per class.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// How a host's figure compares with the best host's (the lowest median): the ratio, "within noise"
/// where their ranges over fresh workers overlap, and "one sample" where a side has only one, so
/// its noise is unknown.
fn versus_best(x: Option<&Summary>, best: Option<&Summary>) -> String {
    let (Some(x), Some(best)) = (x, best) else { return "—".into() };
    if best.median <= 0.0 {
        return "—".into();
    }
    let ratio = x.median / best.median;
    if x == best {
        "best".into()
    } else if x.n < 2 || best.n < 2 {
        format!("{ratio:.2}x (one sample)")
    } else if x.overlaps(best) {
        format!("{ratio:.2}x, within noise")
    } else {
        format!("{ratio:.2}x")
    }
}

/// Whether two hosts' figures differ beyond the noise between their fresh workers (their ranges do
/// not overlap, with two or more samples each).
fn beyond_noise(a: &Summary, b: &Summary) -> bool {
    a.n >= 2 && b.n >= 2 && !a.overlaps(b)
}

fn load(m: &SingleTrial) -> Option<&Summary> {
    m.summary.load_time_ms.as_ref()
}

fn p50(m: &SingleTrial) -> Option<&Summary> {
    m.summary.steady_p50_ms.as_ref()
}

/// The single scenario's figures host by host, per model and provider, each against the best host.
fn host_by_host(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Host by host (scenario single)",
        &[
            "Model",
            "Provider",
            "Host",
            "Workers",
            "Spawn to ready ms",
            "Load ms (after unload + trim)",
            "p50 ms",
            "Memory +MB",
            "VRAM +MB (arena)",
            "Load vs best host",
            "p50 vs best host",
        ],
    );
    let class_of = |host: &str| r.run.hosts.iter().find(|h| h.label == host).map(|h| h.machine_class.clone()).unwrap_or_default();
    let all = singles(r);
    let mut pairs: Vec<(&str, Option<InputPoint>, Provider)> = all.iter().map(|(t, _)| (t.model(), t.point, t.provider)).collect();
    pairs.dedup();
    let mut same_class_differs = Vec::new();
    for (model, point, provider) in pairs {
        let hosts: Vec<(&TrialRecord, &SingleTrial)> =
            all.iter().filter(|(t, _)| t.model() == model && t.point == point && t.provider == provider).copied().collect();
        let best =
            |f: fn(&SingleTrial) -> Option<&Summary>| hosts.iter().filter_map(|(_, m)| f(m)).min_by(|a, b| a.median.total_cmp(&b.median));
        for (t, m) in &hosts {
            let host = t.host.clone().unwrap_or_default();
            let x = &m.summary;
            s.rows.push(vec![
                t.model_label(),
                provider.to_string(),
                host.clone(),
                m.workers.len().to_string(),
                spread(x.spawn_to_ready_ms.as_ref(), 0, false),
                spread(x.load_time_ms.as_ref(), 1, false),
                spread(x.steady_p50_ms.as_ref(), 2, false),
                spread(x.memory_increase_mb.as_ref(), 1, true),
                signed(med(&x.gpu_memory_increase_mb), 1),
                if hosts.len() > 1 { versus_best(load(m), best(load)) } else { "only host".into() },
                if hosts.len() > 1 { versus_best(p50(m), best(p50)) } else { "only host".into() },
            ]);
        }
        // Hosts of one class should agree: where they do not, a host is busy, throttled or unlike
        // its class, and its figures should not be pooled with the others' until that is known.
        for (i, (a, ma)) in hosts.iter().enumerate() {
            for (b, mb) in &hosts[i + 1..] {
                let (ha, hb) = (a.host.clone().unwrap_or_default(), b.host.clone().unwrap_or_default());
                if class_of(&ha) != class_of(&hb) {
                    continue;
                }
                for (what, f) in [("load", load as fn(&SingleTrial) -> Option<&Summary>), ("p50", p50)] {
                    if let (Some(x), Some(y)) = (f(ma), f(mb)) {
                        if beyond_noise(x, y) {
                            same_class_differs.push(format!(
                                "{} ({provider}) {what}: {ha} {:.1} ms vs {hb} {:.1} ms",
                                a.model_label(),
                                x.median,
                                y.median
                            ));
                        }
                    }
                }
            }
        }
    }
    s.notes.push("Median (min-max) over each host's fresh workers. Against the best host (the lowest median): the ratio, marked \"within noise\" where the two hosts' ranges overlap, and \"one sample\" where a host ran one worker, so its noise is unknown (run --workers 3 or more to tell). Load and p50 are in a warmed worker.".into());
    if !same_class_differs.is_empty() {
        s.notes.push(format!(
            "Hosts of the same machine class that differ beyond their noise (check them for load, throttling or different storage before trusting the class's advice): {}.",
            same_class_differs.join("; ")
        ));
    }
    (!s.rows.is_empty()).then_some(s)
}

/// The planning advice per machine class and provider, from the recommendations judged per class.
fn planning_per_class(r: &ResultsFile) -> Option<Section> {
    use crate::results::recommendation::Topic;
    let mut s = Section::new(
        "Planning per machine class",
        &[
            "Machine class",
            "Provider",
            "Hosts",
            "Loading",
            "Memory management",
            "Largest footprint MB",
            "Per worker MB",
            "Concurrent models MB",
        ],
    );
    for class in crate::fleet::classes(r) {
        let hosts: Vec<&str> = r.run.hosts.iter().filter(|h| h.machine_class == class).map(|h| h.label.as_str()).collect();
        let mut providers: Vec<Provider> =
            r.recommendations.iter().filter(|x| x.machine_class.as_deref() == Some(class)).map(|x| x.provider).collect();
        providers.sort();
        providers.dedup();
        for provider in providers {
            let advice = |topic: Topic| {
                r.recommendations.iter().find(|x| x.machine_class.as_deref() == Some(class) && x.provider == provider && x.topic == topic)
            };
            let figure = |topic: Topic, name: &str| advice(topic).and_then(|x| x.figures.get(name).copied());
            let verdict = |topic: Topic, name: &str, unit: &str| match advice(topic) {
                Some(x) => format!("{} ({} {unit})", x.level, num(x.figures.get(name).copied(), 0)),
                None => "—".into(),
            };
            s.rows.push(vec![
                class.to_string(),
                provider.to_string(),
                hosts.join(", "),
                verdict(Topic::LoadingStrategy, "avg_cached_load_ms", "ms avg"),
                verdict(Topic::MemoryManagement, "avg_reclamation_pct", "% avg"),
                num(figure(Topic::ResourcePlanning, "largest_footprint_mb"), 0),
                num(figure(Topic::ResourcePlanning, "per_worker_mb"), 0),
                match (figure(Topic::ResourcePlanning, "concurrent_models_mb"), figure(Topic::ResourcePlanning, "plan_models")) {
                    (Some(mb), Some(n)) => format!("{mb:.0} ({})", crate::report::count(n as usize, "model")),
                    (mb, _) => num(mb, 0),
                },
            ]);
        }
    }
    s.notes.push("Each class judged on its own hosts' trials (the recommendations below say which class each rests on). Per worker: 1.5 x the largest footprint + the provider baseline + the worker warm-up (RAM on CPU, the CUDA arena's VRAM on CUDA); N concurrent models: N x largest x 1.5 + 10 %, N the models benchmarked or --plan-models.".into());
    (!s.rows.is_empty()).then_some(s)
}

fn failed_runs_fact(r: &ResultsFile) -> String {
    let names: Vec<&str> = r.run.failed_runs.iter().map(|f| f.run.as_str()).collect();
    format!("{}: {} (no results; see Runs that failed)", names.len(), names.join(", "))
}

/// Runs that ended without results: fleet tasks that failed before or instead of the benchmark.
fn failed_runs(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new("Runs that failed", &["Run", "Host", "Job", "Exit code", "Reason"]);
    for f in &r.run.failed_runs {
        s.rows.push(vec![
            f.run.clone(),
            f.host.clone().unwrap_or_else(|| "unknown".into()),
            f.job.clone().unwrap_or_default(),
            f.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into()),
            f.reason.trim().to_string(),
        ]);
    }
    s.notes.push("These runs left no results.json, only the failed.json their task wrote: the report is made of the others.".into());
    (!s.rows.is_empty()).then_some(s)
}

fn model<'a>(r: &'a ResultsFile, id: &str) -> Option<&'a ModelInfo> {
    r.models.iter().find(|m| m.id == id)
}

/// Trials of one kind, ordered by model then provider so providers sit side by side.
pub(crate) fn trials<'a, T>(r: &'a ResultsFile, pick: impl Fn(&'a Measurements) -> Option<&'a T>) -> Vec<(&'a TrialRecord, &'a T)> {
    let order = |id: &str| r.models.iter().position(|m| m.id == id).unwrap_or(usize::MAX);
    let mut v: Vec<_> =
        r.trials.iter().filter(|t| t.outcome.is_ok()).filter_map(|t| t.measurements.as_ref().and_then(&pick).map(|m| (t, m))).collect();
    // A sweep's sizes in order, the providers of each size side by side.
    v.sort_by_key(|(t, _)| (order(t.model()), t.point, t.provider));
    v
}

/// The single scenario's trials: several tables read them.
pub(crate) fn singles(r: &ResultsFile) -> Vec<(&TrialRecord, &SingleTrial)> {
    trials(r, |m| if let Measurements::Single(x) = m { Some(x.as_ref()) } else { None })
}

fn med(s: &Option<Summary>) -> Option<f64> {
    s.as_ref().map(|s| s.median)
}

/// Whether any single trial of the run was recorded before the first load was measured apart
/// (schema 1): its figures are a fresh worker's first load.
fn first_load_only(r: &ResultsFile) -> bool {
    singles(r).iter().any(|(_, m)| m.first_load_only())
}

/// What the VRAM figures are, with the arena setting of the CUDA trials that ran.
fn arena_note(r: &ResultsFile) -> Option<String> {
    let mut strategies: Vec<&str> = r
        .trials
        .iter()
        .filter(|t| t.provider.backend().memory_note().is_some())
        .map(|t| match crate::provider::cuda::arena_strategy(&t.provider_setup.options) {
            Some("kSameAsRequested") => "same-as-requested",
            _ => "next-power-of-two (ONNX Runtime's default)",
        })
        .collect();
    strategies.sort();
    strategies.dedup();
    (!strategies.is_empty()).then(|| {
        format!(
            "VRAM +MB is what ONNX Runtime's CUDA arena reserved for the model (arena_extend_strategy: {}), not the size of its weights: the arena grows in steps, so a 22 MB model can reserve 256 MB. --arena-strategy same-as-requested measures closer to the weights.",
            strategies.join(", ")
        )
    })
}

fn weights(t: &TrialRecord) -> String {
    t.weights.to_string()
}

fn baseline(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Provider baseline (paid once per worker process, before any model)",
        &["Provider", "Init ms", "First run ms", "RSS kept MB", "GPU kept MB", "From trial"],
    );
    let mut seen = Vec::new();
    for t in r.trials.iter().filter(|t| t.outcome.is_ok()) {
        let Some(b) = t.measurements.as_ref().and_then(Measurements::provider_baseline) else { continue };
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

/// What a model's first load costs a fresh worker once, beyond the same load in a warmed worker: the
/// libraries and kernels the provider sets up on first use, which stay for the worker's life.
fn warmup(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Worker warm-up (paid once per worker, by its first model, beyond the provider baseline)",
        &["Model", "Weights", "Provider", "RAM kept MB", "VRAM kept MB", "First load +ms", "First inference +ms", "Measured by"],
    );
    let order = |id: &str| r.models.iter().position(|m| m.id == id).unwrap_or(usize::MAX);
    let mut rows = worker_warmups(r);
    rows.sort_by_key(|w| (order(&w.model), w.point, w.provider));
    for w in rows {
        s.rows.push(vec![
            w.point.map_or_else(|| w.model.clone(), |p| format!("{} ({p})", w.model)),
            model(r, &w.model).map(|m| m.weights.to_string()).unwrap_or_default(),
            w.provider.to_string(),
            spread(w.rss_mb.as_ref(), 1, true),
            spread(w.gpu_mb.as_ref(), 1, true),
            spread(w.load_ms.as_ref(), 1, true),
            spread(w.first_inference_ms.as_ref(), 1, true),
            match w.source {
                WarmupSource::FreshWorkers => format!("{} fresh workers", w.rss_mb.as_ref().map_or(0, |s| s.n)),
                WarmupSource::LeakFirstCycle => "leak, cycle 1".into(),
            },
        ]);
    }
    s.notes.push("Kept: memory after the first load's unload and malloc_trim, above the memory before it; it stays for the life of the worker. +ms: the first load and its first inference against the same in a warmed worker. It is the worker's cost, not the model's and not a leak: per-model figures below leave it out. Figures are medians (min-max) over fresh workers where there are several.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// What a new worker costs before it answers, over several fresh workers: spawn-to-ready, the
/// first load and its first inference, the first model's footprint.
fn fresh_workers(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Fresh workers (scenario single: each worker from its own spawn)",
        &[
            "Model",
            "Weights",
            "Provider",
            "Workers",
            "Spawn to ready ms",
            "First load ms (fresh worker)",
            "First inference ms",
            "Memory +MB",
            "VRAM +MB (arena)",
        ],
    );
    for (t, m) in singles(r) {
        let x = &m.summary;
        s.rows.push(vec![
            t.model_label(),
            weights(t),
            t.provider.to_string(),
            m.workers.len().to_string(),
            spread(x.spawn_to_ready_ms.as_ref(), 0, false),
            spread(x.first_load_ms.as_ref(), 1, false),
            spread(x.first_load_first_inference_ms.as_ref(), 1, false),
            spread(x.first_load_memory_increase_mb.as_ref(), 1, true),
            spread(x.first_load_gpu_memory_increase_mb.as_ref(), 1, true),
        ]);
    }
    s.notes.push("Median (min-max) over the workers. Spawn to ready: from starting the worker process to the end of its first inference, measured by mora from outside (provider initialisation, first load and first inference included). Memory: the first model's footprint, the worker's one-time warm-up included.".into());
    if first_load_only(r) {
        s.notes.push("Recorded with results schema 1: one worker per trial and no spawn-to-ready; its single-scenario figures below are this first load too, warm-up included.".into());
    }
    (!s.rows.is_empty()).then_some(s)
}

/// The single and cold trials of `like`'s model at its sweep point on `provider`.
fn single_and_cold<'a>(
    r: &'a ResultsFile,
    like: &TrialRecord,
    provider: Provider,
) -> (Option<&'a SingleTrial>, Option<&'a crate::results::ColdResult>) {
    let ours = |t: &&TrialRecord| {
        t.outcome.is_ok() && t.model() == like.model() && t.point == like.point && t.provider == provider && t.models.len() == 1
    };
    let measurements = || r.trials.iter().filter(ours).filter_map(|t| t.measurements.as_ref());
    let single = measurements().find_map(|m| if let Measurements::Single(s) = m { Some(s.as_ref()) } else { None });
    let cold = measurements().find_map(|m| if let Measurements::Cold(c) = m { Some(c.as_ref()) } else { None });
    (single, cold)
}

/// The heap states of the run's warm loads, in words: "after unload + trim", or each where they differ.
pub(crate) fn warm_states(r: &ResultsFile) -> String {
    let mut states: Vec<HeapState> = singles(r)
        .iter()
        .filter_map(|(t, _)| {
            let (s, c) = single_and_cold(r, t, t.provider);
            warm_load(s, c).map(|w| w.state)
        })
        .collect();
    states.sort_by_key(|s| s.short());
    states.dedup();
    if states.is_empty() {
        return HeapState::AfterUnloadAndTrim.short().into();
    }
    states.iter().map(|s| s.short()).collect::<Vec<_>>().join(" or ")
}

fn single(r: &ResultsFile) -> Option<Section> {
    // Schema 1 measured a fresh worker's first load here; schema 2 a load after unload + trim.
    let state = if first_load_only(r) { HeapState::FreshWorker } else { HeapState::AfterUnloadAndTrim };
    let load_header = format!("Load ms ({state})");
    let mut s = Section::new(
        "Load and inference in a warmed worker (scenario single)",
        &[
            "Model",
            "Type",
            "Weights",
            "Provider",
            "Size MB",
            "Cache",
            &load_header,
            "First inf ms",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "Memory +MB",
            "anon/file MB",
            "VRAM +MB (arena)",
            "Load peak MB",
        ],
    );
    for (t, m) in singles(r) {
        let info = model(r, t.model());
        let first = m.workers.first();
        let cache = match (first.and_then(|w| w.cache_hit), first.and_then(|w| w.resident_fraction_before_load)) {
            (Some(true), _) => "HIT".to_string(),
            (Some(false), Some(f)) => format!("MISS ({:.0}%)", f * 100.0),
            _ => "—".into(),
        };
        let x = &m.summary;
        let anon = median(&m.workers.iter().filter_map(|w| w.figures.memory_increase_anon_mb).collect::<Vec<_>>());
        let file = median(&m.workers.iter().filter_map(|w| w.figures.memory_increase_file_mb).collect::<Vec<_>>());
        s.rows.push(vec![
            t.model_label(),
            info.map(|i| i.model_type.to_string()).unwrap_or_default(),
            weights(t),
            t.provider.to_string(),
            num(info.map(|i| i.size_mb), 1),
            cache,
            spread(x.load_time_ms.as_ref(), 1, false),
            spread(x.first_inference_ms.as_ref(), 1, false),
            num(med(&x.steady_p50_ms), 2),
            num(med(&x.steady_p95_ms), 2),
            num(med(&x.steady_p99_ms), 2),
            spread(x.memory_increase_mb.as_ref(), 1, true),
            format!("{} / {}", signed(anon, 1), signed(file, 1)),
            signed(med(&x.gpu_memory_increase_mb), 1),
            num(med(&x.load_peak_mb), 1),
        ]);
    }
    s.notes.push("The model's own figures: each fresh worker first loads and unloads the model once (the warm-up above), then loads it again for these. Median (min-max) over the workers; p50/p95/p99 over each worker's steady-state runs after the warm-up calls (median over workers). Cache: whether the model's files were in the page cache before the load (mincore). Load peak: the highest RSS during the load above the RSS before it.".into());
    s.notes.extend(arena_note(r));
    if first_load_only(r) {
        s.notes.push(
            "Schema 1 trials measured a fresh worker's first load only: their figures here include the worker's one-time warm-up.".into(),
        );
    }
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
            "Footprint at unload MB",
            "Reclaimed MB",
            "Reclaimed %",
            "After trim MB",
            "After trim %",
            "VRAM reclaimed MB",
            "VRAM %",
        ],
    );
    for (t, m) in singles(r) {
        let x = &m.summary;
        let figure = |f: fn(&crate::results::UnloadFigures) -> Option<f64>| {
            median(&m.workers.iter().filter_map(|w| f(&w.figures)).collect::<Vec<_>>())
        };
        // The denominator of both Reclaimed %: RSS before the unload above RSS before the load
        // (larger than the footprint after the first inference, since the steady runs grow it).
        let at_unload = median(
            &m.workers
                .iter()
                .filter_map(|w| Some(w.memory.before_unload.process.rss_mb? - w.memory.before_load.process.rss_mb?))
                .collect::<Vec<_>>(),
        );
        s.rows.push(vec![
            t.model_label(),
            weights(t),
            t.provider.to_string(),
            num(med(&x.unload_time_ms), 1),
            num(at_unload, 1),
            num(figure(|f| f.memory_reclaimed_mb), 1),
            spread(x.reclamation_percentage.as_ref(), 1, false),
            num(figure(|f| f.memory_reclaimed_after_trim_mb), 1),
            spread(x.reclamation_after_trim_percentage.as_ref(), 1, false),
            num(figure(|f| f.gpu_memory_reclaimed_mb), 1),
            num(med(&x.gpu_reclamation_percentage), 1),
        ]);
    }
    s.notes.push("Footprint at unload = RSS before unload - RSS before load, the denominator of both Reclaimed %; it can exceed the single table's Memory (read after the first inference) because the steady runs grow it, and trim can give back more than it when the allocator also returns pages kept from before the load. Reclaimed % = Reclaimed MB / Footprint at unload: the share of the model's footprint that came back, in a warmed worker. After trim: once more after malloc_trim(0), which returns what the allocator kept. Medians (min-max) over the workers.".into());
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
            "Warm median ms (back to back)",
            "Warm min-max ms",
            "Spread %",
            "Cold/warm",
            "Warm first inf ms",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::Cold(x) = m { Some(x.as_ref()) } else { None }) {
        let w = m.warm_load.as_ref();
        s.rows.push(vec![
            t.model_label(),
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
    s.notes.push("Cold: after fsync + POSIX_FADV_DONTNEED on every model file, verified with mincore. Warm: after a full read, repeated, each right after the previous unload; spread = (max - min) / median.".into());
    if singles(r).iter().any(|(_, m)| !m.first_load_only()) {
        s.notes.push(BACK_TO_BACK_VS_TRIMMED.into());
    }
    // A provider that compiles at load may keep what it compiled: say which state the loads were in.
    let mut caches: Vec<String> = trials(r, |m| if let Measurements::Cold(x) = m { Some(x.as_ref()) } else { None })
        .iter()
        .filter_map(|(t, _)| t.provider.backend().cache_state(&t.provider_setup).map(|state| format!("{}: {state}.", t.provider)))
        .collect();
    caches.sort();
    caches.dedup();
    s.notes.extend(caches);
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
            "First cycle kept MB",
            "Growth after trim MB",
            "Slope after trim MB/cycle",
            "Verdict",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::Leak(x) = m { Some(x.as_ref()) } else { None }) {
        for (what, series) in [("RSS", Some(&m.rss)), ("VRAM", m.gpu.as_ref())] {
            let Some(x) = series else { continue };
            let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
            s.rows.push(vec![
                t.model_label(),
                weights(t),
                t.provider.to_string(),
                what.into(),
                num(Some(x.baseline_mb), 1),
                list(&x.after_unload_mb),
                list(&x.after_trim_mb),
                signed(Some(x.first_cycle_retained_mb), 1),
                format!("{} over {}", signed(Some(x.growth_after_trim_mb), 1), x.judged_cycles),
                signed(x.slope_after_trim_mb_per_cycle, 2),
                format!("{} {}", leak_mark(x.verdict), x.verdict),
            ]);
        }
    }
    s.notes.push("The first cycle is the model's first load in the worker: what it keeps after trim (First cycle kept) is the worker's one-time warm-up, reported apart. The verdict is on the growth after malloc_trim from the end of the first cycle to the end of the last, over the cycles after the first (what a long-running worker sees): < 10 MB pass, 10-50 MB caution, > 50 MB fail. Without trim the allocator's retention shows as growth; it is not a leak if trim returns it.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// Different models cycled through one worker: what each adds for good in round 1, how its first
/// load and inference compare with the later rounds, and growth across the rounds.
fn rotation(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Models in rotation through one worker (scenario rotation)",
        &[
            "Model",
            "Provider",
            "Round 1 kept RAM MB",
            "Round 1 kept VRAM MB",
            "Load ms first / later (after unload + trim)",
            "First inf ms first / later",
            "After each round MB",
            "Growth MB",
            "Verdict",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::Rotation(x) = m { Some(x.as_ref()) } else { None }) {
        let added = |series: &Option<crate::results::RotationSeries>, model: &str| {
            signed(series.as_ref().and_then(|s| s.first_round_added.iter().find(|a| a.model == model)).map(|a| a.mb), 1)
        };
        for p in &m.per_model {
            s.rows.push(vec![
                t.point.map_or_else(|| p.model.clone(), |point| format!("{} ({point})", p.model)),
                t.provider.to_string(),
                added(&m.rss, &p.model),
                added(&m.gpu, &p.model),
                format!("{} / {}", num(Some(p.first_load_ms), 1), num(p.later_load_ms, 1)),
                format!("{} / {}", num(Some(p.first_inference_ms), 1), num(p.later_first_inference_ms, 1)),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for (what, series) in [("all models, RSS", m.rss.as_ref()), ("all models, VRAM", m.gpu.as_ref())] {
            let Some(x) = series else { continue };
            let list = x.after_round_mb.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(", ");
            s.rows.push(vec![
                what.into(),
                t.provider.to_string(),
                signed(Some(x.first_round_added.iter().map(|a| a.mb).sum()), 1),
                String::new(),
                String::new(),
                String::new(),
                list,
                signed(Some(x.growth_mb), 1),
                format!("{} {}", leak_mark(x.verdict), x.verdict),
            ]);
        }
    }
    s.notes.push("One worker loads, runs once, unloads and trims every model in turn, round after round. Round 1 kept: what each model's first load added to the worker for good, above the model before it: near zero after the first model means the one-time warm-up belongs to the worker; a share for each new model means it belongs to its operators and kernels. First / later: round 1 against the median of the later rounds. Growth: after the last round minus after the first, judged like the leak scenario.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// The levers' headline: per model, the default's time to first answer and the chosen
/// configuration's, against what the hardware allows (the floor plus a steady inference).
fn first_answer(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Time to first answer (scenario levers)",
        &[
            "Model",
            "Provider",
            "Default ms",
            "Default x (floor + p50)",
            "Chosen",
            "Chosen ms",
            "Chosen x (floor + p50)",
            "vs default",
            "Chosen p50 vs default",
            "Biggest phase left",
        ],
    );
    let mut passed = Vec::new();
    for (t, m) in trials(r, |m| if let Measurements::Levers(x) = m { Some(x.as_ref()) } else { None }) {
        let Some(c) = &m.chosen else { continue };
        let chosen = m.levers.iter().find(|l| l.lever == c.lever);
        let is_default = c.lever == crate::levers::Lever::Default;
        s.rows.push(vec![
            t.model_label(),
            t.provider.to_string(),
            spread(Some(&c.default_first_answer_ms), 1, false),
            num(c.default_over_target, 1),
            c.label.clone(),
            spread(Some(&c.first_answer_ms), 1, false),
            num(c.over_target, 1),
            if is_default { "—".into() } else { c.versus_default.note.clone() },
            chosen.and_then(|l| l.steady_vs_default.as_ref()).map_or("—".into(), short),
            chosen.and_then(|l| l.biggest_left()).unwrap_or_else(|| "—".into()),
        ]);
        for p in &c.passed_over {
            passed.push(format!("{} on {}: faster, passed over: {p}", t.model_label(), t.provider));
        }
    }
    s.notes.push("Time to first answer: a load in the warmed worker and its own first inference, what a request that finds its model unloaded waits for (median (min..max) over --repeats loads, at least three). x (floor + p50): against what the hardware allows the configuration, the model's bytes from the page cache (the floor, below) and one steady inference of its own (the median of its sessions' p50s). Chosen: the fastest to first answer whose outputs agree with the default's and whose steady p50 (each load's session its own p50 over --runs calls) is not worse than the default's beyond noise; the default where none is faster. vs default: the loads against the default's loads, judged as `mora report` compares runs (a Mann-Whitney rank test, p < 0.05, and at least the minimum effect); where a side has fewer than five samples the rank test cannot call a change, and one is called only where every sample lies beyond the default's median by more than the minimum effect. Biggest phase left: of the chosen configuration's first answer, the largest phase of its logged load (Load breakdown below) or its first inference, where that is larger.".into());
    s.notes.extend(passed);
    (!s.rows.is_empty()).then_some(s)
}

/// "same (+3%)", "WORSE (+39%)", "better (-12%)".
fn short(a: &crate::levers::choice::Against) -> String {
    use crate::levers::choice::Direction as D;
    let word = match a.direction {
        D::Better => "better",
        D::Worse => "WORSE",
        D::Same => "same",
    };
    format!("{word} ({:+.0}%)", a.change_pct)
}

/// The load path under each configuration, against the default and the hardware's floor.
fn levers(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Load-path levers (scenario levers)",
        &[
            "Model",
            "Provider",
            "Configuration",
            "First answer ms",
            "x (floor + p50)",
            "Load ms (after unload + trim)",
            "x floor",
            "First inf ms",
            "p50 ms (sessions)",
            "p50 vs default",
            "Weights",
            "RAM +MB",
            "VRAM +MB",
            "Outputs",
            "ONNX Runtime reports",
        ],
    );
    let mut floors = Vec::new();
    for (t, m) in trials(r, |m| if let Measurements::Levers(x) = m { Some(x.as_ref()) } else { None }) {
        let floor = m.floor.floor_ms;
        for l in &m.levers {
            let load = l.load_ms.as_ref().map(|s| s.median);
            let outputs = match (&l.error, &l.agreement) {
                (Some(e), _) => format!("not tried: {e}"),
                (None, None) => "reference".into(),
                (None, Some(a)) if a.same => format!("same (max diff {:.1e})", a.max_abs_diff),
                (None, Some(a)) => format!("DIFFER: {}", a.note.as_deref().unwrap_or("")),
            };
            let chosen = m.chosen.as_ref().is_some_and(|c| c.lever == l.lever);
            // Runs before the sessions' own p50s: the last session's.
            let p50 = match &l.steady_p50_sessions_ms {
                Some(sessions) => spread(Some(sessions), 2, false),
                None => num(l.steady_p50_ms, 2),
            };
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                if chosen { format!("{} (chosen)", l.label) } else { l.label.clone() },
                spread(l.first_answer_ms.as_ref(), 1, false),
                num(m.over_target(l), 1),
                spread(l.load_ms.as_ref(), 1, false),
                num(load.zip(floor).filter(|(_, f)| *f > 0.0).map(|(l, f)| l / f), 1),
                spread(l.first_inference_ms.as_ref(), 1, false),
                p50,
                l.steady_vs_default.as_ref().map_or("—".into(), short),
                l.weights.as_ref().map_or("—".into(), |w| w.describe()),
                signed(med(&l.memory_increase_mb), 1),
                signed(med(&l.gpu_memory_increase_mb), 1),
                outputs,
                l.evidence.join("; "),
            ]);
        }
        let f = &m.floor;
        let reads = crate::stats::Summary::of(&f.page_cache_reads_ms);
        floors.push(format!(
            "{} on {}: floor {} ms = the model's {:.0} MB from the page cache in {} ms ({} MB/s; cold {} MB/s){}{}",
            t.model_label(),
            t.provider,
            num(f.floor_ms, 1),
            crate::units::mib(f.bytes),
            if reads.as_ref().is_some_and(|r| r.n > 1) { spread(reads.as_ref(), 1, false) } else { num(f.page_cache_read_ms, 1) },
            num(f.page_cache_mb_per_s, 0),
            num(f.cold_mb_per_s, 0),
            f.h2d_pageable_mb_per_s
                .map(|p| format!(" + copy to the device at {p:.0} MB/s (pinned {} MB/s)", num(f.h2d_pinned_mb_per_s, 0)))
                .unwrap_or_default(),
            if f.notes.is_empty() { String::new() } else { format!(" ({})", f.notes.join("; ")) }
        ));
    }
    s.notes.push("Each configuration loads the model --repeats times (at least three) in a warmed worker (median (min..max)), each load followed by its first inference and --runs steady calls on its own session. First answer: load + first inference; x (floor + p50): against the floor plus the configuration's own steady p50. x floor: the load against the hardware's floor below. p50 vs default: the sessions' p50s against the default's, judged with noise (see Time to first answer). Weights: the process's file-backed memory by the first answer (RssFile: pages of the model's files mapped in once touched) and its anonymous memory after the load (RssAnon: weights copied or packed onto the heap; the first inference's activations come later), medians over the loads, against the size of the files the configuration reads: mapped or copied where it grew by a quarter of them or more; where the first inference paged in a mapping the load left, that is said. Outputs: against the default's on the same inputs (agree within 1e-3 of the largest magnitude); a configuration whose outputs differ is never chosen. ONNX Runtime reports: what the runtime gives back for the options set (session config entries read back, threads while loaded, the optimised graph's node count, the size of the saved pre-packed weights, the session's log for a mapped ORT model and for a skipped optimizer). Levers after the fixed ones: each of the three graph transformers that cost the default's logged load most skipped (optimization.disable_specified_optimizers), then the two fastest to first answer that change different things, together.".into());
    s.notes
        .push(format!("The floor is measured the same way every time: {}; ms shown as median (min..max).", crate::levers::floor::METHOD));
    s.notes.extend(floors);
    (!s.rows.is_empty()).then_some(s)
}

/// Where each configuration's load goes: ONNX Runtime's profiler beside mora's wall time, the
/// initialisation split by the session's log, the remainder shown.
fn load_breakdown(r: &ResultsFile) -> Option<Section> {
    use crate::levers::breakdown::LoadPhase as P;
    let mut s = Section::new(
        "Load breakdown (scenario levers)",
        &[
            "Model",
            "Provider",
            "Configuration",
            "Wall ms",
            "Setup",
            "Parse",
            "Graph opt",
            "Save weights",
            "Kernels+prepack",
            "Other init",
            "Remainder",
            "Biggest phase",
            "Costliest transformers ms",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::Levers(x) = m { Some(x.as_ref()) } else { None }) {
        for l in &m.levers {
            let Some(b) = l.logged_breakdown.as_ref().or(l.breakdown.as_ref()) else { continue };
            let ms = |p: P| num(b.ms(p), 1);
            // Without the log's split, the whole initialisation sits in "Other init".
            let other = b.ms(P::OtherInitialization).or(b.ms(P::Initialization));
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                l.label.clone(),
                num(Some(b.wall_ms), 1),
                ms(P::SessionSetup),
                num(b.ms(P::ModelParse).or(b.ms(P::SetupAndParse)), 1),
                ms(P::GraphOptimization),
                ms(P::InitializerSaving),
                ms(P::KernelsAndPrepacking),
                num(other, 1),
                ms(P::Remainder),
                b.biggest()
                    .map(|p| format!("{} {:.0} ms ({:.0}%)", p.phase.label(), p.ms, 100.0 * p.ms / b.wall_ms.max(f64::MIN_POSITIVE)))
                    .unwrap_or_default(),
                b.transformers.iter().take(3).map(|x| format!("{} {:.1}", x.name, x.ms)).collect::<Vec<_>>().join(", "),
            ]);
        }
    }
    s.notes.push("One load per configuration beyond the timed ones, with ONNX Runtime's profiler (its session events: setup to the model's parse, model_loading, session_initialization) and the session's INFO log stamped as each line arrives, which splits the initialisation at \"Saving initialized tensors.\", \"Done saving initialized tensors\" and \"Session successfully initialized.\". Wall: mora's clock around that load; Remainder: wall less everything the profiler covers (the session builder, the provider's registration, ort's work after the session), never hidden; Other init: the profiler's initialisation less the three logged phases. Setup —: the profiler wrote no model-loading event for this model, and Parse is setup and parse as one. A transformer's time runs from the log line before it to its own, summed over its passes. The timed loads carry the profiler only; their per-phase medians are in results.json (breakdown).".into());
    (!s.rows.is_empty()).then_some(s)
}

/// What stays after an unload under each memory configuration, and what each costs.
fn memory_levers(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Memory levers (scenario memory-levers)",
        &[
            "Model",
            "Provider",
            "Configuration",
            "Load ms (after unload + trim)",
            "RAM +MB",
            "Unload gives back %",
            "+ release %",
            "VRAM back %",
            "Next load kept / released ms",
            "Reload from RAM ms",
            "Extra replica MB (shared)",
        ],
    );
    for (t, m) in trials(r, |m| if let Measurements::MemoryLevers(x) = m { Some(x.as_ref()) } else { None }) {
        for c in &m.configs {
            if let Some(e) = &c.error {
                s.rows.push(
                    vec![t.model_label(), t.provider.to_string(), c.label.clone(), format!("not tried: {e}")]
                        .into_iter()
                        .chain(std::iter::repeat_n(String::new(), 7))
                        .collect(),
                );
                continue;
            }
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                c.label.clone(),
                spread(c.load_ms.as_ref(), 1, false),
                signed(med(&c.memory_increase_mb), 1),
                num(med(&c.reclaimed_pct), 1),
                num(med(&c.reclaimed_after_trim_pct), 1),
                num(med(&c.gpu_reclaimed_pct), 1),
                format!("{} / {}", num(med(&c.load_without_trim_ms), 1), num(med(&c.load_after_trim_ms), 1)),
                num(med(&c.reload_from_memory_ms), 1),
                format!("{} ({})", signed(med(&c.replica_extra_mb), 1), signed(med(&c.replica_extra_shared_mb), 1)),
            ]);
        }
    }
    s.notes.push("Each configuration runs in a worker of its own (an allocator is preloaded when the process starts; the worker's own symbols confirm which one ran). Medians of three. + release: after the allocator's own release call (glibc malloc_trim(0), jemalloc's arena purge, mimalloc's mi_collect, tcmalloc's ReleaseFreeMemory). Next load kept / released: a load right after an unload whose freed memory the allocator kept, and one after it was released: the price of giving memory back. Reload from RAM: a session from the model's bytes already in memory. Extra replica: what a second or third session of the same model adds, alone (and sharing a prepacked-weights container).".into());
    (!s.rows.is_empty()).then_some(s)
}

/// The next request after each idle gap against a busy session.
fn idle(r: &ResultsFile) -> Option<Section> {
    use crate::advice::lifecycle::keep_alive_from;
    let rows = trials(r, |m| if let Measurements::Idle(x) = m { Some(x.as_ref()) } else { None });
    let mut gaps: Vec<f64> = rows.iter().flat_map(|(_, m)| m.gaps.iter().map(|g| g.gap_s)).collect();
    gaps.sort_by(f64::total_cmp);
    gaps.dedup();
    let mut header = vec!["Model".to_string(), "Provider".into(), "Busy p50 ms".into()];
    header.extend(gaps.iter().map(|g| format!("After {g} s idle ms")));
    header.push("Keep-alive pays from".into());
    let mut s =
        Section { title: "First request after an idle gap (scenario idle)".into(), header, rows: vec![], notes: vec![], host: None };
    for (t, m) in rows {
        let mut row = vec![t.model_label(), t.provider.to_string(), spread(m.steady.as_ref(), 1, false)];
        row.extend(gaps.iter().map(|g| spread(m.gaps.iter().find(|x| x.gap_s == *g).and_then(|x| x.latency.as_ref()), 1, false)));
        row.push(match keep_alive_from(m) {
            Some((gap, extra)) => format!("{gap} s (+{extra:.1} ms)"),
            None => "no penalty seen".into(),
        });
        s.rows.push(row);
    }
    s.notes.push("A warm session answers a burst, then sits idle for the gap, then answers once; three times per gap (median (min..max)). Keep-alive pays from the shortest gap after which every request was slower than the slowest busy one and the median more than 1.5x the busy median: ping more often than that, or unload after it.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// The first run at each new input shape against that shape's steady p50.
fn shapes(r: &ResultsFile) -> Option<Section> {
    use crate::advice::lifecycle::shapes_worth_warming;
    let mut s = Section::new(
        "First run at each input shape (scenario shapes)",
        &["Model", "Provider", "Batch x sequence", "First run ms", "Steady p50 ms", "First / p50", "Warm it up"],
    );
    // Shapes the model could not take, each with ONNX Runtime's reason, below the table.
    let mut failures = Vec::new();
    for (t, m) in trials(r, |m| if let Measurements::Shapes(x) = m { Some(x.as_ref()) } else { None }) {
        if let Some(why) = &m.not_applicable {
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                format!("— ({why})"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        let warm = shapes_worth_warming(&m.shapes);
        for run in &m.shapes {
            let shape = format!("{} x {}", run.batch_size, run.sequence_length.map_or("—".into(), |q| q.to_string()));
            if let Some(error) = &run.error {
                // ONNX Runtime puts the specifics last ("... 77 by 128"): keep the end of a long message.
                let chars: Vec<char> = error.chars().collect();
                let error =
                    if chars.len() > 200 { format!("…{}", chars[chars.len() - 200..].iter().collect::<String>()) } else { error.clone() };
                failures.push(format!("{} at {shape} does not run: {error}", t.model_label()));
            }
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                shape,
                if run.error.is_some() { "does not run".into() } else { num(run.first_ms, 1) },
                spread(run.steady.as_ref(), 1, false),
                num(run.first_over_p50, 2),
                if warm.iter().any(|w| std::ptr::eq(*w, run)) { "yes".into() } else { String::new() },
            ]);
        }
    }
    s.notes.push("In one warm session, each new shape's first run, then five more (steady). Warm it up: the first run was more than 1.5x the steady median and slower than every steady run.".into());
    s.notes.extend(failures);
    (!s.rows.is_empty()).then_some(s)
}

/// Memory growth over time, cycling and resident.
fn soak(r: &ResultsFile) -> Option<Section> {
    use crate::advice::lifecycle::soak_verdict;
    let mut s = Section::new(
        "Memory over time (scenario soak)",
        &["Model", "Provider", "Phase", "Seconds", "Loads", "Inferences", "Samples", "RAM MB/hour", "VRAM MB/hour", "Verdict"],
    );
    for (t, m) in trials(r, |m| if let Measurements::Soak(x) = m { Some(x.as_ref()) } else { None }) {
        for (phase, p) in [("cycling", &m.cycling), ("resident", &m.resident)] {
            let rate = |g: &Option<crate::results::GrowthRate>| {
                g.as_ref().map_or("—".into(), |g| format!("{:+.1} ± {:.1}", g.mb_per_hour, 2.0 * g.stderr_mb_per_hour))
            };
            let verdicts: Vec<_> = [&p.rss, &p.vram].into_iter().flatten().map(|g| soak_verdict(g, p.sampled_s()).0).collect();
            let worst = verdicts.iter().max().copied();
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                phase.into(),
                num(Some(p.sampled_s()), 0),
                p.loads.to_string(),
                p.inferences.to_string(),
                p.samples.len().to_string(),
                rate(&p.rss),
                rate(&p.vram),
                worst.map_or("—".into(), |v| format!("{} {v}", leak_mark(v))),
            ]);
        }
    }
    s.notes.push("Cycling: load, ten requests, unload and release, over and over; resident: one session answering bursts of ten. The rate is the slope of a least-squares line through the memory samples (± two standard errors), per hour. Verdict against the seed's alert of 50 MB/hour: pass when the whole interval is below it, fail when above and the soak gained more than the 10 MB the leak check passes (a rate per hour from seconds of samples extrapolates what the first cycles settle), caution otherwise or with fewer than 5 samples (soak longer: --soak-duration).".into());
    (!s.rows.is_empty()).then_some(s)
}

/// The worker under memory limits at multiples of its charge.
fn memory_limit(r: &ResultsFile) -> Option<Section> {
    use crate::advice::lifecycle::{seed_limit_holds, smallest_limit_that_held};
    use crate::results::LimitOutcome;
    let mut s = Section::new(
        "Memory limits (scenario memory-limit)",
        &[
            "Model",
            "Provider",
            "Memory",
            "Charged baseline / ready / peak MB",
            "1.1x",
            "1.25x",
            "1.5x",
            "2x",
            "Smallest that held",
            "Seed's 1.5x",
        ],
    );
    let cell = |attempts: &[crate::results::LimitAttempt], m: f64| {
        attempts.iter().find(|a| (a.multiplier - m).abs() < 1e-9).map_or("—".to_string(), |a| {
            let what = match a.outcome {
                LimitOutcome::Survived => "held",
                LimitOutcome::KilledByLimit => "OOM-killed",
                LimitOutcome::RefusedByArena => "arena refused",
                LimitOutcome::Failed => "failed",
            };
            format!("{what} ({:.0} MB)", a.limit_mb)
        })
    };
    let mut notes = Vec::new();
    for (t, m) in trials(r, |m| if let Measurements::MemoryLimit(x) = m { Some(x.as_ref()) } else { None }) {
        for (what, attempts, charges) in [
            ("RAM", &m.ram, format!("{} / {} / {}", num(m.baseline_charge_mb, 0), num(m.ready_charge_mb, 0), num(m.peak_charge_mb, 0))),
            ("VRAM", &m.vram, format!("— / +{} / —", num(m.vram_footprint_mb, 0))),
        ] {
            if attempts.is_empty() {
                if what == "RAM" {
                    if let crate::results::RamLimit::Unavailable(why) = &m.mechanism {
                        notes.push(format!("{} on {}: no RAM limit could be set: {why}", t.model_label(), t.provider));
                    }
                }
                continue;
            }
            s.rows.push(vec![
                t.model_label(),
                t.provider.to_string(),
                what.into(),
                charges,
                cell(attempts, 1.1),
                cell(attempts, 1.25),
                cell(attempts, 1.5),
                cell(attempts, 2.0),
                smallest_limit_that_held(attempts).map_or("none".into(), |m| format!("{m}x")),
                seed_limit_holds(attempts).map_or("—".into(), |h| if h { "holds".into() } else { "FAILS".into() }),
            ]);
        }
    }
    if let Some((_, m)) = trials(r, |m| if let Measurements::MemoryLimit(x) = m { Some(x.as_ref()) } else { None }).first() {
        if let crate::results::RamLimit::Cgroup(mechanism) = &m.mechanism {
            s.notes.push(format!("RAM: a worker in a child memory cgroup ({mechanism}) with no swap, limited to its charge after the provider baseline plus the multiple of the model's footprint (its RSS once it answered, above the provider baseline: the seed's rule), measured first without a limit; charged is what a container's limit counts (anonymous memory, the model files' page cache, evicted before every worker so that each is charged for it, kernel memory), and the page cache can be reclaimed under the limit. VRAM: ONNX Runtime's gpu_mem_limit at the multiple of the VRAM the model took. A load can peak above the settled footprint, which is what a tight limit kills."));
        }
    }
    s.notes.extend(notes);
    (!s.rows.is_empty() || !s.notes.is_empty()).then_some(s)
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
            "VRAM before/loaded/after MB",
            "VRAM reclaimed MB",
        ],
    );
    let singles = singles(r);
    let isolations = trials(r, |m| if let Measurements::Isolation(x) = m { Some(x.as_ref()) } else { None });
    for &(t, m) in &isolations {
        let in_process = singles
            .iter()
            .find(|(st, _)| st.model() == t.model() && st.point == t.point && st.provider == t.provider)
            .and_then(|(_, sm)| med(&sm.summary.reclamation_percentage));
        let trio = |a: Option<f64>, b: Option<f64>, c: Option<f64>| format!("{} / {} / {}", num(a, 0), num(b, 0), num(c, 0));
        s.rows.push(vec![
            t.model_label(),
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
            "mora starts a worker that loads the model and answers once, then reads {} and the GPU before the spawn, while loaded and after killing it. That reading includes other processes: read the worker's own memory beside it (anonymous memory is what the cgroup reading counts; private memory also holds file-backed pages of libraries only the worker maps). In-process %: the single scenario's unload in a warmed worker.",
            m.memory_reading
        ));
    }
    (!s.rows.is_empty()).then_some(s)
}

fn concurrent(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new(
        "Concurrent models (scenario concurrent)",
        &["Models", "Provider", "Warm-up kept MB", "Load wall ms", "Slowest load ms", "Memory +MB together", "VRAM +MB together"],
    );
    for (t, m) in trials(r, |m| if let Measurements::Concurrent(x) = m { Some(x.as_ref()) } else { None }) {
        let slowest = m.per_model.iter().map(|p| p.load_time_ms).fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
        s.rows.push(vec![
            t.models.join(", "),
            t.provider.to_string(),
            signed(m.warmup_retained_mb, 1),
            num(Some(m.load_wall_ms), 0),
            num(slowest, 0),
            signed(m.total_increase_mb, 1),
            signed(m.gpu_total_increase_mb, 1),
        ]);
    }
    s.notes.push("Each model is first loaded, run and unloaded alone (the worker's warm-up, kept apart), then all are loaded at once: Memory +MB together compares with the sum of the single footprints.".into());
    (!s.rows.is_empty()).then_some(s)
}

/// What trials noticed that weakens a figure (mora's warnings) and what ONNX Runtime logged (e.g.
/// nodes it placed on CPU under CUDA), each message once with the trials that reported it.
fn warnings(r: &ResultsFile) -> Option<Section> {
    let mut s = Section::new("Warnings", &["From", "Warning", "Trials"]);
    let mut seen: Vec<(String, String, Vec<&str>)> = Vec::new();
    for t in &r.trials {
        let ours = t.all_warnings().into_iter().map(|w| ("mora".to_string(), w.to_string()));
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
    let in_run = |run: &Option<String>| run.as_ref().map(|r| format!(" (run {r})")).unwrap_or_default();
    for t in &r.trials {
        if !t.outcome.is_ok() {
            let tail = match &t.outcome {
                Outcome::Crashed { stderr_tail, .. } | Outcome::TimedOut { stderr_tail, .. } => {
                    stderr_tail.lines().last().unwrap_or("").to_string()
                }
                _ => String::new(),
            };
            s.rows.push(vec![t.id.clone(), t.weights.to_string(), format!("{}{}", t.outcome.summary(), in_run(&t.run)), tail]);
        }
        // A merge keeps a successful measurement over a failed one; the failure is still a fact.
        for other in t.other_runs.iter().filter(|o| !o.outcome.is_ok()) {
            let kept = if t.outcome.is_ok() { format!("; the measurement{} is kept", in_run(&t.run)) } else { String::new() };
            s.rows.push(vec![
                t.id.clone(),
                t.weights.to_string(),
                format!("{} (run {}){kept}", other.outcome.summary(), other.run),
                String::new(),
            ]);
        }
    }
    (!s.rows.is_empty()).then_some(s)
}
