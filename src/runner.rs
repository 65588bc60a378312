//! The parent side of `mora bench`: runs the plan trial by trial, each in a fresh worker, and writes
//! results.json after every trial (atomically), so a crash or Ctrl-C loses nothing finished. It
//! reports progress through events; only the command layer prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::catalog::ModelStatus;
use crate::config::{Config, ModelConfig, Source};
use crate::hub;
use crate::inputs::InputSettings;
use crate::phase::Phase;
use crate::plan::PlannedTrial;
use crate::protocol::{ModelSpec, TrialSpec};
use crate::provider::setup::ProviderSetup;
use crate::results::{self, InputPoint, ModelInfo, Outcome, ResultsFile, RunInfo, Scenario, TrialRecord, TrialSettings, TrialWeights};
use crate::runtime::{Provider, RuntimeLibrary};
use crate::trial::{self, WorkerRun};
use crate::warnings::Warning;

/// Seeds every float input (see `inputs`): the same tensors in every run of mora.
pub(crate) const INPUT_SEED: u64 = 0x6d6f_7261;

pub(crate) enum Event<'a> {
    TrialStarted { index: usize, total: usize, trial: &'a PlannedTrial },
    TrialFinished { record: &'a TrialRecord },
    Note(String),
}

pub(crate) struct Bench<'a> {
    pub config: &'a Config,
    pub models: Vec<&'a ModelConfig>,
    pub setups: Vec<ProviderSetup>,
    pub runtime: RuntimeLibrary,
    pub plan: Vec<PlannedTrial>,
    pub settings: TrialSettings,
    /// Fresh workers per single trial.
    pub workers: usize,
    pub results_path: PathBuf,
}

/// A model ready for workers: where its files are, and how the run describes it.
struct Prepared {
    /// What a worker needs, or why the model cannot run (with the fix).
    spec: Result<ModelSpec>,
    info: ModelInfo,
}

/// What a run produced: its results, and whether results.json could not be written at some point.
pub(crate) struct RunOutcome {
    pub results: ResultsFile,
    pub write_failure: Option<WriteFailure>,
}

/// results.json could not be written (a full disk, a folder made read-only): the run stopped there.
#[derive(Debug)]
pub(crate) struct WriteFailure {
    pub error: String,
    /// Trials in the last results.json that was written whole (`None`: none was).
    pub kept_trials: Option<usize>,
    /// Every finished trial, written to a new file in the temporary folder, or why that failed too.
    pub rescued: Result<PathBuf>,
}

/// Writes results.json after every step; the first failure is kept and ends the run.
struct Store<'a> {
    path: &'a Path,
    written_trials: Option<usize>,
}

impl Store<'_> {
    fn save(&mut self, results: &ResultsFile) -> Result<(), WriteFailure> {
        match results::write_json_atomic(self.path, results) {
            Ok(()) => {
                self.written_trials = Some(results.trials.len());
                Ok(())
            }
            Err(e) => Err(WriteFailure { error: format!("{e:#}"), kept_trials: self.written_trials, rescued: rescue(self.path, results) }),
        }
    }
}

/// Writes what the run holds to a new file in the temporary folder, which is often on another disk.
fn rescue(path: &Path, results: &ResultsFile) -> Result<PathBuf> {
    let run = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    let target = std::env::temp_dir().join(format!("mora-rescued-{run}-{}-results.json", std::process::id()));
    let bytes = serde_json::to_vec_pretty(results).context("cannot serialise results")?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&target).with_context(|| target.display().to_string())?;
    std::io::Write::write_all(&mut file, &bytes).with_context(|| target.display().to_string())?;
    Ok(target)
}

