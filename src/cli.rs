//! The command line (clap derive); `commands` acts on it.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

use crate::config::{ArenaStrategy, ConvAlgoSearch, Suite};
use crate::limits;
use crate::report::Format;
use crate::results::Scenario;

#[derive(Debug, Parser)]
#[command(name = "mora", version, about = "ModelMora's model lifecycle benchmark: how a model server should load, keep and unload models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the benchmark: every (model, provider, scenario) trial in a fresh worker process.
    Bench(BenchArgs),
    /// Re-render one or more results.json files (several are merged; two are also compared).
    Report(ReportArgs),
    /// List the configured models: type, weights, size, whether present, source, how to make one.
    Models(ModelsArgs),
    /// Check the runtime library, its providers, CUDA, NVML and the GPU.
    Doctor(DoctorArgs),
    /// Write a model pre-optimised for one provider (loads faster), with a manifest, and compare loads.
    Optimize(OptimizeArgs),
    /// Which models to keep loaded under a memory budget, simulated from a lifecycle profile (and replayed for real).
    Simulate(SimulateArgs),
    /// The child side of every trial (internal).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model suite.
    #[arg(long, default_value = "models.yaml")]
    pub config: PathBuf,
    /// Execution providers: auto (every one that works here, the rest skipped with the reason), or a
    /// comma-separated list of cpu, cuda, tensorrt, tensorrt-rtx, openvino, webgpu, or a name
    /// `--ep-lib` gives a library for. `mora doctor` shows which run here.
    #[arg(long, default_value = "auto")]
    pub provider: String,
    /// Models by id (comma-separated); default: the suite's.
    #[arg(long, value_delimiter = ',', conflicts_with = "model")]
    pub models: Vec<String>,
    /// Your own ONNX file, benched without a models.yaml (inputs from its graph).
    #[arg(long, value_name = "MODEL.onnx")]
    pub model: Option<PathBuf>,
    /// With --model: its tokenizer.json (without one, text inputs are seeded random token ids).
    #[arg(long, requires = "model")]
    pub tokenizer: Option<PathBuf>,
    /// With --model: its type (default: told from the graph's inputs and outputs).
    #[arg(long = "type", value_enum, requires = "model")]
    pub model_type: Option<crate::inputs::ModelType>,
    /// Which suite when --models is not given.
    #[arg(long, value_enum, default_value = "default")]
    pub suite: Suite,
    /// Scenarios (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "single,cold,leak,isolation,concurrent,rotation")]
    pub scenario: Vec<Scenario>,
    /// Load/unload cycles in the leak scenario after its first (warm-up) cycle; rounds in the rotation scenario.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub cycles: u32,
    /// Idle gaps before a request in the idle scenario, in seconds (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = crate::results::default_idle_gaps(), value_parser = idle_gap)]
    pub idle_gaps: Vec<f64>,
    /// How long the soak scenario runs per model and provider (e.g. 30s, 10m).
    #[arg(long, default_value = "30s", value_parser = soak_duration)]
    pub soak_duration: std::time::Duration,
    /// Batch sizes whose first runs the shapes scenario times (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = crate::results::default_shape_batches(), value_parser = RangedU64ValueParser::<usize>::new().range(limits::BATCH_SIZE))]
    pub shape_batches: Vec<usize>,
    /// Sequence lengths whose first runs the shapes scenario times (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = crate::results::default_shape_sequences(), value_parser = RangedU64ValueParser::<usize>::new().range(limits::SEQUENCE_LENGTH))]
    pub shape_sequences: Vec<usize>,
    /// A sweep: each batch size a trial of its own, labelled in every table (comma-separated; default:
    /// models.yaml's). Advice rests on each model's first size.
    #[arg(long, value_delimiter = ',', value_parser = RangedU64ValueParser::<usize>::new().range(limits::BATCH_SIZE))]
    pub batch_size: Vec<usize>,
    /// A sweep of text inputs' sequence lengths, as --batch-size (with both: every pair).
    #[arg(long, value_delimiter = ',', value_parser = RangedU64ValueParser::<usize>::new().range(limits::SEQUENCE_LENGTH))]
    pub sequence_length: Vec<usize>,
    /// Multiples of the footprint the memory-limit scenario tries as limits (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = crate::results::default_limit_multipliers(), value_parser = limit_multiplier)]
    pub limit_multipliers: Vec<f64>,
    /// Fresh worker processes per single trial: fresh-worker figures (first load, first inference,
    /// spawn-to-ready) vary from process to process and are reported as median and range.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub workers: u32,
    /// Warm loads in the cold scenario.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub repeats: u32,
    /// Warm-up calls after the first inference (default: models.yaml's defaults.warmup_runs).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(limits::WARMUP_RUNS))]
    pub warmup_runs: Option<usize>,
    /// Steady-state calls behind p50/p95/p99 (default: models.yaml's defaults.runs).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(limits::RUNS))]
    pub runs: Option<usize>,
    /// Also write the results (results.json's content) to this file.
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Also write results.csv's content to this file.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// Also write report.md's content to this file.
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// How the terminal tables draw: full (box drawing, emoji), plain (neither, for logs), ascii.
    #[arg(long, value_enum, default_value = "full")]
    pub style: crate::report::table::Style,
    /// Print only the summary at the end (the seed's three answers per provider and one row per
    /// model); the files hold the whole report.
    #[arg(long)]
    pub summary: bool,
    /// Plan memory for N models at once (default: the models benchmarked).
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(limits::PLAN_MODELS))]
    pub plan_models: Option<usize>,
    /// Print the plan (every trial, in order) and exit without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Only failures, notes about the machine and where the results went; no tables.
    #[arg(long, short)]
    pub quiet: bool,
    /// Where run folders go: <out>/<timestamp>-<host>/ (and <out>/latest names the newest).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// The run folder's name under --out instead of <timestamp>-<host>: created by this run alone,
    /// an error if it exists (e.g. a scheduler's task naming its node and array index).
    #[arg(long, value_parser = run_name)]
    pub run_name: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub options: ProviderFlags,
}

