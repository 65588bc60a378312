//! The result types written to results.json, and the atomic write after every trial.
//!
//! Units are in the field names (`_ms`, `_mb`; MB = 2^20 bytes). The proof of concept's metric names
//! (`load_time_ms`, `memory_increase_mb`, ...) are kept where they apply, each defined in README's
//! "Results" section; mora's finer figures sit beside them. Raw samples are kept next to summaries.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{ModelType, Weights};
use crate::inputs::InputDescription;
use crate::probe::gpu::GpuInfo;
use crate::probe::{GpuReading, HostInfo, MemorySnapshot, SystemMemory};
use crate::recommendation::Recommendation;
use crate::runtime::providers::ProviderSetup;
use crate::runtime::{Provider, RuntimeLibrary, RuntimeLogLine};
use crate::stats::Summary;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsFile {
    pub schema_version: u32,
    pub run: RunInfo,
    pub models: Vec<ModelInfo>,
    pub trials: Vec<TrialRecord>,
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_commit: Option<String>,
}

impl ToolInfo {
    pub fn current() -> ToolInfo {
        ToolInfo {
            name: "mora".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: option_env!("MORA_GIT_COMMIT").map(str::to_string).filter(|c| !c.is_empty()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub path: String,
    pub sha256: String,
}

/// Whether a provider ran in this run, or why it was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderStatus {
    pub provider: Provider,
    pub ran: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_because: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_libraries: Option<String>,
    /// Which GPU the probes read, or why they read none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub warmup_runs: usize,
    pub runs: usize,
    pub repeats: usize,
    pub cycles: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Single,
    Cold,
    Leak,
    Isolation,
    Concurrent,
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scenario::Single => "single",
            Scenario::Cold => "cold",
            Scenario::Leak => "leak",
            Scenario::Isolation => "isolation",
            Scenario::Concurrent => "concurrent",
        })
    }
}

/// A model as the run saw it: the label `weights` travels into every table and record.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestSummary {
    pub opset: Option<u32>,
    pub exporter: Option<String>,
    pub exported_at: Option<String>,
    pub recipe_sha256: Option<String>,
}

/// One (model, provider, scenario) trial: what ran, how it ended, and what it measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialRecord {
    pub id: String,
    /// The model(s) measured; one except for the concurrent scenario.
    pub models: Vec<String>,
    /// "real", "random" or "mixed" for several models: outputs of random weights are meaningless.
    pub weights: String,
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
    pub warnings: Vec<String>,
}

impl TrialRecord {
    pub fn model(&self) -> &str {
        self.models.first().map(String::as_str).unwrap_or("")
    }
}

/// How a worker ended, decided by mora's intent before reaping (a deliberate kill is not a crash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// The worker reported an error (a model that does not load, a missing file) and exited.
    Error {
        phase: String,
        message: String,
    },
    /// The worker died on its own: an exit code or a signal.
    Crashed {
        phase: String,
        exit_code: Option<i32>,
        signal: Option<i32>,
        signal_name: Option<String>,
        hint: Option<String>,
        stderr_tail: String,
    },
    TimedOut {
        phase: String,
        after_s: f64,
        stderr_tail: String,
    },
    /// Stopped by the user (Ctrl-C) before it finished.
    Interrupted {
        phase: String,
    },
    SpawnFailed {
        message: String,
    },
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    pub fn summary(&self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Error { phase, message } => format!("error in {phase}: {message}"),
            Outcome::Crashed { phase, exit_code, signal_name, hint, .. } => {
                let how = match (exit_code, signal_name) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(sig)) => format!("signal {sig}"),
                    _ => "unknown".into(),
                };
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub pid: Option<u32>,
    pub wall_ms: f64,
    /// The worker's peak RSS as the kernel reports it at reaping (wait4 ru_maxrss): a cross-check.
    pub peak_rss_mb: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "lowercase")]
pub enum Measurements {
    Single(Box<SingleResult>),
    Cold(Box<ColdResult>),
    Leak(Box<LeakResult>),
    Isolation(Box<IsolationResult>),
    Concurrent(Box<ConcurrentResult>),
}

/// Initialising the provider with a tiny model before any real one: time and memory that every worker
/// pays once, reported apart from the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderBaseline {
    /// Environment + provider libraries + (CUDA) context: the tiny model's session creation.
    pub init_ms: f64,
    /// The tiny model's first run (kernel selection, first allocations).
    pub first_run_ms: f64,
    pub before: MemorySnapshot,
    /// After the tiny session was dropped: what the provider keeps for the life of the process.
    pub after: MemorySnapshot,
    pub rss_mb: Option<f64>,
    pub gpu_mb: Option<f64>,
}