pub(crate) fn run(bench: &Bench, mut results: ResultsFile, on_event: &mut dyn FnMut(Event)) -> RunOutcome {
    let config_dir = bench.config.path.parent().unwrap_or(Path::new("."));
    let prepared: Vec<(String, Prepared)> =
        bench.models.iter().map(|m| (m.id.clone(), prepare(m, bench.config, config_dir, on_event))).collect();
    results.models = prepared.iter().map(|(_, p)| p.info.clone()).collect();
    let mut store = Store { path: &bench.results_path, written_trials: None };
    if let Err(failure) = store.save(&results) {
        return RunOutcome { results, write_failure: Some(failure) };
    }

    let started = std::time::Instant::now();
    let mut stat = None;
    let mut warned_busy = false;
    let mut sample_load = |results: &mut ResultsFile, on_event: &mut dyn FnMut(Event)| {
        let load = crate::probe::system::machine_load(started.elapsed().as_secs_f64(), &mut stat);
        if load.busy() && !warned_busy {
            warned_busy = true;
            let note = format!(
                "the machine was busy (load average {} on {} cores, steal {}%): every figure is suspect; rerun on a quiet machine",
                load.load_1m.map_or("?".into(), |l| format!("{l:.1}")),
                load.cores,
                load.steal_pct.map_or("?".into(), |s| format!("{s:.0}"))
            );
            results.run.notes.push(note.clone());
            on_event(Event::Note(note));
        }
        results.run.machine_load.push(load);
    };
    sample_load(&mut results, on_event);
    let total = bench.plan.len();
    for (index, planned) in bench.plan.iter().enumerate() {
        if crate::supervise::interrupted() {
            break;
        }
        let (planned, left_out) = without_unready_models(planned, &prepared);
        let planned = &planned;
        on_event(Event::TrialStarted { index, total, trial: planned });
        let setup = bench.setups.iter().find(|s| s.provider == planned.provider).expect("a setup for every planned provider");
        let specs: Vec<&Prepared> = planned.models.iter().filter_map(|id| prepared.iter().find(|(m, _)| m == id).map(|(_, p)| p)).collect();
        let mut run = match specs.iter().find_map(|p| p.spec.as_ref().err().map(|e| format!("{e:#}"))) {
            Some(why) => WorkerRun::failed(Outcome::Error { phase: Phase::Preflight, message: why }),
            None => {
                let spec = TrialSpec {
                    trial_id: planned.id(),
                    scenario: planned.scenario,
                    provider: setup.clone(),
                    runtime: bench.runtime.clone(),
                    models: specs.iter().filter_map(|p| p.spec.as_ref().ok().map(|s| at_point(s, planned.point))).collect(),
                    settings: bench.settings.clone(),
                    memory_config: None,
                };
                let timeout = bench.config.defaults.trial_timeout(planned.models.len()) + scenario_time(planned.scenario, &bench.settings);
                match planned.scenario {
                    Scenario::Isolation => crate::scenario::isolation::run(&spec, timeout),
                    Scenario::Single => trial::run_in_fresh_workers(&spec, timeout, bench.workers),
                    Scenario::MemoryLevers => trial::run_memory_levers(&spec, timeout),
                    Scenario::MemoryLimit => crate::scenario::isolation::memory_limit::run(&spec, timeout),
                    _ => trial::run_in_worker(&spec, timeout),
                }
            }
        };
        run.warnings.extend(left_out);
        let record = record(planned, setup, specs.iter().map(|p| &p.info).collect(), run);
        results.trials.push(record);
        sample_load(&mut results, on_event);
        // The last trial goes to disk with the run's end (complete, finished_at, the advice) in one
        // write: once that write is done the run is whole, and nothing written after it (reports,
        // charts, `latest`) can cost a trial.
        let last = index + 1 == total || crate::supervise::interrupted();
        let saved = if last { Ok(()) } else { store.save(&results) };
        on_event(Event::TrialFinished { record: results.trials.last().expect("just pushed") });
        if let Err(failure) = saved {
            return RunOutcome { results, write_failure: Some(failure) };
        }
    }
    let done = results.trials.len() == total && !results.trials.iter().any(|t| matches!(t.outcome, Outcome::Interrupted { .. }));
    if !done && crate::supervise::interrupted() {
        results.run.notes.push(format!("interrupted (Ctrl-C or a signal) with {} of {total} trials recorded", results.trials.len()));
    }
    results.run.complete = done;
    results.run.finished_at = Some(now_rfc3339());
    crate::advice::judge(&mut results);
    let write_failure = store.save(&results).err();
    RunOutcome { results, write_failure }
}

