//! Where a load's time goes: ONNX Runtime's own profiler (its session events: the model's parse,
//! `model_loading_uri` or `model_loading_array`, and `session_initialization`) beside mora's wall
//! time, the remainder shown as a phase of its own; and, from the session's INFO log lines stamped on
//! arrival, the initialisation split into graph optimisation, saving the initializers, and creating
//! the kernels with their pre-packed weights, with the time of each graph transformer.

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::stats::median;

/// One phase of a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoadPhase {
    /// The profiler's start (the session's construction: options, thread pools) to the model's parse.
    SessionSetup,
    /// Reading and parsing the model (profiler: `model_loading_uri` / `model_loading_array`, to the
    /// initialisation's start).
    ModelParse,
    /// Setup and parse as one, where the profiler wrote no model-loading event (it does not for
    /// every model): the profiler's start to the initialisation's.
    SetupAndParse,
    /// The session's initialisation as one (profiler: `session_initialization`), where the log did
    /// not split it.
    Initialization,
    /// Log "Initializing session." to "Saving initialized tensors.": graph transformers,
    /// partitioning, layout, the allocation plan.
    GraphOptimization,
    /// Log "Saving initialized tensors." to "Done saving initialized tensors": weights copied or
    /// mapped into the session.
    InitializerSaving,
    /// Log "Done saving initialized tensors" to "Session successfully initialized.": kernels created
    /// and their weights pre-packed.
    KernelsAndPrepacking,
    /// The profiler's initialisation less the three phases the log shows.
    OtherInitialization,
    /// mora's wall time less everything the profiler covers: the session builder, the provider's
    /// registration, ort's own work after the session is made. Never hidden.
    Remainder,
}

impl LoadPhase {
    pub(crate) fn label(self) -> &'static str {
        match self {
            LoadPhase::SessionSetup => "session setup",
            LoadPhase::ModelParse => "model parse",
            LoadPhase::SetupAndParse => "setup and parse",
            LoadPhase::Initialization => "initialisation",
            LoadPhase::GraphOptimization => "graph optimisation",
            LoadPhase::InitializerSaving => "saving initializers",
            LoadPhase::KernelsAndPrepacking => "kernels and prepacking",
            LoadPhase::OtherInitialization => "other initialisation",
            LoadPhase::Remainder => "unexplained remainder",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseTime {
    pub phase: LoadPhase,
    pub ms: f64,
}

/// A graph transformer's time in one load: the time from the log line before it (the previous
/// transformer's, or the start of initialisation) to its own, summed over every pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TransformerTime {
    pub name: String,
    pub ms: f64,
    /// Passes in which it ran, and in how many it changed the graph.
    pub passes: u32,
    pub modified: u32,
}

/// A load's time by phase; the phases (with the remainder) add up to `wall_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadBreakdown {
    /// mora's own clock around the load.
    pub wall_ms: f64,
    pub phases: Vec<PhaseTime>,
    /// Largest first; only where the session's log was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformers: Vec<TransformerTime>,
}

/// What the profiler's trace says, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profiled {
    /// `None` where the trace has no model-loading event: then `parse_ms` is setup and parse.
    pub setup_ms: Option<f64>,
    pub parse_ms: f64,
    pub initialization_ms: f64,
}

/// Reads the session events of ONNX Runtime's profiler trace (a JSON array of events, `ts` and `dur`
/// in microseconds from the profiler's start).
pub(crate) fn parse_profile(trace: &str) -> Result<Profiled> {
    let events: Vec<serde_json::Value> = serde_json::from_str(trace).context("ONNX Runtime's profile is not a JSON array of events")?;
    let find = |names: &[&str]| {
        events.iter().find(|e| e["cat"] == "Session" && e["name"].as_str().is_some_and(|n| names.contains(&n))).map(|e| {
            let us = |k: &str| e[k].as_f64().unwrap_or(0.0);
            (us("ts") / 1000.0, us("dur") / 1000.0)
        })
    };
    let seen = || {
        let names: Vec<String> = events.iter().take(8).map(|e| format!("{}/{}", e["cat"], e["name"])).collect();
        if names.is_empty() { "no events".to_string() } else { format!("events {}", names.join(", ")) }
    };
    let Some((init_at, initialization_ms)) = find(&["session_initialization"]) else {
        bail!("ONNX Runtime's profile has no session_initialization event ({})", seen())
    };
    // The parse runs from its event's start to the initialisation's (the gap between is the load's).
    Ok(match find(&["model_loading_uri", "model_loading_array", "model_loading_from_saved_proto"]) {
        Some((parse_at, _)) => Profiled { setup_ms: Some(parse_at), parse_ms: init_at - parse_at, initialization_ms },
        None => Profiled { setup_ms: None, parse_ms: init_at, initialization_ms },
    })
}

