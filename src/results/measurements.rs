//! What each scenario measured: raw samples and memory snapshots, with the figures derived from them
//! beside them (computed in [`super::derive`], recomputed by `mora report` with the current rules).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::inputs::InputDescription;
use crate::probe::{GpuReading, MemorySnapshot, SystemMemory};
use crate::stats::Summary;

/// Initialising the provider with a tiny model before any real one: time and memory that every worker
/// pays once, reported apart from the model.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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

/// A model's first load in a fresh worker, after the provider baseline: load, first inference,
/// unload, `malloc_trim(0)`. What stays after it is the worker's one-time warm-up (libraries and
/// kernels the tiny warm-up model never touched, caches), which is neither the model's footprint nor
/// a leak.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FirstLoad {
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
    pub before_load: MemorySnapshot,
    pub after_first_inference: MemorySnapshot,
    pub after_unload: MemorySnapshot,
    pub after_trim: MemorySnapshot,
    /// Which provider ran each node, as ONNX Runtime recorded it (absent before results schema 3, or
    /// where the runtime does not record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::provider::placement::NodePlacement>,
}

/// Scenario `single` in one fresh worker: the model's first load in the worker ([`FirstLoad`]), then
/// the measured load in the warmed worker: load, first inference, steady state, unload, trim.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SingleResult {
    pub provider_baseline: ProviderBaseline,
    /// Measured by mora from outside: from starting the worker to the end of the first inference of
    /// its first load, the moment a new worker could answer its first request. `None` in schema 1.
    #[serde(default)]
    pub spawn_to_ready_ms: Option<f64>,
    /// `None` in schema 1, whose single trials measured the first load only.
    #[serde(default)]
    pub first_load: Option<FirstLoad>,
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

/// Scenario `single` over several fresh workers: each worker's record, and the median and spread of
/// every figure across them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SingleTrial {
    /// One per fresh worker, in the order they ran.
    pub workers: Vec<SingleResult>,
    pub summary: SingleSummary,
}

/// The single scenario's figures across its workers (each a [`Summary`]: n, median, min, max...).
/// `first_load_*` and `warmup_*` describe a fresh worker; the others the model in a warmed worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SingleSummary {
    pub spawn_to_ready_ms: Option<Summary>,
    /// The model's first load in a fresh worker (after the provider baseline).
    pub first_load_ms: Option<Summary>,
    pub first_load_first_inference_ms: Option<Summary>,
    /// RSS after the first load's first inference minus before it: the first model's footprint,
    /// warm-up included.
    pub first_load_memory_increase_mb: Option<Summary>,
    pub first_load_gpu_memory_increase_mb: Option<Summary>,
    /// The worker's one-time warm-up: what the first load left behind after unload and trim.
    pub warmup_rss_mb: Option<Summary>,
    pub warmup_gpu_mb: Option<Summary>,
    /// How much longer the first load and its first inference took than the same in a warm worker.
    pub warmup_load_ms: Option<Summary>,
    pub warmup_first_inference_ms: Option<Summary>,
    /// The load in a warmed worker, files cached.
    pub load_time_ms: Option<Summary>,
    pub first_inference_ms: Option<Summary>,
    /// Each worker's steady-state percentiles.
    pub steady_p50_ms: Option<Summary>,
    pub steady_p95_ms: Option<Summary>,
    pub steady_p99_ms: Option<Summary>,
    pub memory_increase_mb: Option<Summary>,
    pub gpu_memory_increase_mb: Option<Summary>,
    /// Peak RSS while loading above the RSS before the load.
    pub load_peak_mb: Option<Summary>,
    pub unload_time_ms: Option<Summary>,
    pub reclamation_percentage: Option<Summary>,
    pub reclamation_after_trim_percentage: Option<Summary>,
    pub gpu_reclamation_percentage: Option<Summary>,
}

/// Memory at each phase of a load/unload.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PhaseMemory {
    /// After the provider baseline (and the first load, from schema 2), right before the load.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnloadFigures {
    /// RSS after the first inference minus RSS before the load.
    pub memory_increase_mb: Option<f64>,
    pub memory_increase_anon_mb: Option<f64>,
    pub memory_increase_file_mb: Option<f64>,
    /// GPU memory after the first inference minus before the load (process's own, else the device's).
    /// On CUDA this is what ONNX Runtime's arena reserved, which grows in steps (see the arena setting).
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

