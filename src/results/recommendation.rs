//! The recommendation types: what the advice ([`crate::advice`]) says, in results.json and in every
//! report.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::Provider;

/// How good a figure is, in the proof of concept's four tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Excellent,
    Good,
    Moderate,
    Poor,
}

impl Level {
    pub(crate) fn mark(self) -> &'static str {
        match self {
            Level::Excellent | Level::Good => "✅",
            Level::Moderate => "⚠️",
            Level::Poor => "❌",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Excellent => "excellent",
            Level::Good => "good",
            Level::Moderate => "moderate",
            Level::Poor => "poor",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    LoadingStrategy,
    MemoryManagement,
    LeakDetection,
    ResourcePlanning,
    ColdStart,
    Concurrency,
    WorkerWarmup,
    ModelRotation,
    LoadPath,
    MemoryLevers,
    KeepAlive,
    SoakRate,
    MemoryLimit,
    ShapeWarmup,
    StartupProbe,
    /// Which backend to serve each model with, across the providers that ran it.
    BackendChoice,
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Topic::LoadingStrategy => "Model loading strategy",
            Topic::BackendChoice => "Backend per model",
            Topic::MemoryManagement => "Memory management",
            Topic::LeakDetection => "Leak detection",
            Topic::ResourcePlanning => "Resource planning",
            Topic::ColdStart => "Cold start",
            Topic::Concurrency => "Concurrent models",
            Topic::WorkerWarmup => "Worker warm-up",
            Topic::ModelRotation => "Models in rotation through one worker",
            Topic::LoadPath => "Load path",
            Topic::MemoryLevers => "Memory levers",
            Topic::KeepAlive => "Keep-alive",
            Topic::SoakRate => "Memory growth over time",
            Topic::MemoryLimit => "Memory limits",
            Topic::ShapeWarmup => "Input shapes to warm up",
            Topic::StartupProbe => "Startup probe",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Recommendation {
    pub topic: Topic,
    pub provider: Provider,
    pub level: Level,
    /// The verdict in words, with its headline figure.
    pub verdict: String,
    /// What to do.
    pub action: String,
    /// The measured numbers it rests on, per model.
    pub evidence: Vec<String>,
    /// The headline figures by name, for machines.
    pub figures: BTreeMap<String, f64>,
    /// In a merge of several machines: the machine class whose runs it rests on (docs/fleet.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_class: Option<String>,
    /// The per-model evidence as one small table (the model and the figures used), where the advice
    /// has one: the reports draw it in place of the sentences in `evidence`, which say the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_table: Option<EvidenceTable>,
}

/// A recommendation's evidence as rows: one per model (and memory kind), a header naming the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl EvidenceTable {
    pub(crate) fn new(header: &[&str]) -> EvidenceTable {
        EvidenceTable { header: header.iter().map(|h| h.to_string()).collect(), rows: vec![] }
    }

    /// `None` where no row was added.
    pub(crate) fn some(self) -> Option<EvidenceTable> {
        (!self.rows.is_empty()).then_some(self)
    }
}

impl Recommendation {
    /// What it applies to: the provider, and the machine class where there is one.
    pub(crate) fn scope(&self) -> String {
        match &self.machine_class {
            Some(class) => format!("{} on {class}", self.provider),
            None => self.provider.to_string(),
        }
    }
}
