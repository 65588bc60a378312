//! The results schema written to results.json: the run, its models, its trials and the advice.
//!
//! Units are in the field names (`_ms`, `_mb`; MB = 2^20 bytes). The proof of concept's metric names
//! (`load_time_ms`, `memory_increase_mb`, ...) are kept where they apply, each defined in docs/output.md's
//! "results.json" section; mora's finer figures sit beside them. Raw samples are kept next to summaries.
//! What each scenario measured is in [`measurements`], the figures derived from raw samples in
//! [`derive`], the recommendations the advice writes in [`recommendation`], reading and writing files
//! (and reading schema 1) in [`store`].

pub mod derive;
pub mod heap;
pub mod measurements;
pub mod recommendation;
mod schema;
pub mod store;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) use measurements::*;
pub(crate) use schema::results_schema;
pub use store::{read, write_atomic, write_json_atomic};

use crate::config::Weights;
use crate::inputs::ModelType;
use crate::phase::Phase;
use crate::probe::HostInfo;
use crate::probe::gpu::GpuInfo;
use crate::provider::setup::ProviderSetup;
use crate::runtime::{Provider, RuntimeLibrary, RuntimeLogLine};
use recommendation::Recommendation;

/// Schema 2 added fresh workers (`single.workers`), the first load in every worker, the rotation
/// scenario and the rules version; `mora report` still reads schema 1 (see [`store`]).
pub(crate) const SCHEMA_VERSION: u32 = 3;

/// A run's results.json, results schema 2: the run, its models, its trials and the advice. Units are
/// in the field names (`_ms`, `_mb`; MB = 2^20 bytes). A results.json of schema 1 (mora 0.1) does not
/// validate against this schema: `mora report` reads it by bringing it to schema 2 first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "mora results.json")]
pub struct ResultsFile {
    #[schemars(schema_with = "schema::version")]
    pub schema_version: u32,
    pub run: RunInfo,
    pub models: Vec<ModelInfo>,
    pub trials: Vec<TrialRecord>,
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    /// The version of the rules that judged the verdicts and advice in this file (`mora report` judges
    /// again with its own); schema 1 files were judged by rules 1.
    #[serde(default = "rules_v1")]
    pub rules_version: u32,
}

fn rules_v1() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    pub tool: ToolInfo,
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// True once every planned trial has a record; false in a file written mid-run or interrupted.
    #[serde(default)]
    pub complete: bool,
    pub command_line: Vec<String>,
    pub host: HostInfo,
    #[serde(default)]
    pub gpus: Vec<GpuInfo>,
    pub runtime: RuntimeLibrary,
    pub config: ConfigInfo,
    pub providers: Vec<ProviderStatus>,
    pub scenarios: Vec<Scenario>,
    pub settings: RunSettings,
    #[serde(default)]
    pub notes: Vec<String>,
    /// The machine's load sampled before the first trial and after each one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_load: Vec<crate::probe::system::MachineLoad>,
    /// The runs a `mora report` merged into this file (their folder names); empty for a run itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// In a merge: the hosts its runs were made on (every trial names its own in `host`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<RunHost>,
    /// In a merge: runs that ended without results (a fleet task that failed before or instead of
    /// `mora bench`), from their `failed.json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_runs: Vec<FailedRun>,
}

/// One machine of a merge: its label (the host name, with the machine class where two machines of
/// the merge share a name), its machine class, its facts and the runs made on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunHost {
    pub label: String,
    pub machine_class: String,
    pub host: HostInfo,
    #[serde(default)]
    pub gpus: Vec<GpuInfo>,
    pub runtime_version: String,
    pub runs: Vec<String>,
}

/// A run that has no results: what a fleet task writes as `failed.json` in its run folder when it
/// could not run `mora bench` or `mora bench` stopped before the run (docs/fleet.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedRun {
    /// The run's folder name.
    #[serde(default)]
    pub run: String,
    #[serde(default)]
    pub host: Option<String>,
    /// The scheduler's name for the task, e.g. "slurm 12_1" or "kubernetes mora-cpu index 1".
    #[serde(default)]
    pub job: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why, in the task's words: the last lines of what failed.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_commit: Option<String>,
}