/// One load in the cold/warm scenario.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LoadSample {
    pub resident_fraction_before: Option<f64>,
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
}

/// Scenario `cold`: the model's first load in the worker (its warm-up), then a load after evicting the
/// files from the page cache, then warm loads.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ColdResult {
    pub provider_baseline: ProviderBaseline,
    /// The warm-up load before the eviction, so the cold load pays for the disk and not for the
    /// worker's one-time costs. `None` in schema 1, whose cold load was the worker's first.
    #[serde(default)]
    pub first_load: Option<LoadSample>,
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CycleSample {
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
    pub unload_time_ms: f64,
    pub after_first_inference: MemorySnapshot,
    pub after_unload: MemorySnapshot,
    pub after_trim: MemorySnapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
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

/// Memory after each cycle of a worker's life, for RSS or VRAM. The first cycle is the worker's first
/// load of the model: what it leaves is a one-time cost, reported apart; growth is judged over the
/// cycles after it, which is what a long-running worker sees.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LeakSeries {
    /// Before the first cycle (after the provider baseline and a trim).
    pub baseline_mb: f64,
    pub after_unload_mb: Vec<f64>,
    pub after_trim_mb: Vec<f64>,
    /// Last cycle after unload minus the baseline (the proof of concept's "final leak", one-time
    /// cost included).
    pub net_growth_mb: f64,
    pub net_growth_after_trim_mb: f64,
    /// What the first cycle left behind after trim, above the baseline: the worker's one-time warm-up.
    #[serde(default)]
    pub first_cycle_retained_mb: f64,
    /// Last cycle minus the first, after unload: growth over the cycles after the first.
    #[serde(default)]
    pub growth_mb: f64,
    /// The same after trim. The verdict rests on this.
    #[serde(default)]
    pub growth_after_trim_mb: f64,
    /// Cycles the growth is measured over (all but the first).
    #[serde(default)]
    pub judged_cycles: usize,
    /// Least-squares growth per cycle over the cycles after the first.
    pub slope_mb_per_cycle: Option<f64>,
    pub slope_after_trim_mb_per_cycle: Option<f64>,
    pub verdict: LeakVerdict,
    /// Which figure the verdict rests on.
    pub verdict_rests_on: String,
}

/// Scenario `leak`: a first cycle (the worker's warm-up) and then `--cycles` cycles of load, infer,
/// unload, trim in one process.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LeakResult {
    pub provider_baseline: ProviderBaseline,
    /// Every cycle, the first (warm-up) included.
    pub cycles: Vec<CycleSample>,
    /// After the provider baseline and a malloc_trim, before the first cycle.
    pub baseline: MemorySnapshot,
    pub rss: LeakSeries,
    #[serde(default)]
    pub gpu: Option<LeakSeries>,
}

/// Scenario `isolation`: a worker loads and infers; mora kills it and measures from outside.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ConcurrentModel {
    pub model: String,
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
}

/// Scenario `concurrent`: each model loaded once alone (the worker's warm-up), then all of them at
/// once in one process.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ConcurrentResult {
    pub provider_baseline: ProviderBaseline,
    /// The warm-up: each model loaded, run and unloaded alone, one after the other. Empty in schema 1.
    #[serde(default)]
    pub warmup: Vec<ConcurrentModel>,
    /// Before the warm-up (schema 2).
    #[serde(default)]
    pub before_warmup: Option<MemorySnapshot>,
    pub load_wall_ms: f64,
    pub per_model: Vec<ConcurrentModel>,
    /// Right before the concurrent load (after the warm-up and a trim, from schema 2).
    pub before: MemorySnapshot,
    pub after_first_inference: MemorySnapshot,
    pub total_increase_mb: Option<f64>,
    pub gpu_total_increase_mb: Option<f64>,
    /// What the warm-up left behind (before - before_warmup).
    #[serde(default)]
    pub warmup_retained_mb: Option<f64>,
    #[serde(default)]
    pub gpu_warmup_retained_mb: Option<f64>,
}

