//! Scenario `shapes`: the first run at each new input shape (batch size x sequence length) in a warm
//! session, against that shape's steady p50. Servers see new shapes all the time, and some providers
//! pay a first-run cost per shape; this names the shapes worth running once at warm-up.

use anyhow::Result;

use super::TrialContext;
use crate::inputs::{GraphInput, ModelInputs};
use crate::loaded_model::LoadedModel;
use crate::phase::Phase;
use crate::results::{ShapeRun, ShapesResult};
use crate::stats::Summary;

/// Runs after each shape's first, behind its steady p50.
pub(crate) const STEADY_RUNS: usize = 5;

pub(crate) fn run(w: &mut TrialContext) -> Result<ShapesResult> {
    let model = super::only_model(w)?;
    super::read_through(model)?;
    let mut planned = None;
    super::first_load(w, model, &mut planned)?;
    w.phase(Phase::Load);
    let (session, _) = LoadedModel::load(&w.runtime, &w.spec.provider, model)?;
    let graph = GraphInput::from_outlets(session.inputs())?;
    let batch_open = graph.iter().any(|g| g.shape.first().is_some_and(|d| *d < 0));
    let sequence_open = graph.iter().any(|g| g.shape.len() == 2 && g.shape[1] < 0);
    if !batch_open && !sequence_open {
        return Ok(ShapesResult {
            provider_baseline: w.provider_baseline.clone(),
            not_applicable: Some("every input dimension is fixed in the graph: one shape only".into()),
            shapes: vec![],
        });
    }
    let batches = if batch_open { w.spec.settings.shape_batches.clone() } else { vec![model.inputs.batch_size] };
    let sequences: Vec<Option<usize>> =
        if sequence_open { w.spec.settings.shape_sequences.iter().map(|s| Some(*s)).collect() } else { vec![None] };
    let mut session = Some(session);
    let mut shapes = Vec::new();
    for &batch_size in &batches {
        for &sequence_length in &sequences {
            w.phase(Phase::Shape { batch_size, sequence_length });
            let mut settings = model.inputs.clone();
            settings.batch_size = batch_size;
            if let Some(s) = sequence_length {
                settings.sequence_length = s;
            }
            let inputs = ModelInputs::build(&graph, &settings)?;
            let mut loaded = LoadedModel::with_inputs(session.take().expect("the session is handed back after each shape"), &inputs)?;
            let runs = (|| -> Result<(f64, Vec<f64>)> {
                let first_ms = loaded.run()?;
                Ok((first_ms, (0..STEADY_RUNS).map(|_| loaded.run()).collect::<Result<_>>()?))
            })();
            session = Some(loaded.into_session());
            // A shape the model cannot take (CLIP's text tower has 77 positions) is a finding about
            // that shape, not the end of the trial: the session is unharmed by a failed run.
            shapes.push(match runs {
                Ok((first_ms, steady)) => {
                    let steady = Summary::of(&steady);
                    let first_over_p50 = steady.as_ref().filter(|s| s.median > 0.0).map(|s| first_ms / s.median);
                    ShapeRun { batch_size, sequence_length, first_ms: Some(first_ms), steady, first_over_p50, error: None }
                }
                Err(e) => ShapeRun {
                    batch_size,
                    sequence_length,
                    first_ms: None,
                    steady: None,
                    first_over_p50: None,
                    error: Some(format!("{e:#}")),
                },
            });
        }
    }
    Ok(ShapesResult { provider_baseline: w.provider_baseline.clone(), not_applicable: None, shapes })
}