/// Time a scenario spends by design (sleeping through idle gaps, soaking), on top of the trial
/// timeout, which is for the work.
fn scenario_time(scenario: Scenario, settings: &TrialSettings) -> Duration {
    let seconds = match scenario {
        Scenario::Idle => settings.idle_gaps_s.iter().sum::<f64>() * crate::scenario::idle::SAMPLES_PER_GAP as f64,
        Scenario::Soak => settings.soak_s,
        _ => 0.0,
    };
    Duration::from_secs_f64(seconds)
}

/// The model's spec with a sweep point's sizes in place of models.yaml's.
fn at_point(spec: &ModelSpec, point: Option<InputPoint>) -> ModelSpec {
    let mut spec = spec.clone();
    if let Some(p) = point {
        spec.inputs.batch_size = p.batch_size.unwrap_or(spec.inputs.batch_size);
        spec.inputs.sequence_length = p.sequence_length.unwrap_or(spec.inputs.sequence_length);
    }
    spec
}

/// A concurrent or rotation trial loads the models that can run when two or more can: one missing
/// export should not cost the whole scenario. The others fail in their own trials; the warning names
/// them.
fn without_unready_models(planned: &PlannedTrial, prepared: &[(String, Prepared)]) -> (PlannedTrial, Option<Warning>) {
    let ready = |id: &String| prepared.iter().any(|(m, p)| m == id && p.spec.is_ok());
    let (kept, left): (Vec<String>, Vec<String>) = planned.models.iter().cloned().partition(ready);
    if !planned.scenario.spans_models() || left.is_empty() || kept.len() < 2 {
        return (planned.clone(), None);
    }
    (PlannedTrial { models: kept, ..planned.clone() }, Some(Warning::ModelsLeftOut { models: left }))
}

fn record(planned: &PlannedTrial, setup: &ProviderSetup, infos: Vec<&ModelInfo>, run: WorkerRun) -> TrialRecord {
    TrialRecord {
        id: planned.id(),
        models: planned.models.clone(),
        weights: TrialWeights::of(infos.iter().map(|i| i.weights)),
        provider: planned.provider,
        scenario: planned.scenario,
        provider_setup: setup.clone(),
        providers_registered: run.providers_registered,
        outcome: run.outcome,
        worker: run.worker,
        measurements: run.measurements,
        runtime_log: run.runtime_log,
        warnings: run.warnings,
        run: None,
        host: None,
        other_runs: vec![],
        point: planned.point,
    }
}

/// What a worker needs to load `model`, or why it cannot (with the fix), outside a bench run
/// (`mora simulate --replay`).
pub(crate) fn model_spec(model: &ModelConfig, config: &Config) -> Result<ModelSpec> {
    let config_dir = config.path.parent().unwrap_or(Path::new("."));
    prepare(model, config, config_dir, &mut |_| {}).spec
}

/// What a model's inputs are built from: its sizes, shapes, tokenizer and the run's seed.
pub(crate) fn input_settings(model: &ModelConfig, config: &Config, tokenizer: Option<PathBuf>) -> InputSettings {
    InputSettings {
        batch_size: model.batch_size(&config.defaults),
        sequence_length: model.sequence_length(&config.defaults),
        image_size: model.image_size(&config.defaults),
        shapes: model.inputs.clone(),
        tokenizer,
        seed: INPUT_SEED,
        // Your own file without a tokenizer still runs, on seeded ids the inputs say are random.
        random_tokens: matches!(model.source, Source::Local {}) && model.resolved.tokenizer.is_none(),
    }
}