/// One load in the rotation scenario: a model loaded, run once, unloaded and trimmed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RotationStep {
    /// 1-based round.
    pub round: usize,
    pub model: String,
    pub load_time_ms: f64,
    pub first_inference_ms: f64,
    pub after_first_inference: MemorySnapshot,
    pub after_trim: MemorySnapshot,
}

/// Scenario `rotation`: one worker loads, runs and unloads every selected model in turn, for several
/// rounds, as a lifecycle manager cycling many models through one worker does. Round 1 shows what
/// each new model adds to the worker for good; the later rounds whether cycling grows memory.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RotationResult {
    pub provider_baseline: ProviderBaseline,
    /// After the provider baseline and a trim, before the first model.
    pub baseline: MemorySnapshot,
    pub steps: Vec<RotationStep>,
    pub rss: Option<RotationSeries>,
    #[serde(default)]
    pub gpu: Option<RotationSeries>,
    /// Per model: its first load and first inference in round 1 against the later rounds' median.
    #[serde(default)]
    pub per_model: Vec<RotationModel>,
}

/// A model's share of what stays in the worker after its first load, in the order models came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelAmount {
    pub model: String,
    pub mb: f64,
}

/// The rotation's memory after each trim, for RSS or VRAM.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RotationSeries {
    pub baseline_mb: f64,
    /// After each step's trim, in order.
    pub after_trim_mb: Vec<f64>,
    /// Round 1: what each model's first load added to the worker for good (after trim, above the
    /// step before it). Near zero after the first model: the one-time cost belongs to the worker;
    /// large for each new model: to its operators and kernels.
    pub first_round_added: Vec<ModelAmount>,
    /// After the last step of each round.
    pub after_round_mb: Vec<f64>,
    /// After the last round minus after the first: growth while the same models keep cycling.
    pub growth_mb: f64,
    pub slope_mb_per_round: Option<f64>,
    pub verdict: LeakVerdict,
}

/// One model's loads in the rotation: the first in the worker against the later ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RotationModel {
    pub model: String,
    pub first_load_ms: f64,
    pub later_load_ms: Option<f64>,
    pub first_inference_ms: f64,
    pub later_first_inference_ms: Option<f64>,
}

/// Scenario `levers`: the load path under each configuration, against the default and the floor.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LeversResult {
    pub provider_baseline: ProviderBaseline,
    /// How fast the hardware can bring the model's bytes in.
    pub floor: crate::levers::floor::Floor,
    /// The time to make the pre-optimised copies (once per runtime version and provider).
    #[serde(default)]
    pub preoptimize_ms: Option<f64>,
    pub levers: Vec<LeverResult>,
    /// The configuration with the fastest first answer whose outputs agree and whose steady p50 is
    /// not worse than the default's beyond noise (derived: [`LeversResult::choose`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<crate::levers::choice::Choice>,
}

/// One configuration's load path.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LeverResult {
    pub lever: crate::levers::Lever,
    pub label: String,
    /// Why the lever could not be tried, where it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Loads in the warmed worker, each followed by its first inference.
    pub load_ms: Option<Summary>,
    pub first_inference_ms: Option<Summary>,
    /// Each load's time to first answer: the load and its own first inference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_answers_ms: Vec<f64>,
    #[serde(default)]
    pub first_answer_ms: Option<Summary>,
    /// Steady-state p50: the median of the sessions' p50s (before the first answers were measured:
    /// over `--runs` calls on the last session).
    pub steady_p50_ms: Option<f64>,
    /// Each session's p50 over `--runs` calls (every load's session, at least three).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steady_p50s_ms: Vec<f64>,
    #[serde(default)]
    pub steady_p50_sessions_ms: Option<Summary>,
    /// The sessions' p50s against the default's, and the loads' first answers against the default's
    /// (derived, judged with noise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_vs_default: Option<crate::levers::choice::Against>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_answer_vs_default: Option<crate::levers::choice::Against>,
    /// Where the weights went: the process's file-backed against anonymous memory after the load and
    /// after the first inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<crate::levers::residence::Residence>,
    /// RSS (and VRAM) after the first inference above before the load, per load.
    pub memory_increase_mb: Option<Summary>,
    #[serde(default)]
    pub gpu_memory_increase_mb: Option<Summary>,
    /// Outputs against the default configuration's on the same inputs (`None` for the default).
    #[serde(default)]
    pub agreement: Option<crate::levers::outputs::Agreement>,
    /// What ONNX Runtime reports back for the options this lever sets: proof they reached it
    /// (session config entries, the thread count after the load, the optimised graph's node count).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Where the timed loads' time went: ONNX Runtime's profiler beside mora's wall time, each phase's
    /// median over the loads above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<crate::levers::breakdown::LoadBreakdown>,
    /// One more load with the session's log read as well: the initialisation split into its phases
    /// and the graph transformers' times (logging costs a little, so this load is not among the timed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_breakdown: Option<crate::levers::breakdown::LoadBreakdown>,
}