impl ToolInfo {
    pub(crate) fn current() -> ToolInfo {
        ToolInfo {
            name: "mora".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: option_env!("MORA_GIT_COMMIT").map(str::to_string).filter(|c| !c.is_empty()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ConfigInfo {
    pub path: String,
    pub sha256: String,
}

/// Whether a provider ran in this run, or why it was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderStatus {
    pub provider: Provider,
    pub ran: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_because: Option<String>,
    /// Where its libraries came from (the plugin or runtime build used, CUDA's libraries), and notes.
    #[serde(default, alias = "cuda_libraries", skip_serializing_if = "Option::is_none")]
    pub libraries: Option<String>,
    /// Which GPU the probes read, or why they read none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrialSettings {
    pub warmup_runs: usize,
    pub runs: usize,
    /// Warm loads in the cold scenario.
    pub repeats: usize,
    /// Load/unload cycles in the leak scenario.
    pub cycles: usize,
    /// Idle gaps before a request, in seconds (scenario idle).
    #[serde(default = "default_idle_gaps")]
    pub idle_gaps_s: Vec<f64>,
    /// How long the soak scenario runs, in seconds (half cycling, half resident).
    #[serde(default = "default_soak_s")]
    pub soak_s: f64,
    /// Batch sizes and sequence lengths whose first runs the shapes scenario times.
    #[serde(default = "default_shape_batches")]
    pub shape_batches: Vec<usize>,
    #[serde(default = "default_shape_sequences")]
    pub shape_sequences: Vec<usize>,
    /// Multiples of the footprint the memory-limit scenario tries (the seed's rule is 1.5).
    #[serde(default = "default_limit_multipliers")]
    pub limit_multipliers: Vec<f64>,
}

pub(crate) fn default_limit_multipliers() -> Vec<f64> {
    vec![1.1, 1.25, 1.5, 2.0]
}

pub(crate) fn default_idle_gaps() -> Vec<f64> {
    vec![0.0, 1.0, 5.0, 30.0]
}

pub(crate) fn default_soak_s() -> f64 {
    30.0
}

pub(crate) fn default_shape_batches() -> Vec<usize> {
    vec![1, 4]
}

pub(crate) fn default_shape_sequences() -> Vec<usize> {
    vec![32, 128, 512]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSettings {
    /// What every worker was told (runs, repeats, cycles, idle gaps, soak, shapes).
    #[serde(flatten)]
    pub trial: TrialSettings,
    /// Fresh workers per single trial (schema 1: one).
    #[serde(default = "one")]
    pub workers: usize,
    /// How many models the concurrent plan is for (`--plan-models`); absent: the models benchmarked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_models: Option<usize>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    Single,
    Cold,
    Leak,
    Isolation,
    Concurrent,
    Rotation,
    /// The load path under each configuration of ONNX Runtime (not in the default suite).
    Levers,
    /// What stays after an unload under each memory configuration (not in the default suite).
    MemoryLevers,
    /// The next request after idle gaps (not in the default suite: it sleeps).
    Idle,
    /// The first run at each new input shape (not in the default suite).
    Shapes,
    /// Memory over time, cycling and resident (not in the default suite: it runs --soak-duration).
    Soak,
    /// The worker under memory limits at multiples of its footprint (not in the default suite).
    MemoryLimit,
}

impl Scenario {
    /// Whether one trial covers every selected model (in one worker) rather than one model.
    pub(crate) fn spans_models(self) -> bool {
        matches!(self, Scenario::Concurrent | Scenario::Rotation)
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scenario::Single => "single",
            Scenario::Cold => "cold",
            Scenario::Leak => "leak",
            Scenario::Isolation => "isolation",
            Scenario::Concurrent => "concurrent",
            Scenario::Rotation => "rotation",
            Scenario::Levers => "levers",
            Scenario::MemoryLevers => "memory-levers",
            Scenario::Idle => "idle",
            Scenario::Shapes => "shapes",
            Scenario::Soak => "soak",
            Scenario::MemoryLimit => "memory-limit",
        })
    }
}

/// A model as the run saw it: the label `weights` travels into every table and record.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelInfo {
    pub id: String,
    #[serde(rename = "type")]
    pub model_type: ModelType,
    pub weights: Weights,
    #[serde(default)]
    pub about: Option<String>,
    pub source: String,
    pub path: String,
    pub files: Vec<FileInfo>,
    pub size_mb: f64,
    /// From the exporter's manifest.json, when there is one.
    #[serde(default)]
    pub manifest: Option<ManifestSummary>,
    /// For models fetched from a Hugging Face Hub repository: cache hit or miss, download time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<crate::hub::HubFetch>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FileInfo {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ManifestSummary {
    pub opset: Option<u32>,
    pub exporter: Option<String>,
    pub exported_at: Option<String>,
    pub recipe_sha256: Option<String>,
}

/// One (model, provider, scenario) trial: what ran, how it ended, and what it measured.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TrialRecord {
    pub id: String,
    /// The model(s) measured; one except for the concurrent scenario.
    pub models: Vec<String>,
    /// The model's weights, or mixed for several models whose weights differ: outputs of random
    /// weights are meaningless.
    pub weights: TrialWeights,
    pub provider: Provider,
    pub scenario: Scenario,
    pub provider_setup: ProviderSetup,
    /// The execution providers the sessions actually registered, in order.
    pub providers_registered: Vec<String>,
    pub outcome: Outcome,
    pub worker: WorkerInfo,
    #[serde(default)]
    pub measurements: Option<Measurements>,
    /// ONNX Runtime's own warnings while the trial ran (e.g. nodes placed on CPU under CUDA).
    #[serde(default)]
    pub runtime_log: Vec<RuntimeLogLine>,
    #[serde(default)]
    pub warnings: Vec<crate::warnings::Warning>,
    /// In a sweep (`--batch-size`, `--sequence-length`): the sizes this trial's inputs had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<InputPoint>,
    /// In a merge: the run this record comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// In a merge: the host this record comes from (a label in `run.hosts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// In a merge: how the same trial ended in the other runs that held it, where this record won.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_runs: Vec<OtherRun>,
}