/// Scenario `single`: load, first inference, steady state, unload, trim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SingleResult {
    pub provider_baseline: ProviderBaseline,
    pub inputs: Vec<InputDescription>,
    /// Fraction of the model's files in the page cache right before the load (mincore).
    pub resident_fraction_before_load: Option<f64>,
    /// The proof of concept's cache status: the files were (almost) all cached before the load.
    pub cache_hit: Option<bool>,
    pub load_time_ms: f64,
    /// Peak RSS while loading (VmHWM reset before the load): what a memory limit must allow.
    pub peak_rss_during_load_mb: Option<f64>,
    pub first_inference_ms: f64,
    /// The first K calls after the first inference.
    pub warmup_ms: Vec<f64>,
    /// Steady-state samples and their summary (p50 = median).
    pub steady_ms: Vec<f64>,
    pub steady: Option<Summary>,
    pub unload_time_ms: f64,
    pub trim_time_ms: f64,
    pub memory: PhaseMemory,
    pub figures: UnloadFigures,
}

/// Memory at each phase of a load/unload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseMemory {
    /// After the provider baseline, right before the load.
    pub before_load: MemorySnapshot,
    pub after_load: MemorySnapshot,
    /// The footprint is read here: weights mapped lazily are only resident once used.
    pub after_first_inference: MemorySnapshot,
    pub before_unload: MemorySnapshot,
    pub after_unload: MemorySnapshot,
    pub after_trim: MemorySnapshot,
}

/// The proof of concept's load and unload figures, computed from [`PhaseMemory`]. `None` where a
/// reading was missing or the footprint too small to divide by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnloadFigures {
    /// RSS after the first inference minus RSS before the load.
    pub memory_increase_mb: Option<f64>,
    pub memory_increase_anon_mb: Option<f64>,
    pub memory_increase_file_mb: Option<f64>,
    /// GPU memory after the first inference minus before the load (process's own, else the device's).
    pub gpu_memory_increase_mb: Option<f64>,
    /// RSS before the unload minus RSS after it.
    pub memory_reclaimed_mb: Option<f64>,
    /// memory_reclaimed_mb / (RSS before unload - RSS before load) x 100: the share of the model's
    /// footprint, above the provider baseline, that the unload gave back.
    pub reclamation_percentage: Option<f64>,
    pub memory_reclaimed_after_trim_mb: Option<f64>,
    pub reclamation_after_trim_percentage: Option<f64>,
    pub gpu_memory_reclaimed_mb: Option<f64>,
    pub gpu_reclamation_percentage: Option<f64>,
    /// Which GPU reading the GPU figures use: "process" (NVML per-process) or "device" (device delta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_reading: Option<GpuReading>,
}

impl UnloadFigures {
    pub fn from_phases(m: &PhaseMemory) -> UnloadFigures {
        use crate::probe::process::delta;
        use crate::stats::percentage;
        let rss = |s: &MemorySnapshot| s.process.rss_mb;
        let footprint = delta(rss(&m.before_unload), rss(&m.before_load));
        let reclaimed = delta(rss(&m.before_unload), rss(&m.after_unload));
        let reclaimed_trim = delta(rss(&m.before_unload), rss(&m.after_trim));
        let pct = |part: Option<f64>, whole: Option<f64>| match (part, whole) {
            (Some(p), Some(w)) if w > 0.5 => percentage(p, w),
            _ => None,
        };
        let reading = GpuReading::choose([&m.after_load, &m.after_first_inference, &m.before_unload]);
        let gpu = |s: &MemorySnapshot| reading.and_then(|r| r.read(s));
        let gpu_footprint = delta(gpu(&m.before_unload), gpu(&m.before_load));
        let gpu_reclaimed = delta(gpu(&m.before_unload), gpu(&m.after_unload));
        UnloadFigures {
            memory_increase_mb: delta(rss(&m.after_first_inference), rss(&m.before_load)),
            memory_increase_anon_mb: delta(m.after_first_inference.process.rss_anon_mb, m.before_load.process.rss_anon_mb),
            memory_increase_file_mb: delta(m.after_first_inference.process.rss_file_mb, m.before_load.process.rss_file_mb),
            gpu_memory_increase_mb: delta(gpu(&m.after_first_inference), gpu(&m.before_load)),
            memory_reclaimed_mb: reclaimed,
            reclamation_percentage: pct(reclaimed, footprint),
            memory_reclaimed_after_trim_mb: reclaimed_trim,
            reclamation_after_trim_percentage: pct(reclaimed_trim, footprint),
            gpu_memory_reclaimed_mb: gpu_reclaimed,
            gpu_reclamation_percentage: pct(gpu_reclaimed, gpu_footprint),
            gpu_reading: reading,
        }
    }
}