/// The initialisation split by the session's log lines (ms after the load began, as they arrived):
/// its phases and the graph transformers' times, or `None` where the marks are missing.
pub(crate) fn split_initialization(marks: &[(f64, String)]) -> Option<(Vec<PhaseTime>, Vec<TransformerTime>)> {
    let at = |text: &str| marks.iter().find(|(_, m)| m.starts_with(text)).map(|(t, _)| *t);
    let start = at("Initializing session.")?;
    let saving = at("Saving initialized tensors.")?;
    let saved = at("Done saving initialized tensors")?;
    let done = at("Session successfully initialized.")?;
    let phases = vec![
        PhaseTime { phase: LoadPhase::GraphOptimization, ms: saving - start },
        PhaseTime { phase: LoadPhase::InitializerSaving, ms: saved - saving },
        PhaseTime { phase: LoadPhase::KernelsAndPrepacking, ms: done - saved },
    ];
    let mut transformers: Vec<TransformerTime> = Vec::new();
    let mut previous = start;
    for (t, message) in marks.iter().filter(|(t, _)| *t >= start && *t <= saving) {
        if message.starts_with("Running graph optimizations") {
            previous = *t;
        }
        let Some(rest) = message.strip_prefix("GraphTransformer ") else { continue };
        let name = rest.split_whitespace().next().unwrap_or_default().to_string();
        let modified = rest.split("modified: ").nth(1).and_then(|s| s.split_whitespace().next()).is_some_and(|m| m != "0");
        let ms = t - previous;
        previous = *t;
        match transformers.iter_mut().find(|x| x.name == name) {
            Some(x) => {
                x.ms += ms;
                x.passes += 1;
                x.modified += u32::from(modified);
            }
            None => transformers.push(TransformerTime { name, ms, passes: 1, modified: u32::from(modified) }),
        }
    }
    transformers.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Some((phases, transformers))
}

impl LoadBreakdown {
    /// The profiler's phases beside `wall_ms`, the initialisation split where the log gives `split`.
    pub(crate) fn new(wall_ms: f64, profiled: Profiled, split: Option<(Vec<PhaseTime>, Vec<TransformerTime>)>) -> LoadBreakdown {
        let mut phases = match profiled.setup_ms {
            Some(setup) => vec![
                PhaseTime { phase: LoadPhase::SessionSetup, ms: setup },
                PhaseTime { phase: LoadPhase::ModelParse, ms: profiled.parse_ms },
            ],
            None => vec![PhaseTime { phase: LoadPhase::SetupAndParse, ms: profiled.parse_ms }],
        };
        let mut transformers = Vec::new();
        match split {
            Some((parts, t)) => {
                let other = profiled.initialization_ms - parts.iter().map(|p| p.ms).sum::<f64>();
                phases.extend(parts);
                phases.push(PhaseTime { phase: LoadPhase::OtherInitialization, ms: other });
                transformers = t;
            }
            None => phases.push(PhaseTime { phase: LoadPhase::Initialization, ms: profiled.initialization_ms }),
        }
        let profiled_total = profiled.setup_ms.unwrap_or(0.0) + profiled.parse_ms + profiled.initialization_ms;
        phases.push(PhaseTime { phase: LoadPhase::Remainder, ms: wall_ms - profiled_total });
        LoadBreakdown { wall_ms, phases, transformers }
    }

    pub(crate) fn ms(&self, phase: LoadPhase) -> Option<f64> {
        self.phases.iter().find(|p| p.phase == phase).map(|p| p.ms)
    }

    /// The phase that takes longest (the remainder included: it is a phase nobody explained).
    pub(crate) fn biggest(&self) -> Option<&PhaseTime> {
        self.phases.iter().max_by(|a, b| a.ms.total_cmp(&b.ms))
    }