fn prepare(model: &ModelConfig, config: &Config, config_dir: &Path, on_event: &mut dyn FnMut(Event)) -> Prepared {
    let status = ModelStatus::of(model);
    let mut info = status.info(model, config_dir);
    if let Some(note) = &status.weights_note {
        on_event(Event::Note(format!("{}: {note}", model.id)));
    }
    let inputs = |tokenizer: Option<PathBuf>| input_settings(model, config, tokenizer);
    if let Source::Hub { repo, revision, file, files, tokenizer_file } = &model.source {
        let request = hub::HubRequest { repo, revision: revision.as_deref(), file, files, tokenizer_file: tokenizer_file.as_deref() };
        return match hub::fetch(&request) {
            Ok(fetched) => {
                info.path = fetched.files[0].display().to_string();
                info.size_mb = crate::units::mib(fetched.files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum());
                let tokenizer = fetched.tokenizer.clone().or_else(|| model.resolved.tokenizer.clone());
                let spec = ModelSpec {
                    id: model.id.clone(),
                    path: fetched.files[0].clone(),
                    files: fetched.files.clone(),
                    inputs: inputs(tokenizer),
                };
                on_event(Event::Note(format!(
                    "{}: hub cache {}{}",
                    model.id,
                    if fetched.cache_hit { "HIT" } else { "MISS" },
                    fetched.download_ms.map(|ms| format!(", downloaded in {ms:.0} ms")).unwrap_or_default()
                )));
                info.hub = Some(fetched);
                Prepared { spec: Ok(spec), info }
            }
            Err(e) => Prepared { spec: Err(e), info },
        };
    }
    let problems = status.problems(model, config);
    let spec = if let Some(first) = problems.first() {
        Err(anyhow!("{first}"))
    } else {
        Ok(ModelSpec {
            id: model.id.clone(),
            path: model.resolved.model.clone(),
            files: status.files.clone(),
            inputs: inputs(model.resolved.tokenizer.clone()),
        })
    };
    Prepared { spec, info }
}

/// The header of a new results file.
pub(crate) fn new_results(run: RunInfo) -> ResultsFile {
    ResultsFile {
        schema_version: results::SCHEMA_VERSION,
        run,
        models: vec![],
        trials: vec![],
        recommendations: vec![],
        rules_version: crate::advice::RULES_VERSION,
    }
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Creates `results/<timestamp>-<host>/` for a new run: sortable by time, one folder per run, made
/// with mkdir so that two runs started in the same second (or one right after another) never share
/// one: the second gets `-2`, and so on.
pub(crate) fn create_run_folder(out: &Path, host: &str) -> Result<PathBuf> {
    let stamp: String = now_rfc3339().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let host: String = host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for n in 1..=1000 {
        let name = if n == 1 { format!("{stamp}-{host}") } else { format!("{stamp}-{host}-{n}") };
        let folder = out.join(name);
        match std::fs::create_dir(&folder) {
            Ok(()) => return Ok(folder),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create the run folder {}", folder.display())),
        }
    }
    anyhow::bail!("{}: a thousand runs started in the same second; pass another --out", out.display())
}

/// Creates `<out>/<name>/` for a run named by the caller (`--run-name`): with mkdir, so a name that
/// is taken, by a finished run or by one running now, is an error and never a shared folder.
pub(crate) fn create_named_run_folder(out: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let folder = out.join(name);
    match std::fs::create_dir(&folder) {
        Ok(()) => Ok(folder),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            anyhow::bail!("{} exists: a run never writes into another run's folder; pass another --run-name", folder.display())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create the run folder {}", folder.display())),
    }
}

/// Providers in the order they appear in setups, for the plan.
pub(crate) fn providers(setups: &[ProviderSetup]) -> Vec<Provider> {
    setups.iter().map(|s| s.provider).collect()
}
