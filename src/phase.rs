//! The phases of a trial. A worker tells the parent each phase it enters, so that a crash, a timeout
//! or an error is reported as in the last one; `MORA_FAULT` names them too (`crash:cycle`).
//!
//! In results.json and on the wire a phase is the word it always was ("load", "cycle 3",
//! "memory levers"). A word this mora does not know, from an older file or another mora, is kept as
//! written ([`Phase::Other`]): a phase is only ever shown, so reading never fails on one.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Phase {
    /// Before the worker's first phase: reading its trial spec.
    Start,
    /// In the parent, before any worker: the model cannot run (a missing file, a failed download).
    Preflight,
    ProviderInit,
    /// The model's first load in a fresh worker (the worker warm-up), its first inference, its unload.
    FirstLoad,
    FirstLoadInference,
    FirstLoadUnload,
    Load,
    FirstInference,
    SteadyState,
    Unload,
    /// Isolation and memory-limit: the worker is loaded and waits to be measured and killed.
    Ready,
    /// The worker sends its measurements.
    Report,
    /// Scenario cold.
    Evict,
    ColdLoad,
    WarmLoads,
    /// Scenario leak: a load/unload cycle, from 1 (the worker's first load).
    Cycle(usize),
    /// Scenario concurrent: each model alone, then all of them at once.
    Warmup,
    ConcurrentLoad,
    /// Scenario rotation: a model's load in a round, from 1.
    Round {
        round: usize,
        model: String,
    },
    /// Scenario levers: the hardware's floor, the pre-optimised copies, then each lever (its label).
    Floor,
    Preoptimize,
    Lever(String),
    /// Scenario memory-levers: in a worker, then in the parent over all its workers.
    Loads,
    TrimPrice,
    ReloadFromMemory,
    Replicas,
    MemoryLevers,
    /// Scenario idle: the requests after an idle gap.
    Idle {
        gap_s: f64,
    },
    /// Scenario shapes: the first run at a shape; no sequence length for models without one.
    Shape {
        batch_size: usize,
        sequence_length: Option<usize>,
    },
    /// Scenario soak.
    SoakCycling,
    SoakResident,
    /// `mora simulate --replay`'s worker.
    ReadThrough,
    Preload,
    Replay,
    MeasureAgain,
    /// A phase this mora does not know, as written.
    Other(String),
}

/// The phases that are a word alone, each with its word: the one table both ways go through.
const WORDS: &[(Phase, &str)] = &[
    (Phase::Start, "start"),
    (Phase::Preflight, "preflight"),
    (Phase::ProviderInit, "provider_init"),
    (Phase::FirstLoad, "first_load"),
    (Phase::FirstLoadInference, "first_load_inference"),
    (Phase::FirstLoadUnload, "first_load_unload"),
    (Phase::Load, "load"),
    (Phase::FirstInference, "first_inference"),
    (Phase::SteadyState, "steady_state"),
    (Phase::Unload, "unload"),
    (Phase::Ready, "ready"),
    (Phase::Report, "report"),
    (Phase::Evict, "evict"),
    (Phase::ColdLoad, "cold_load"),
    (Phase::WarmLoads, "warm_loads"),
    (Phase::Warmup, "warmup"),
    (Phase::ConcurrentLoad, "concurrent_load"),
    (Phase::Floor, "floor"),
    (Phase::Preoptimize, "preoptimize"),
    (Phase::Loads, "loads"),
    (Phase::TrimPrice, "trim_price"),
    (Phase::ReloadFromMemory, "reload_from_memory"),
    (Phase::Replicas, "replicas"),
    (Phase::MemoryLevers, "memory levers"),
    (Phase::SoakCycling, "soak_cycling"),
    (Phase::SoakResident, "soak_resident"),
    (Phase::ReadThrough, "read_through"),
    (Phase::Preload, "preload"),
    (Phase::Replay, "replay"),
    (Phase::MeasureAgain, "measure_again"),
];

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Cycle(n) => write!(f, "cycle {n}"),
            Phase::Round { round, model } => write!(f, "round {round} {model}"),
            Phase::Lever(label) => write!(f, "lever {label}"),
            Phase::Idle { gap_s } => write!(f, "idle {gap_s} s"),
            Phase::Shape { batch_size, sequence_length: Some(s) } => write!(f, "shape {batch_size}x{s}"),
            Phase::Shape { batch_size, sequence_length: None } => write!(f, "shape {batch_size}x-"),
            Phase::Other(text) => f.write_str(text),
            word => f.write_str(WORDS.iter().find(|(p, _)| p == word).map_or("", |(_, w)| w)),
        }
    }
}