    /// Each phase's median over `loads` (which share their phases): a figure per phase, not a load
    /// that happened, so the phases need not add up to the median wall time exactly.
    pub(crate) fn median_of(loads: &[LoadBreakdown]) -> Option<LoadBreakdown> {
        let first = loads.first()?;
        let med = |f: &dyn Fn(&LoadBreakdown) -> Option<f64>| median(&loads.iter().filter_map(f).collect::<Vec<_>>());
        Some(LoadBreakdown {
            wall_ms: med(&|b| Some(b.wall_ms))?,
            phases: first.phases.iter().filter_map(|p| Some(PhaseTime { phase: p.phase, ms: med(&|b| b.ms(p.phase))? })).collect(),
            transformers: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape ONNX Runtime 1.31 writes (`ts`, `dur` in microseconds since the profiler started).
    const TRACE: &str = r#"[
        {"cat":"Session","pid":7,"tid":7,"dur":41250,"ts":1800,"ph":"X","name":"model_loading_uri","args":{}},
        {"cat":"Session","pid":7,"tid":7,"dur":502000,"ts":43400,"ph":"X","name":"session_initialization","args":{}}
    ]"#;

    fn marks() -> Vec<(f64, String)> {
        [
            (45.0, "Initializing session."),
            (46.0, "This model does not have any local functions defined."),
            (50.0, "GraphTransformer ConstantFolding modified: 1 with status: OK"),
            (51.0, "Removing initializer 'x'. It is no longer used by any node."),
            (80.0, "GraphTransformer Level1_RuleBasedTransformer modified: 0 with status: OK"),
            (81.0, "GraphTransformer ConstantFolding modified: 0 with status: OK"),
            (300.0, "Running graph optimizations in loop 1 time/s"),
            (301.0, "GraphTransformer AttentionFusion modified: 1 with status: OK"),
            (310.0, "Saving initialized tensors."),
            (330.0, "Done saving initialized tensors"),
            (540.0, "Session successfully initialized."),
        ]
        .into_iter()
        .map(|(t, m)| (t, m.to_string()))
        .collect()
    }

    #[test]
    fn the_profilers_phases_and_the_remainder_add_up_to_the_wall_time() {
        let p = parse_profile(TRACE).unwrap();
        assert_eq!((p.setup_ms, p.initialization_ms), (Some(1.8), 502.0));
        assert!((p.parse_ms - 41.6).abs() < 1e-9, "from the parse's start to the initialisation's");
        let b = LoadBreakdown::new(560.0, p, None);
        let kinds: Vec<LoadPhase> = b.phases.iter().map(|p| p.phase).collect();
        assert_eq!(kinds, [LoadPhase::SessionSetup, LoadPhase::ModelParse, LoadPhase::Initialization, LoadPhase::Remainder]);
        assert!((b.ms(LoadPhase::Remainder).unwrap() - 14.6).abs() < 1e-9);
        assert!((b.phases.iter().map(|p| p.ms).sum::<f64>() - 560.0).abs() < 1e-9);
        assert_eq!(b.biggest().unwrap().phase, LoadPhase::Initialization);
    }

    #[test]
    fn the_log_splits_the_initialisation_and_times_each_transformer() {
        let (phases, transformers) = split_initialization(&marks()).unwrap();
        assert_eq!(phases[0], PhaseTime { phase: LoadPhase::GraphOptimization, ms: 265.0 });
        assert_eq!(phases[1], PhaseTime { phase: LoadPhase::InitializerSaving, ms: 20.0 });
        assert_eq!(phases[2], PhaseTime { phase: LoadPhase::KernelsAndPrepacking, ms: 210.0 });
        // Level1 ran from 50 to 80; ConstantFolding 45..50 and 80..81; AttentionFusion from the loop's
        // start, not from the gap before it.
        assert_eq!(transformers[0], TransformerTime { name: "Level1_RuleBasedTransformer".into(), ms: 30.0, passes: 1, modified: 0 });
        assert_eq!(transformers[1], TransformerTime { name: "ConstantFolding".into(), ms: 6.0, passes: 2, modified: 1 });
        assert_eq!(transformers[2], TransformerTime { name: "AttentionFusion".into(), ms: 1.0, passes: 1, modified: 1 });

        let b = LoadBreakdown::new(560.0, parse_profile(TRACE).unwrap(), Some((phases, transformers)));
        assert_eq!(b.ms(LoadPhase::Initialization), None, "split");
        assert!((b.ms(LoadPhase::OtherInitialization).unwrap() - 7.0).abs() < 1e-9);
        assert!((b.ms(LoadPhase::Remainder).unwrap() - 14.6).abs() < 1e-9);
        assert_eq!(b.biggest().unwrap().phase, LoadPhase::GraphOptimization);
        assert!((b.phases.iter().map(|p| p.ms).sum::<f64>() - 560.0).abs() < 1e-9);
    }

    #[test]
    fn missing_marks_or_events_are_said_not_guessed() {
        let mut m = marks();
        m.retain(|(_, s)| !s.starts_with("Done saving"));
        assert!(split_initialization(&m).is_none());
        // No model-loading event (ONNX Runtime omits it for some models): setup and parse as one.
        let p = parse_profile(r#"[{"cat":"Session","name":"session_initialization","ts":3000,"dur":2000}]"#).unwrap();
        assert_eq!(p, Profiled { setup_ms: None, parse_ms: 3.0, initialization_ms: 2.0 });
        assert_eq!(LoadBreakdown::new(6.0, p, None).phases[0], PhaseTime { phase: LoadPhase::SetupAndParse, ms: 3.0 });
        let e = parse_profile(r#"[{"cat":"Session","name":"model_loading_uri","ts":1,"dur":2}]"#).unwrap_err();
        assert!(e.to_string().contains("no session_initialization event (events \"Session\"/\"model_loading_uri\")"), "{e}");
        assert!(parse_profile("{").is_err());
    }

    #[test]
    fn medians_are_taken_phase_by_phase() {
        let p = |init: f64| Profiled { setup_ms: Some(1.0), parse_ms: 10.0, initialization_ms: init };
        let loads =
            [LoadBreakdown::new(100.0, p(80.0), None), LoadBreakdown::new(200.0, p(150.0), None), LoadBreakdown::new(120.0, p(90.0), None)];
        let m = LoadBreakdown::median_of(&loads).unwrap();
        assert_eq!(m.wall_ms, 120.0);
        assert_eq!(m.ms(LoadPhase::Initialization), Some(90.0));
        assert_eq!(m.ms(LoadPhase::Remainder), Some(19.0));
    }
}