/// One load in the cold/warm scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadSample {
    pub resident_fraction_before: Option<f64>,
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
}

/// Scenario `cold`: a load after evicting the files from the page cache, then warm loads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdResult {
    pub provider_baseline: ProviderBaseline,
    pub files_mb: f64,
    /// Whether eviction left (almost) nothing resident: false on filesystems that ignore it.
    pub eviction_effective: bool,
    pub cold: LoadSample,
    pub warm: Vec<LoadSample>,
    pub warm_load: Option<Summary>,
    pub warm_first_inference: Option<Summary>,
    /// cold load time / median warm load time.
    pub cold_to_warm_ratio: Option<f64>,
}

/// One cycle of the leak scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleSample {
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
    pub unload_time_ms: f64,
    pub after_first_inference: MemorySnapshot,
    pub after_unload: MemorySnapshot,
    pub after_trim: MemorySnapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakVerdict {
    Pass,
    Caution,
    Fail,
}

impl std::fmt::Display for LeakVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LeakVerdict::Pass => "PASS",
            LeakVerdict::Caution => "CAUTION",
            LeakVerdict::Fail => "FAIL",
        })
    }
}

/// Memory after each unload across cycles, for RSS or VRAM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeakSeries {
    pub baseline_mb: f64,
    pub after_unload_mb: Vec<f64>,
    pub after_trim_mb: Vec<f64>,
    /// Last cycle's memory after unload minus the baseline (the proof of concept's "final leak").
    pub net_growth_mb: f64,
    pub net_growth_after_trim_mb: f64,
    /// Least-squares growth per cycle of the memory after unload.
    pub slope_mb_per_cycle: Option<f64>,
    pub slope_after_trim_mb_per_cycle: Option<f64>,
    pub verdict: LeakVerdict,
    /// Which figure the verdict rests on.
    pub verdict_rests_on: String,
}

/// Scenario `leak`: N cycles of load, infer, unload in one process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeakResult {
    pub provider_baseline: ProviderBaseline,
    pub cycles: Vec<CycleSample>,
    /// After the provider baseline and a malloc_trim, before the first cycle.
    pub baseline: MemorySnapshot,
    pub rss: LeakSeries,
    #[serde(default)]
    pub gpu: Option<LeakSeries>,
}

/// Scenario `isolation`: a worker loads and infers; mora kills it and measures from outside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationResult {
    pub spawn_to_ready_ms: f64,
    /// What the worker reported when ready.
    pub worker_provider_baseline: ProviderBaseline,
    pub worker_load_time_ms: f64,
    pub worker_first_inference_ms: f64,
    /// The worker's memory read by mora from /proc/<pid> while loaded.
    pub worker_memory_loaded: MemorySnapshot,
    pub system_before: SystemMemory,
    pub system_loaded: SystemMemory,
    pub system_after_exit: SystemMemory,
    pub kill_to_exit_ms: f64,
    /// What the figures below read: the memory cgroup's anonymous memory where mora can read it,
    /// else system memory in use (MemTotal - MemAvailable).
    pub memory_reading: String,
    /// That reading while loaded minus after exit.
    pub memory_reclaimed_mb: Option<f64>,
    /// memory_reclaimed_mb / (reading while loaded - reading before the spawn) x 100.
    pub reclamation_percentage: Option<f64>,
    #[serde(default)]
    pub gpu_device_before_mb: Option<f64>,
    #[serde(default)]
    pub gpu_device_loaded_mb: Option<f64>,
    #[serde(default)]
    pub gpu_device_after_exit_mb: Option<f64>,
    #[serde(default)]
    pub gpu_memory_reclaimed_mb: Option<f64>,
    #[serde(default)]
    pub gpu_reclamation_percentage: Option<f64>,
}

/// One model within the concurrent scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConcurrentModel {
    pub model: String,
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
}

/// Scenario `concurrent`: K models loaded at once in one process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConcurrentResult {
    pub provider_baseline: ProviderBaseline,
    pub load_wall_ms: f64,
    pub per_model: Vec<ConcurrentModel>,
    pub before: MemorySnapshot,
    pub after_first_inference: MemorySnapshot,
    pub total_increase_mb: Option<f64>,
    pub gpu_total_increase_mb: Option<f64>,
}