/// A trial's weights: its models' weights (`real`, `random`, `unknown`) where they all agree, else
/// `mixed` (a concurrent or rotation trial of real and random models). Outputs of random weights are
/// meaningless; their load times and memory are representative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TrialWeights {
    Real,
    Random,
    Unknown,
    Mixed,
}

impl TrialWeights {
    /// The weights of a trial of these models.
    pub(crate) fn of(models: impl IntoIterator<Item = Weights>) -> TrialWeights {
        let mut models = models.into_iter();
        let Some(first) = models.next() else { return TrialWeights::Mixed };
        if models.all(|w| w == first) { first.into() } else { TrialWeights::Mixed }
    }

    pub(crate) fn is_random(self) -> bool {
        self == TrialWeights::Random
    }
}

impl From<Weights> for TrialWeights {
    fn from(w: Weights) -> TrialWeights {
        match w {
            Weights::Real => TrialWeights::Real,
            Weights::Random => TrialWeights::Random,
            Weights::Unknown => TrialWeights::Unknown,
        }
    }
}

impl std::fmt::Display for TrialWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrialWeights::Real => Weights::Real.fmt(f),
            TrialWeights::Random => Weights::Random.fmt(f),
            TrialWeights::Unknown => Weights::Unknown.fmt(f),
            TrialWeights::Mixed => f.write_str("mixed"),
        }
    }
}

/// The same trial in another merged run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OtherRun {
    pub run: String,
    pub outcome: Outcome,
}

impl TrialRecord {
    pub(crate) fn model(&self) -> &str {
        self.models.first().map(String::as_str).unwrap_or("")
    }

    /// The model as tables name it: "gpt2", or in a sweep "gpt2 (batch 8, seq 512)".
    pub(crate) fn model_label(&self) -> String {
        match &self.point {
            Some(p) => format!("{} ({p})", self.model()),
            None => self.model().to_string(),
        }
    }
}

/// The input sizes one trial of a sweep ran with; a size left `None` is models.yaml's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub struct InputPoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_length: Option<usize>,
}

impl InputPoint {
    /// "@b8s512": how the point shows in a trial's id.
    pub(crate) fn id_suffix(&self) -> String {
        let b = self.batch_size.map(|b| format!("b{b}")).unwrap_or_default();
        let s = self.sequence_length.map(|s| format!("s{s}")).unwrap_or_default();
        format!("@{b}{s}")
    }
}

impl std::fmt::Display for InputPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [self.batch_size.map(|b| format!("batch {b}")), self.sequence_length.map(|s| format!("seq {s}"))]
            .into_iter()
            .flatten()
            .collect();
        f.write_str(&parts.join(", "))
    }
}

impl ResultsFile {
    /// The run with, for each model, only the trials at the first point of a sweep: advice and the
    /// profile rest on one size per model (the tables show every point). Unchanged without a sweep.
    pub(crate) fn at_first_points(&self) -> std::borrow::Cow<'_, ResultsFile> {
        if self.trials.iter().all(|t| t.point.is_none()) {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut first: Vec<(String, Option<InputPoint>)> = Vec::new();
        for t in &self.trials {
            let models = t.models.join("+");
            if !first.iter().any(|(m, _)| *m == models) {
                first.push((models, t.point));
            }
        }
        let mut kept = self.clone();
        kept.trials.retain(|t| first.iter().any(|(m, p)| *m == t.models.join("+") && *p == t.point));
        std::borrow::Cow::Owned(kept)
    }
}

/// How a worker ended, decided by mora's intent before reaping (a deliberate kill is not a crash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// The worker reported an error (a model that does not load, a missing file) and exited.
    Error {
        phase: Phase,
        message: String,
    },
    /// The worker died on its own: an exit code or a signal.
    Crashed {
        phase: Phase,
        termination: Termination,
        hint: Option<String>,
        stderr_tail: String,
    },
    TimedOut {
        phase: Phase,
        after_s: f64,
        stderr_tail: String,
    },
    /// Stopped by the user (Ctrl-C) before it finished.
    Interrupted {
        phase: Phase,
    },
    SpawnFailed {
        message: String,
    },
}