/// Any string, as any string reads; the words this mora writes are its examples.
impl JsonSchema for Phase {
    fn schema_name() -> Cow<'static, str> {
        "Phase".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut examples: Vec<String> = WORDS.iter().map(|(_, w)| w.to_string()).collect();
        examples.extend(["cycle 2", "round 1 gpt2", "lever from file", "idle 5 s", "shape 4x128", "shape 1x-"].map(String::from));
        json_schema!({
            "type": "string",
            "description": "The phase of the trial the worker was in: where it crashed, timed out, failed or was interrupted. One of the words in `examples` (a number, a model id, a lever or a shape in its place), or whatever an older mora wrote.",
            "examples": examples,
        })
    }
}

impl From<String> for Phase {
    fn from(text: String) -> Phase {
        parse(&text).unwrap_or(Phase::Other(text))
    }
}

impl From<Phase> for String {
    fn from(phase: Phase) -> String {
        phase.to_string()
    }
}

/// The phase `text` names, if this mora knows it.
fn parse(text: &str) -> Option<Phase> {
    if let Some((phase, _)) = WORDS.iter().find(|(_, w)| *w == text) {
        return Some(phase.clone());
    }
    let (kind, rest) = text.split_once(' ')?;
    match kind {
        "cycle" => Some(Phase::Cycle(rest.parse().ok()?)),
        "round" => {
            let (round, model) = rest.split_once(' ')?;
            Some(Phase::Round { round: round.parse().ok()?, model: model.to_string() })
        }
        "lever" => Some(Phase::Lever(rest.to_string())),
        "idle" => Some(Phase::Idle { gap_s: rest.strip_suffix(" s")?.parse().ok()? }),
        "shape" => {
            let (batch, sequence) = rest.split_once('x')?;
            let sequence_length = if sequence == "-" { None } else { Some(sequence.parse().ok()?) };
            Some(Phase::Shape { batch_size: batch.parse().ok()?, sequence_length })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_reads_back_as_written() {
        let mut phases: Vec<Phase> = WORDS.iter().map(|(p, _)| p.clone()).collect();
        phases.extend([
            Phase::Cycle(3),
            Phase::Round { round: 2, model: "gpt2".into() },
            Phase::Lever("graph optimisation all".into()),
            Phase::Idle { gap_s: 0.5 },
            Phase::Idle { gap_s: 30.0 },
            Phase::Shape { batch_size: 4, sequence_length: Some(128) },
            Phase::Shape { batch_size: 1, sequence_length: None },
        ]);
        for phase in phases {
            let json = serde_json::to_value(&phase).unwrap();
            assert!(json.is_string(), "{json}");
            assert_eq!(serde_json::from_value::<Phase>(json).unwrap(), phase);
        }
    }

    #[test]
    fn the_words_are_the_ones_results_files_hold() {
        let words = |p: Phase| p.to_string();
        assert_eq!(words(Phase::FirstLoadInference), "first_load_inference");
        assert_eq!(words(Phase::MemoryLevers), "memory levers");
        assert_eq!(words(Phase::Cycle(2)), "cycle 2");
        assert_eq!(words(Phase::Round { round: 1, model: "vit-s".into() }), "round 1 vit-s");
        assert_eq!(words(Phase::Idle { gap_s: 0.0 }), "idle 0 s");
        assert_eq!(words(Phase::Shape { batch_size: 1, sequence_length: Some(32) }), "shape 1x32");
        assert_eq!(words(Phase::Shape { batch_size: 1, sequence_length: None }), "shape 1x-");
    }

    #[test]
    fn an_unknown_phase_is_kept_as_written() {
        for text in ["", "ok", "cycle", "cycle x", "idle 5", "shape 1", "round 1", "some_new_phase"] {
            let phase: Phase = serde_json::from_value(text.into()).unwrap();
            assert_eq!(phase, Phase::Other(text.into()));
            assert_eq!(phase.to_string(), text);
        }
    }
}