/// A provider named in a file mora reads (a profile), known to this mora or not.
fn any_provider(s: &str) -> Result<crate::runtime::Provider, String> {
    if s.trim().is_empty() { Err("a provider's name is empty".into()) } else { Ok(crate::runtime::Provider::named(s)) }
}

/// A run name is one folder name: letters, digits, `.`, `_` and `-`, not starting with `.` (so
/// never `..` or a hidden folder), at most 200 characters; never `latest`, the link to the newest run.
fn run_name(s: &str) -> Result<String, String> {
    if s == "latest" {
        return Err("\"latest\" is the link to the newest run under --out, so it cannot name a run: pick another --run-name".into());
    }
    let ok = !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a run name: use 1 to 200 letters, digits, '.', '_' or '-', not starting with '.'"))
    }
}

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// The ONNX Runtime library (else ORT_DYLIB_PATH, else the project's .venv).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
}

/// Provider options; each overrides the same option in models.yaml's `providers:`.
#[derive(Debug, Args, Default)]
pub struct ProviderFlags {
    /// CUDA device to run on.
    #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(limits::DEVICE_ID))]
    pub device_id: Option<u32>,
    /// Limit of the CUDA memory arena, in MB.
    #[arg(long, value_parser = clap::value_parser!(u64).range(limits::GPU_MEM_LIMIT_MB))]
    pub gpu_mem_limit_mb: Option<u64>,
    /// How the CUDA arena grows.
    #[arg(long, value_enum)]
    pub arena_strategy: Option<ArenaStrategy>,
    /// cuDNN convolution algorithm search.
    #[arg(long, value_enum)]
    pub cudnn_conv_algo_search: Option<ConvAlgoSearch>,
    /// ONNX Runtime's CPU memory arena (on by default, as in ONNX Runtime).
    #[arg(long)]
    pub cpu_arena: Option<bool>,
    /// Intra-op threads per session (default: ONNX Runtime's choice).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(limits::INTRA_THREADS))]
    pub intra_threads: Option<usize>,
    /// A provider's own option, as ONNX Runtime names it: PROVIDER.KEY=VALUE (repeatable), e.g.
    /// openvino.cache_dir=/var/cache/ov or tensorrt.trt_fp16_enable=1. `mora doctor` lists the keys.
    #[arg(long, value_name = "PROVIDER.KEY=VALUE")]
    pub ep_option: Vec<String>,
    /// A plugin provider's library where mora does not find it in .venv, or one mora does not know:
    /// NAME=PATH (repeatable); `--provider NAME` then runs it.
    #[arg(long, value_name = "NAME=PATH")]
    pub ep_lib: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// results.json files (a run folder works too).
    #[arg(required_unless_present = "schema")]
    pub results: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// How the terminal tables draw (with --format table): full, plain (for logs) or ascii.
    #[arg(long, value_enum, default_value = "full")]
    pub style: crate::report::table::Style,
    /// Only the summary: the seed's three answers per provider and one row per model (with --format
    /// table, markdown or html).
    #[arg(long)]
    pub summary: bool,
    /// Plan memory for N models at once (default: the models benchmarked); the advice is judged again.
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(limits::PLAN_MODELS))]
    pub plan_models: Option<usize>,
    /// Also write results.json, report.md, results.csv and charts of the merged results here (a new
    /// folder, or a report's own; never a run's). `mora bench --out` names the parent of run folders.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the reports of one run (report.md, report.html, results.csv, profile.json, charts) into its
    /// own folder again, rendered with today's rules; its results.json is never written.
    #[arg(long, conflicts_with = "out")]
    pub in_place: bool,
    /// With two runs or more: exit 5 when a later run is worse than the first by more than PCT percent
    /// on a figure of the single scenario and a rank test over both runs' workers calls it significant
    /// (for CI pipelines; each run needs 5 workers or more: `mora bench --workers 5`).
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub fail_on_regression: Option<f64>,
    /// Comparing runs: a change of a median smaller than PCT percent is called no change, however
    /// significant.
    #[arg(long, value_name = "PCT", value_parser = percent, default_value_t = crate::report::compare::Rules::DEFAULT.min_effect_pct)]
    pub min_effect: f64,
    /// Print results.json's JSON Schema (schema/results.schema.json) and exit.
    #[arg(long, conflicts_with_all = ["results", "out", "in_place", "fail_on_regression"])]
    pub schema: bool,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[arg(long, default_value = "models.yaml")]
    pub config: PathBuf,
    /// Only check the config: the error (exit 1) when it is not valid, a warning for each model whose
    /// files are missing, nothing when all is well.
    #[arg(long)]
    pub check: bool,
    /// With --check: a missing model file is an error (exit 1), not a warning.
    #[arg(long, requires = "check")]
    pub strict: bool,
    /// Print models.yaml's JSON Schema (schema/models.schema.json) and exit.
    #[arg(long, conflicts_with_all = ["config", "check"])]
    pub schema: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Skip the session checks (each starts a worker and creates a session: a CUDA context, an
    /// OpenVINO compile).
    #[arg(long, alias = "no-session")]
    pub no_cuda_session: bool,
    /// Read the providers' options from this models.yaml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub options: ProviderFlags,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The trial, as JSON.
    #[arg(long, conflicts_with = "probe_cuda")]
    pub spec: Option<String>,
    /// Check CUDA end to end with the library given by --ort-lib.
    #[arg(long, requires = "ort_lib")]
    pub probe_cuda: bool,
    /// Register a provider, list its devices and create a session with the warm-up model: the
    /// setup as JSON, with the run's library given by --ort-lib.
    #[arg(long, requires = "ort_lib", conflicts_with_all = ["spec", "probe_cuda"])]
    pub probe_provider: Option<String>,
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
    /// Replay a simulated plan, read from this file (`mora simulate --replay`).
    #[arg(long, conflicts_with_all = ["spec", "probe_cuda"])]
    pub replay: Option<PathBuf>,
    /// Serve one model to a kill-worker replay: the setup and model as JSON; requests on stdin.
    #[arg(long, conflicts_with_all = ["spec", "probe_cuda", "replay"])]
    pub serve: Option<String>,
    #[command(flatten)]
    pub options: ProviderFlags,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A lifecycle profile: a run folder's profile.json, or `mora report RUN --format profile`.
    #[arg(long)]
    pub profile: PathBuf,
    /// The memory budget in MB: RSS on CPU, VRAM on CUDA.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
    pub budget_mb: u64,
    /// Whose figures: any provider the profile holds (cpu, openvino, cuda...).
    #[arg(long, default_value = "cpu", value_parser = any_provider)]
    pub provider: crate::runtime::Provider,
    /// The host whose figures to use, where the profile holds several.
    #[arg(long)]
    pub host: Option<String>,
    /// A CSV of requests, one `TIME,MODEL` line each, TIME in seconds from the start; an optional first line `time_s,model` (or `time,model`) or `time_ms,model` names the unit, `timestamp,model` reads Unix seconds or RFC 3339 times (an access log's). A file starting with `{` is a JSON trace (schema/trace.schema.json).
    #[arg(long, conflicts_with_all = ["zipf", "requests", "rate"], required_unless_present = "zipf")]
    pub trace: Option<PathBuf>,
    /// Draw the requests instead: Zipf exponent over --models (0 is uniform).
    #[arg(long, requires_all = ["requests", "rate"], value_parser = non_negative)]
    pub zipf: Option<f64>,
    /// The models for --zipf, most requested first (default: the profile's, in its order).
    #[arg(long, value_delimiter = ',', requires = "zipf")]
    pub models: Vec<String>,
    /// How many requests --zipf draws.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub requests: Option<u32>,
    /// Requests per second for --zipf (Poisson arrivals).
    #[arg(long, value_parser = positive)]
    pub rate: Option<f64>,
    /// With --zipf: the rate swings by this share (0 to 1) around --rate over --period-s, as a day's traffic.
    #[arg(long, requires = "zipf", conflicts_with = "bursts", value_parser = share)]
    pub diurnal: Option<f64>,
    /// The period of --diurnal, in seconds (default: a day).
    #[arg(long, default_value_t = 86_400.0, value_parser = positive)]
    pub period_s: f64,
    /// With --zipf: bursts of this many times --rate, --burst-length-s long every --burst-every-s.
    #[arg(long, requires = "zipf", value_parser = at_least_one)]
    pub bursts: Option<f64>,
    #[arg(long, default_value_t = 60.0, value_parser = positive)]
    pub burst_every_s: f64,
    #[arg(long, default_value_t = 5.0, value_parser = positive)]
    pub burst_length_s: f64,
    /// Seeds the drawn trace and the steady-latency draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The policies to compare, eviction orders or model servers' defaults (ollama, ray-serve,
    /// modelmesh, llama-swap, triton-explicit); --replay runs the first.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lru,lfu,size-aware,cost-aware,keep-all,static-top-k")]
    pub policies: Vec<crate::simulate::policy::PolicyName>,
    /// Unload a model this long after its last request (e.g. 0, 10s, 5m, forever), for the eviction
    /// orders in --policies (presets keep their server's).
    #[arg(long, value_parser = keep_alive)]
    pub keep_alive: Option<KeepAlive>,
    /// At most this many models loaded at once, for the eviction orders in --policies.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_models: Option<u32>,
    /// Also simulate these keep-alives (e.g. 0,10s,1m,5m,30m,forever) with the first eviction order
    /// of --policies and --max-models: MB-hours against p99, the presets marked.
    #[arg(long, value_delimiter = ',', value_parser = keep_alive)]
    pub keep_alive_sweep: Vec<KeepAlive>,
    /// How an evicted model goes: dropped in its worker, or its worker killed.
    #[arg(long, value_enum, default_value = "in-process")]
    pub unload: crate::simulate::costs::UnloadMode,
    /// Recommend the policy and budget that keep p99 request latency at or under this.
    #[arg(long, value_parser = positive)]
    pub target_p99_ms: Option<f64>,
    /// A reload of a model evicted within this many seconds of its last use counts as thrash.
    #[arg(long, default_value_t = 60.0, value_parser = positive)]
    pub thrash_window_s: f64,
    /// How much slower a load and an inference run while both do: 1 models no contention; a replay
    /// measures it (its "slowdown during a load").
    #[arg(long, default_value_t = 1.0, value_parser = at_least_one)]
    pub interference: f64,
    /// Also run the first policy's plan for real on this machine (in-process) and compare.
    #[arg(long)]
    pub replay: bool,
    /// Where the replay finds the models.
    #[arg(long, default_value = "models.yaml")]
    pub config: PathBuf,
    /// Write simulate.md, simulate.json, the trace and the charts here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How the terminal tables draw: full (box drawing), plain (none, for logs) or ascii.
    #[arg(long, value_enum, default_value = "full")]
    pub style: crate::report::table::Style,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub options: ProviderFlags,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

fn at_least_one(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 => Ok(v),
        _ => Err(format!("`{s}` is not a factor of 1 or more")),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of 0 or more")),
    }
}

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The model (.onnx; its external data is found beside it).
    pub model: PathBuf,
    /// The provider to optimise for: the result is valid for it and this ONNX Runtime version only.
    #[arg(long, default_value = "cpu")]
    pub provider: crate::runtime::Provider,
    /// Where to write it (.onnx, weights in OUT.data beside it; or .ort for ONNX Runtime's format).
    /// Default: MODEL.optimized-PROVIDER.onnx next to the model.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The model's tokenizer.json, for text models (default: its models.yaml entry's); without one,
    /// seeded random token ids.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Sequence length of token inputs for the output check (default: its models.yaml entry's, else 128).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(limits::SEQUENCE_LENGTH))]
    pub sequence_length: Option<usize>,
    /// Image size of image inputs for the output check (default: its models.yaml entry's, else 224).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(limits::IMAGE_SIZE))]
    pub image_size: Option<usize>,
    /// A models.yaml whose entry for MODEL (same file) gives its input sizes and tokenizer.
    #[arg(long, default_value = "models.yaml")]
    pub config: PathBuf,
    /// Loads of each form to compare (alternating).
    #[arg(long, default_value_t = 5, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub repeats: usize,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub options: ProviderFlags,
}

