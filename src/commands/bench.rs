//! `mora bench`: resolve the runtime, providers and models, run the plan, print the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::output::{self, errln, outln};
use super::progress::{self, Progress};

use crate::catalog::ModelStatus;
use crate::cli::BenchArgs;
use crate::config::Config;
use crate::inputs::ModelType;
use crate::plan::{Sweep, drop_spanning_scenarios_without_two_models, plan};
use crate::probe::{HostInfo, gpu};
use crate::provider::ProviderRequest;
use crate::report::table::Terminal;
use crate::report::{self, Format};
use crate::results::{ConfigInfo, RunInfo, RunSettings, ToolInfo, TrialSettings};
use crate::runner::{self, Bench};
use crate::runtime::{self, RuntimeLibrary};

/// Exit code when the run finished but some trials failed (their records say why).
pub(crate) const SOME_TRIALS_FAILED: i32 = 3;
/// Exit code when results.json could not be written (a full disk): the run stopped there.
pub(crate) const RESULTS_NOT_WRITTEN: i32 = 4;

/// What was kept when results.json could not be written, in words.
fn describe_write_failure(failure: &runner::WriteFailure, path: &std::path::Path, finished: usize) -> String {
    let kept = match failure.kept_trials {
        Some(n) => format!("the last good {} is kept, with {n} of the {finished} finished trials", path.display()),
        None => format!("{} was never written whole", path.display()),
    };
    let rescued = match &failure.rescued {
        Ok(p) => format!("all {finished} finished trials were written to {}", p.display()),
        Err(e) => format!("writing them to the temporary folder failed too ({e:#}): the figures above are all that is left"),
    };
    format!("error: cannot write results: {}\nthe run stopped: {kept}; {rescued}", failure.error)
}

/// What the run folder's reports, the exports and `latest` could not be, in words: results.json is
/// whole, so the run stands and its exit code is its trials'.
fn describe_report_failures(failed: &[(PathBuf, anyhow::Error)], folder: &Path) -> String {
    let mut lines: Vec<String> = failed.iter().map(|(path, e)| format!("warning: cannot write {}: {e:#}", path.display())).collect();
    lines.push(format!(
        "warning: {} could not be written; {} is whole: `mora report {} --in-place` writes the reports again once there is room",
        report::count(failed.len(), "file"),
        folder.join("results.json").display(),
        folder.display()
    ));
    lines.join("\n")
}