impl LeverResult {
    /// A lever that could not be tried, with the reason.
    pub(crate) fn failed(lever: crate::levers::Lever, why: String) -> LeverResult {
        LeverResult {
            label: lever.to_string(),
            lever,
            error: Some(why),
            load_ms: None,
            first_inference_ms: None,
            first_answers_ms: vec![],
            first_answer_ms: None,
            steady_p50_ms: None,
            steady_p50s_ms: vec![],
            steady_p50_sessions_ms: None,
            steady_vs_default: None,
            first_answer_vs_default: None,
            weights: None,
            memory_increase_mb: None,
            gpu_memory_increase_mb: None,
            agreement: None,
            evidence: vec![],
            breakdown: None,
            logged_breakdown: None,
        }
    }
}

/// Scenario `memory-levers`: the same measurements under each memory configuration, each in a worker
/// of its own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MemoryLeversResult {
    pub provider_baseline: ProviderBaseline,
    pub configs: Vec<MemoryConfigResult>,
}

/// What a worker under one memory configuration measured (medians over three of each).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MemoryConfigResult {
    pub config: crate::levers::memory::MemoryConfig,
    pub label: String,
    /// The allocator the worker really ran under, as its symbols showed: proof the preload took.
    pub allocator: Option<crate::probe::Allocator>,
    /// Why the configuration could not be tried, where it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Loads in the warmed worker, files cached, from a trimmed heap.
    pub load_ms: Option<Summary>,
    pub memory_increase_mb: Option<Summary>,
    pub gpu_memory_increase_mb: Option<Summary>,
    /// Of the footprint, what the unload gave back, and what the allocator's own release call gave.
    pub reclaimed_pct: Option<Summary>,
    pub reclaimed_after_trim_pct: Option<Summary>,
    pub gpu_reclaimed_pct: Option<Summary>,
    /// The next load when the previous load's freed memory was kept, and when it was given back.
    pub load_without_trim_ms: Option<Summary>,
    pub load_after_trim_ms: Option<Summary>,
    /// A parked model's reload: from its bytes already in memory.
    pub reload_from_memory_ms: Option<Summary>,
    /// What each extra session of the same model costs, alone and sharing prepacked weights.
    pub replica_extra_mb: Option<Summary>,
    pub replica_extra_shared_mb: Option<Summary>,
    #[serde(default)]
    pub replica_extra_gpu_mb: Option<Summary>,
}

/// Scenario `idle`: the next request after an idle gap, in a warm session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IdleResult {
    pub provider_baseline: ProviderBaseline,
    /// The busy session's steady state, for comparison.
    pub steady: Option<Summary>,
    pub gaps: Vec<IdleGap>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IdleGap {
    pub gap_s: f64,
    /// Each request after the gap.
    pub samples_ms: Vec<f64>,
    pub latency: Option<Summary>,
}

/// Scenario `shapes`: the first run at each new input shape against that shape's steady p50.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ShapesResult {
    pub provider_baseline: ProviderBaseline,
    /// Why no shape was tried (a model whose inputs have no open dimension), where none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    pub shapes: Vec<ShapeRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ShapeRun {
    pub batch_size: usize,
    /// `None` for models without a sequence dimension.
    pub sequence_length: Option<usize>,
    /// `None` where the model could not run at this shape (`error` says why).
    pub first_ms: Option<f64>,
    pub steady: Option<Summary>,
    /// first / steady p50.
    pub first_over_p50: Option<f64>,
    /// Why the model could not run at this shape (e.g. a sequence beyond its position table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Scenario `soak`: memory sampled over time while a worker cycles a model (load, traffic, unload)