/// A tolerance in percent: 0 to 1000.
fn percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=1000.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a percentage from 0 to 1000 (e.g. 10 for 10%)")),
    }
}

/// An idle gap in seconds: 0 to an hour.
fn idle_gap(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if (0.0..=3600.0).contains(&v) { Ok(v) } else { Err(format!("{v} s is out of range: use 0 to 3600")) }
}

/// A share: more than 0, at most 1.
fn share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("`{s}`: use a share above 0 and at most 1 (e.g. 0.6)")),
    }
}

/// A keep-alive: how long an idle model stays loaded (`None`: forever).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeepAlive(pub Option<std::time::Duration>);

impl KeepAlive {
    pub fn ms(self) -> Option<f64> {
        self.0.map(|d| d.as_secs_f64() * 1000.0)
    }
}

/// `forever`, or a duration up to a week (a bare number is seconds, as Ollama reads it).
fn keep_alive(s: &str) -> Result<KeepAlive, String> {
    let t = s.trim();
    if t == "forever" {
        return Ok(KeepAlive(None));
    }
    let d = match t.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => std::time::Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("`{s}`: a keep-alive is 0 or more (or `forever`)")),
        Err(_) => humantime::parse_duration(t).map_err(|e| format!("`{s}`: {e} (e.g. 0, 10s, 5m, 1h, forever)"))?,
    };
    if d > std::time::Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("{s} is out of range: use up to 7 days, or `forever`"));
    }
    Ok(KeepAlive(Some(d)))
}

/// A soak duration: humantime ("30s", "10m"), 1 s to 24 h.
fn soak_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 30s, 10m, 1h)"))?;
    if d >= std::time::Duration::from_secs(1) && d <= std::time::Duration::from_secs(24 * 3600) {
        Ok(d)
    } else {
        Err(format!("{s} is out of range: use 1s to 24h"))
    }
}

/// A memory-limit multiplier: 0.1 to 10 times the footprint.
fn limit_multiplier(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.1..=10.0).contains(&v) { Ok(v) } else { Err(format!("{v} is out of range: use 0.1 to 10")) }
}
