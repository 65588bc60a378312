//! What a trial noticed that makes a figure less than it seems: typed in results.json (a `kind` and
//! its figures), in words in every report.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The page cache kept the files after POSIX_FADV_DONTNEED: the "cold" load was not cold.
    EvictionIneffective { resident_fraction: f64 },
    /// No malloc_trim on this platform: the after-trim figures equal the plain unload.
    NoMallocTrim,
    /// The memory reading of the isolation scenario moved differently from the worker's own memory.
    NoisyMemoryReading { reading: String, moved_mb: f64, worker_mb: f64, worker_kind: String },
    /// The model is too small for the isolation reading to show it.
    FootprintTooSmall,
    /// Models a concurrent trial ran without, because they cannot run here (their own trials say why).
    ModelsLeftOut { models: Vec<String> },
    /// The provider left nodes to the CPU fallback: the figures are of a mix, not of the provider alone.
    PartialPlacement { provider: String, on_provider: usize, total: usize },
    /// The provider took no node at all: every figure is the CPU fallback's.
    NothingPlaced { provider: String, total: usize },
    /// A warning recorded as text by results schema 1.
    Recorded { message: String },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::EvictionIneffective { resident_fraction } => write!(
                f,
                "eviction left {:.0}% of the files resident (the filesystem ignores POSIX_FADV_DONTNEED?): the cold load is not cold",
                resident_fraction * 100.0
            ),
            Warning::NoMallocTrim => {
                f.write_str("malloc_trim is not available on this platform: the after-trim figures equal the plain unload")
            }
            Warning::NoisyMemoryReading { reading, moved_mb, worker_mb, worker_kind } => write!(
                f,
                "{reading} moved {moved_mb:.0} MB while the worker held {worker_mb:.0} MB of {worker_kind} memory: other processes were active, so these figures are noisy"
            ),
            Warning::FootprintTooSmall => f.write_str(
                "memory barely moved while the worker was loaded: the reclamation percentage is not meaningful for so small a model",
            ),
            Warning::ModelsLeftOut { models } => write!(
                f,
                "ran without {}, which cannot run here (their own trials say why): the figures cover the other models only",
                models.join(", ")
            ),
            Warning::PartialPlacement { provider, on_provider, total } => write!(
                f,
                "{provider} ran {on_provider} of {total} nodes; the other {} ran on the CPU fallback, so these figures are of that mix",
                total - on_provider
            ),
            Warning::NothingPlaced { provider, total } => {
                write!(f, "{provider} took none of the {total} nodes: every figure here is the CPU fallback's, not {provider}'s")
            }
            Warning::Recorded { message } => f.write_str(message),
        }
    }
}