/// and then serves it from one resident session; the growth rate by least squares.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SoakResult {
    pub provider_baseline: ProviderBaseline,
    pub cycling: SoakPhase,
    pub resident: SoakPhase,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SoakPhase {
    pub duration_s: f64,
    /// Loads in the cycling phase, inferences in both.
    pub loads: usize,
    pub inferences: usize,
    pub samples: Vec<SoakSample>,
    pub rss: Option<GrowthRate>,
    pub vram: Option<GrowthRate>,
}

impl SoakPhase {
    /// The seconds between the first and the last sample: the span the rate was fit over. Runs made
    /// before a fix of 2026-11-27 recorded the cycling half's `duration_s` with the resident half in it.
    pub fn sampled_s(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(first), Some(last)) => last.at_s - first.at_s,
            _ => 0.0,
        }
    }
}

/// Memory at one moment of a soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakSample {
    /// Seconds since the phase started.
    pub at_s: f64,
    pub rss_mb: Option<f64>,
    pub vram_mb: Option<f64>,
}

/// Memory growth in MB/hour from a least-squares line through the samples, with its standard error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GrowthRate {
    pub mb_per_hour: f64,
    pub stderr_mb_per_hour: f64,
    pub samples: usize,
}

/// Scenario `memory-limit`: the worker run under memory limits at multiples of its measured
/// footprint, to check the seed's "1.5 x footprint" rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MemoryLimitResult {
    pub provider_baseline: ProviderBaseline,
    /// What limits the worker's RAM (a child memory cgroup), or why no limit could be set.
    pub mechanism: RamLimit,
    /// Measured first without a limit: the worker's RSS after the provider baseline and once ready.
    pub baseline_rss_mb: Option<f64>,
    pub ready_rss_mb: Option<f64>,
    /// ready - baseline: the first model's footprint in a fresh worker, its warm-up included.
    pub footprint_mb: Option<f64>,
    /// The unlimited worker's peak RSS (wait4): the load can peak above the settled footprint.
    pub peak_rss_mb: Option<f64>,
    /// What its cgroup was charged after the provider baseline, once ready, and at its peak: the
    /// currency of a memory limit (anonymous memory, page cache it first touched, kernel memory).
    #[serde(default)]
    pub baseline_charge_mb: Option<f64>,
    #[serde(default)]
    pub ready_charge_mb: Option<f64>,
    #[serde(default)]
    pub peak_charge_mb: Option<f64>,
    /// RAM limit = baseline charge + multiplier x the model's charge (ready - baseline).
    pub ram: Vec<LimitAttempt>,
    /// CUDA: VRAM limit (gpu_mem_limit, enforced by ONNX Runtime's arena) = multiplier x the VRAM
    /// the model took above the provider baseline.
    #[serde(default)]
    pub vram_footprint_mb: Option<f64>,
    #[serde(default)]
    pub vram: Vec<LimitAttempt>,
}

/// What limits a worker's RAM in the memory-limit scenario, or why nothing could. Written
/// `{"Ok": ...}` and `{"Err": ...}`, as when it was a `Result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum RamLimit {
    /// The child memory cgroup's limit, in words.
    #[serde(rename = "Ok")]
    Cgroup(String),
    /// Why no cgroup limit could be set here.
    #[serde(rename = "Err")]
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LimitAttempt {
    pub multiplier: f64,
    pub limit_mb: f64,
    pub outcome: LimitOutcome,
    /// The cgroup's highest use (RAM).
    #[serde(default)]
    pub peak_mb: Option<f64>,
    /// How it ended, in words, where it did not survive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LimitOutcome {
    /// Loaded and answered.
    Survived,
    /// The kernel's OOM killer ended it in its cgroup.
    KilledByLimit,
    /// ONNX Runtime's arena refused an allocation past gpu_mem_limit.
    RefusedByArena,
    /// It failed some other way (see detail).
    Failed,
}