/// How a process ended: an exit code or a signal, never both (nextest's FailureStatus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Termination {
    ExitCode {
        code: i32,
    },
    Signal {
        number: i32,
        name: String,
    },
    /// Reaping failed, so the kernel did not say.
    Unknown,
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Termination::ExitCode { code } => write!(f, "exit code {code}"),
            Termination::Signal { name, .. } => write!(f, "killed by {name}"),
            Termination::Unknown => f.write_str("ended, how unknown"),
        }
    }
}

impl Outcome {
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    pub(crate) fn summary(&self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Error { phase, message } => format!("error in {phase}: {message}"),
            Outcome::Crashed { phase, termination, hint, .. } => {
                let how = termination.to_string();
                match hint {
                    Some(h) => format!("crashed in {phase} ({how}; {h})"),
                    None => format!("crashed in {phase} ({how})"),
                }
            }
            Outcome::TimedOut { phase, after_s, .. } => format!("timed out in {phase} after {after_s:.0} s"),
            Outcome::Interrupted { phase } => format!("interrupted in {phase}"),
            Outcome::SpawnFailed { message } => format!("could not start the worker: {message}"),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct WorkerInfo {
    /// The (first) worker's pid.
    pub pid: Option<u32>,
    /// Wall time of all the trial's workers together.
    pub wall_ms: f64,
    /// The highest peak RSS of the trial's workers as the kernel reports it at reaping (wait4
    /// ru_maxrss): a cross-check.
    pub peak_rss_mb: Option<f64>,
    /// How many worker processes the trial ran (the single scenario runs `--workers` fresh ones).
    #[serde(default = "one")]
    pub count: usize,
}

impl WorkerInfo {
    /// Counts another worker of the same trial: its time added, the highest peak kept.
    pub(crate) fn absorb(&mut self, other: &WorkerInfo) {
        self.wall_ms += other.wall_ms;
        self.count += other.count;
        self.peak_rss_mb = match (self.peak_rss_mb, other.peak_rss_mb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "scenario", rename_all = "kebab-case")]
pub enum Measurements {
    Single(Box<SingleTrial>),
    Cold(Box<ColdResult>),
    Leak(Box<LeakResult>),
    Isolation(Box<IsolationResult>),
    Concurrent(Box<ConcurrentResult>),
    Rotation(Box<RotationResult>),
    Levers(Box<LeversResult>),
    MemoryLevers(Box<MemoryLeversResult>),
    Idle(Box<IdleResult>),
    Shapes(Box<ShapesResult>),
    Soak(Box<SoakResult>),
    MemoryLimit(Box<MemoryLimitResult>),
}

impl Measurements {
    /// The provider baseline of the (first) worker behind these measurements.
    pub(crate) fn provider_baseline(&self) -> Option<&ProviderBaseline> {
        match self {
            Measurements::Single(m) => m.workers.first().map(|w| &w.provider_baseline),
            Measurements::Cold(m) => Some(&m.provider_baseline),
            Measurements::Leak(m) => Some(&m.provider_baseline),
            Measurements::Isolation(m) => Some(&m.worker_provider_baseline),
            Measurements::Concurrent(m) => Some(&m.provider_baseline),
            Measurements::Rotation(m) => Some(&m.provider_baseline),
            Measurements::Levers(m) => Some(&m.provider_baseline),
            Measurements::MemoryLevers(m) => Some(&m.provider_baseline),
            Measurements::Idle(m) => Some(&m.provider_baseline),
            Measurements::Shapes(m) => Some(&m.provider_baseline),
            Measurements::Soak(m) => Some(&m.provider_baseline),
            Measurements::MemoryLimit(m) => Some(&m.provider_baseline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trials_weights_are_its_models_or_mixed() {
        assert_eq!(TrialWeights::of([Weights::Random]), TrialWeights::Random);
        assert_eq!(TrialWeights::of([Weights::Real, Weights::Real]), TrialWeights::Real);
        assert_eq!(TrialWeights::of([Weights::Real, Weights::Random, Weights::Real]), TrialWeights::Mixed);
        assert_eq!(TrialWeights::of([Weights::Unknown]), TrialWeights::Unknown);
        // The same strings as the config's, and "mixed".
        for (w, text) in [
            (TrialWeights::Real, "real"),
            (TrialWeights::Random, "random"),
            (TrialWeights::Unknown, "unknown"),
            (TrialWeights::Mixed, "mixed"),
        ] {
            assert_eq!(serde_json::to_value(w).unwrap(), text);
            assert_eq!(w.to_string(), text);
            assert_eq!(serde_json::from_value::<TrialWeights>(text.into()).unwrap(), w);
        }
    }
}