pub(crate) fn run(args: BenchArgs) -> Result<i32> {
    let config = match &args.model {
        Some(model) => Config::for_model(model, args.tokenizer.as_deref(), args.model_type)?,
        None => Config::load(&args.config)?,
    };
    let models = config.select(&args.models, args.suite)?;
    if models.is_empty() {
        bail!("no models in suite {:?} of {}: pass --models or --suite all", args.suite, config.path.display());
    }
    if let Some(contradiction) = models.iter().find_map(|m| ModelStatus::of(m).contradiction(m, &config.path)) {
        bail!("{contradiction}");
    }
    refuse_exports_over_a_run(&args)?;
    let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
    let mut scenarios = args.scenario.clone();
    scenarios.sort();
    scenarios.dedup();
    let notes: Vec<String> = drop_spanning_scenarios_without_two_models(&ids, &mut scenarios)?.into_iter().collect();
    let roots = runtime::search_roots(config.path.parent());
    let library = RuntimeLibrary::locate(args.runtime.ort_lib.as_deref(), &roots)?;
    errln!("mora {}: ONNX Runtime {} from {}", env!("CARGO_PKG_VERSION"), library.version, library.path.display());
    args.options.check_names()?;
    let request = ProviderRequest::parse(&args.provider, &args.options.ep_lib_providers()?)?;
    let (setups, statuses) = crate::resolve::resolve_providers(&request, &library, &config.providers, &args.options)?;
    for s in statuses.iter().filter(|s| !s.ran) {
        errln!("skipping {}: {}", s.provider, s.skipped_because.as_deref().unwrap_or("unavailable"));
    }
    for note in &notes {
        errln!("note: {note}");
    }
    if let (Some(path), None) = (&args.model, args.model_type)
        && let Ok(graph) = crate::onnx_graph::GraphSummary::read(path)
    {
        let (guessed, why) = graph.guess_type();
        errln!("--model {}: type {guessed}, guessed from {why} (--type overrides)", path.display());
    }
    // Before any trial and before the run folder: a model that cannot run stops the run here.
    let preflight = crate::preflight::check(&models, &config, &library);
    if !preflight.errors.is_empty() {
        bail!("preflight: {} before any trial:\n  {}", report::count(preflight.errors.len(), "error"), preflight.errors.join("\n  "));
    }
    let sweep = Sweep { batch_sizes: dedup(&args.batch_size), sequence_lengths: dedup(&args.sequence_length) };
    // Text inputs take a sequence length; an image model's point is its batch size alone.
    let has_sequence = |id: &str| {
        models
            .iter()
            .any(|m| m.id == id && (m.tokenizer.is_some() || matches!(m.model_type, ModelType::Embedding | ModelType::TextGeneration)))
    };
    let trials = sweep.expand(plan(&ids, &runner::providers(&setups), &scenarios), &has_sequence);

    if args.dry_run {
        outln!(
            "{} ({} x {} x {}):",
            report::count(trials.len(), "trial"),
            report::count(ids.len(), "model"),
            report::count(setups.len(), "provider"),
            report::count(scenarios.len(), "scenario")
        )?;
        for (i, t) in trials.iter().enumerate() {
            outln!("  [{}/{}] {}", i + 1, trials.len(), t.id())?;
        }
        outln!("inputs (preflight):")?;
        for line in preflight.fill_lines() {
            outln!("{line}")?;
        }
        outln!("nothing ran (--dry-run); results would go under {}", args.out.display())?;
        return Ok(0);
    }
    let host = HostInfo::current();
    let folder = match &args.run_name {
        Some(name) => runner::create_named_run_folder(&args.out, name)?,
        None => runner::create_run_folder(&args.out, &host.hostname)?,
    };
    let results_path = folder.join("results.json");
    let settings = TrialSettings {
        warmup_runs: args.warmup_runs.unwrap_or(config.defaults.warmup_runs),
        runs: args.runs.unwrap_or(config.defaults.runs),
        repeats: args.repeats as usize,
        cycles: args.cycles as usize,
        idle_gaps_s: args.idle_gaps.clone(),
        soak_s: args.soak_duration.as_secs_f64(),
        shape_batches: args.shape_batches.clone(),
        shape_sequences: args.shape_sequences.clone(),
        limit_multipliers: args.limit_multipliers.clone(),
    };
    let info = RunInfo {
        tool: ToolInfo::current(),
        started_at: runner::now_rfc3339(),
        finished_at: None,
        complete: false,
        command_line: std::env::args().collect(),
        gpus: gpu::gpus(),
        host,
        runtime: library.clone(),
        config: ConfigInfo { path: config.path.display().to_string(), sha256: config.sha256.clone() },
        providers: statuses,
        scenarios: scenarios.clone(),
        settings: RunSettings { trial: settings.clone(), workers: args.workers as usize, plan_models: args.plan_models },
        notes,
        machine_load: vec![],
        merged_from: vec![],
        hosts: vec![],
        failed_runs: vec![],
    };
    errln!(
        "{} ({} x {} x {}) -> {}",
        report::count(trials.len(), "trial"),
        report::count(ids.len(), "model"),
        report::count(setups.len(), "provider"),
        report::count(scenarios.len(), "scenario"),
        results_path.display()
    );
    if !args.quiet {
        errln!("inputs:\n{}", preflight.fill_lines().join("\n"));
    }
    crate::supervise::install_interrupt_handler();
    let mut progress = Progress::new(args.quiet, &trials);
    let bench =
        Bench { config: &config, models, setups, runtime: library, plan: trials, settings, workers: args.workers as usize, results_path };
    let outcome = runner::run(&bench, runner::new_results(info), &mut |e| progress.on_event(e));
    let mut results = outcome.results;
    // The figures go to the terminal whatever happens to it: a closed pipe or a hung-up terminal
    // changes nothing of the run, so errors writing them are ignored.
    let show = |results: &crate::results::ResultsFile| {
        let term = Terminal::stdout(args.style);
        let text = if args.summary {
            report::render_summary(results, report::Format::Table, term).unwrap_or_else(|e| format!("{e:#}\n"))
        } else {
            report::render_table(results, term)
        };
        let _ = output::print(&text);
    };
    if let Some(failure) = outcome.write_failure {
        // The disk is full or the folder unwritable: show the figures, say what was kept.
        results.run.notes.push(format!(
            "the run stopped after {} because results.json could not be written ({})",
            report::count(results.trials.len(), "trial"),
            failure.error
        ));
        show(&results);
        errln!("\n{}", describe_write_failure(&failure, &bench.results_path, results.trials.len()));
        return Ok(RESULTS_NOT_WRITTEN);
    }
    // results.json is whole: what is written from here on is a copy of it, and a failure is a
    // warning that names the file, never a change of the run's exit code.
    let label = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let runs = [(label, results.clone())];
    let mut written = report::write_reports(&folder, &results, &runs);
    written.files.insert(0, bench.results_path.clone());
    exports(&args, &results, &runs, &mut written);
    if let Err(e) = point_latest_at(&args.out, &folder) {
        written.failed.push((args.out.join("latest"), e));
    }
    if !args.quiet {
        show(&results);
        errln!("\n{} in {}", report::count(results.trials.len(), "trial"), progress::duration(progress.elapsed()));
    }
    errln!("wrote {}", written.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    if !written.failed.is_empty() {
        errln!("{}", describe_report_failures(&written.failed, &folder));
    }
    if !results.run.complete {
        errln!("interrupted: the results above are the trials that finished");
        return Ok(130);
    }
    Ok(if results.trials.iter().all(|t| t.outcome.is_ok()) { 0 } else { SOME_TRIALS_FAILED })
}

/// An export named results.json that exists may be a run's: refused before the run, not after it.
fn refuse_exports_over_a_run(args: &BenchArgs) -> Result<()> {
    for path in [&args.export_json, &args.export_csv, &args.export_markdown].into_iter().flatten() {
        if path.file_name().is_some_and(|n| n == "results.json") && path.exists() {
            bail!("{} exists and may be a run's: export to another name", path.display());
        }
    }
    Ok(())
}

/// `--export-json`, `--export-csv`, `--export-markdown` (hyperfine's names): copies of what the run
/// folder holds, where a script wants them (a results.json that exists was refused before the run).
fn exports(
    args: &BenchArgs,
    results: &crate::results::ResultsFile,
    runs: &[(String, crate::results::ResultsFile)],
    written: &mut report::Written,
) {
    for (path, format) in [(&args.export_json, Format::Json), (&args.export_csv, Format::Csv), (&args.export_markdown, Format::Markdown)] {
        let Some(path) = path else { continue };
        match report::render(results, runs, format).and_then(|text| crate::results::write_atomic(path, text.as_bytes())) {
            Ok(()) => written.files.push(path.clone()),
            Err(e) => written.failed.push((path.clone(), e)),
        }
    }
}

/// `<out>/latest` names the newest run folder (a symlink replaced atomically), for scripts.
fn point_latest_at(out: &Path, folder: &Path) -> Result<()> {
    let (Some(name), latest) = (folder.file_name(), out.join("latest")) else { return Ok(()) };
    let tmp = out.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp).with_context(|| format!("cannot make the link {}", tmp.display()))?;
    std::fs::rename(&tmp, &latest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("cannot point {} at {}", latest.display(), folder.display()))
    })
}

/// The values in the order given, each once.
fn dedup(values: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    for &v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