/// Writes `value` as pretty JSON to `path` atomically: a temporary file in the same folder, flushed,
/// then renamed over the old one, so a crash or kill never leaves a half-written file.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).context("cannot serialise results")?;
    write_atomic(path, &bytes)
}

/// Writes bytes to `path` atomically (reports, CSV, charts).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    write_synced(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads a results.json, refusing schema versions this mora does not know.
pub fn read(path: &Path) -> Result<ResultsFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(SCHEMA_VERSION)) {
        anyhow::bail!(
            "{}: schema_version {:?} is not one this mora reads ({SCHEMA_VERSION}); re-run `mora bench` or use the mora that wrote it",
            path.display(),
            version
        );
    }
    serde_json::from_value(value).with_context(|| format!("{} does not match results schema {SCHEMA_VERSION}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{GpuMemory, ProcessMemory};

    fn snap(rss: f64, gpu: Option<(Option<f64>, f64)>) -> MemorySnapshot {
        MemorySnapshot {
            process: ProcessMemory { rss_mb: Some(rss), rss_anon_mb: Some(rss / 2.0), rss_file_mb: Some(rss / 2.0), ..Default::default() },
            gpu: gpu.map(|(process_mb, device)| GpuMemory { process_mb, device_used_mb: Some(device) }),
        }
    }

    #[test]
    fn unload_figures_follow_their_definitions() {
        let m = PhaseMemory {
            before_load: snap(100.0, None),
            after_load: snap(180.0, None),
            after_first_inference: snap(200.0, None),
            before_unload: snap(210.0, None),
            after_unload: snap(130.0, None),
            after_trim: snap(105.0, None),
        };
        let f = UnloadFigures::from_phases(&m);
        assert_eq!(f.memory_increase_mb, Some(100.0));
        assert_eq!(f.memory_increase_anon_mb, Some(50.0));
        assert_eq!(f.memory_reclaimed_mb, Some(80.0));
        // 80 of the 110 MB above the provider baseline came back.
        assert!((f.reclamation_percentage.unwrap() - 80.0 / 110.0 * 100.0).abs() < 1e-9);
        assert!((f.reclamation_after_trim_percentage.unwrap() - 105.0 / 110.0 * 100.0).abs() < 1e-9);
        assert_eq!(f.gpu_memory_increase_mb, None);
        assert_eq!(f.gpu_reading, None);
    }

    #[test]
    fn gpu_figures_use_the_process_reading_when_visible_else_the_device() {
        let visible = PhaseMemory {
            before_load: snap(100.0, Some((None, 1000.0))),
            after_load: snap(100.0, Some((Some(500.0), 1500.0))),
            after_first_inference: snap(100.0, Some((Some(600.0), 1600.0))),
            before_unload: snap(100.0, Some((Some(600.0), 1600.0))),
            after_unload: snap(100.0, Some((Some(100.0), 1100.0))),
            after_trim: snap(100.0, Some((Some(100.0), 1100.0))),
        };
        let f = UnloadFigures::from_phases(&visible);
        assert_eq!(f.gpu_reading, Some(GpuReading::Process));
        assert_eq!(f.gpu_memory_increase_mb, Some(600.0));
        assert_eq!(f.gpu_memory_reclaimed_mb, Some(500.0));

        let mut hidden = visible.clone();
        for s in [
            &mut hidden.after_load,
            &mut hidden.after_first_inference,
            &mut hidden.before_unload,
            &mut hidden.after_unload,
            &mut hidden.after_trim,
        ] {
            s.gpu.as_mut().unwrap().process_mb = None;
        }
        let f = UnloadFigures::from_phases(&hidden);
        assert_eq!(f.gpu_reading, Some(GpuReading::Device));
        assert_eq!(f.gpu_memory_increase_mb, Some(600.0));
        assert_eq!(f.gpu_memory_reclaimed_mb, Some(500.0));
        assert!((f.gpu_reclamation_percentage.unwrap() - 500.0 / 600.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn tiny_footprints_give_no_percentage() {
        let s = snap(100.0, None);
        let m = PhaseMemory {
            before_load: s.clone(),
            after_load: s.clone(),
            after_first_inference: s.clone(),
            before_unload: snap(100.1, None),
            after_unload: s.clone(),
            after_trim: s,
        };
        assert_eq!(UnloadFigures::from_phases(&m).reclamation_percentage, None);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        write_json_atomic(&path, &serde_json::json!({"a": 2})).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["a"], 2);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("results.json")]);
    }

    #[test]
    fn reading_an_unknown_schema_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, br#"{"schema_version": 99}"#).unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("schema_version Some(99)"), "{e}");
    }
}
