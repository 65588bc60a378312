//! One model loaded into an ONNX Runtime session with its inputs: load (timed), run (timed), unload.
//! [`Loader`] and [`Measured`] are that lifecycle as a scenario measures it, so a scenario's loop can
//! run against a fake model in its unit tests ([`SessionLoader`] is the real one).

use std::time::Instant;

use anyhow::{Context, Result};
use ort::session::Session;
use ort::value::DynValue;

use crate::inputs::{GraphInput, ModelInputs};
use crate::levers::optimized;
use crate::onnx_graph::GraphSummary;
use crate::protocol::ModelSpec;
use crate::provider::setup::{ModelSource, OptLevel, ProviderSetup, SessionExtras};
use crate::runtime::Runtime;

pub struct LoadedModel {
    session: Session,
    values: Vec<(String, DynValue)>,
    /// Run options every inference uses, where a scenario sets some (arena shrinkage).
    run_options: Option<ort::session::RunOptions>,
}

/// Milliseconds since `start`.
pub(crate) fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

impl LoadedModel {
    /// The session, for what ONNX Runtime reports about it (where its nodes ran).
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Creates the session (the timed load) and returns it with the load time in ms. Inputs are
    /// attached afterwards, outside the timing, with [`LoadedModel::with_inputs`]. A pre-optimised
    /// model (one with a `mora optimize` manifest) must match this runtime and provider, and loads
    /// with graph optimisation disabled, as it was made to.
    pub fn load(runtime: &Runtime, setup: &ProviderSetup, model: &ModelSpec) -> Result<(Session, f64)> {
        let mut extras = SessionExtras::default();
        if let Some(manifest) = optimized::read_manifest(&model.path)? {
            optimized::check(&model.path, &manifest, &runtime.library.version, setup.provider)?;
            extras.optimization = Some(OptLevel::Disabled);
        }
        let start = Instant::now();
        let session = setup.session(&runtime.env, &ModelSource::File(&model.path), &extras)?;
        let ms = ms_since(start);
        crate::fault::on_model_loaded();
        Ok((session, ms))
    }

    /// The data for this model's inputs, built from the session's declared inputs, with the size of
    /// the token embedding where the file shows it (so token ids can be checked against it).
    pub(crate) fn plan_inputs(session: &Session, model: &ModelSpec) -> Result<ModelInputs> {
        let mut graph = GraphInput::from_outlets(session.inputs())?;
        if let Ok(summary) = GraphSummary::read(&model.path) {
            for input in &mut graph {
                input.vocabulary = summary.vocabulary(&input.name);
            }
        }
        ModelInputs::build(&graph, &model.inputs).with_context(|| format!("model `{}`", model.id))
    }

    pub(crate) fn with_inputs(session: Session, inputs: &ModelInputs) -> Result<LoadedModel> {
        Ok(LoadedModel { session, values: inputs.values()?, run_options: None })
    }

    /// Loads the model (timed) and attaches its inputs, planning them on the first load when `inputs`
    /// is empty and reusing them on later loads, so repeated loads are measured alike.
    pub(crate) fn load_with_inputs(
        runtime: &Runtime,
        setup: &ProviderSetup,
        model: &ModelSpec,
        inputs: &mut Option<ModelInputs>,
    ) -> Result<(LoadedModel, f64)> {
        let (session, load_ms) = Self::load(runtime, setup, model)?;
        if inputs.is_none() {
            *inputs = Some(Self::plan_inputs(&session, model)?);
        }
        let loaded = Self::with_inputs(session, inputs.as_ref().expect("planned above"))?;
        Ok((loaded, load_ms))
    }

    /// One inference; returns its time in ms. Outputs are dropped after the clock stops.
    pub(crate) fn run(&mut self) -> Result<f64> {
        let (ms, outputs) = self.run_keeping_outputs()?;
        drop(outputs);
        Ok(ms)
    }

    /// One inference whose outputs the caller keeps (they hold memory of the session's allocator),
    /// by name.
    pub(crate) fn run_keeping_outputs(&mut self) -> Result<(f64, Vec<(String, DynValue)>)> {
        let inputs: Vec<(&str, &DynValue)> = self.values.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let start = Instant::now();
        crate::fault::slow_run();
        let run = match &self.run_options {
            Some(options) => self.session.run_with_options(inputs, options),
            None => self.session.run(inputs),
        };
        let mut outputs = run.context("inference failed")?;
        let ms = ms_since(start);
        crate::fault::on_inference();
        let names: Vec<String> = outputs.keys().map(str::to_string).collect();
        let kept = names.into_iter().filter_map(|n| outputs.remove(&n).map(|v| (n, v))).collect();
        Ok((ms, kept))
    }

    /// The session back, its inputs dropped: to run it with other inputs.
    pub(crate) fn into_session(self) -> Session {
        self.session
    }

    /// Sets a run option (ONNX Runtime's `run_options` config key) for every later inference.
    pub(crate) fn set_run_option(&mut self, key: &str, value: &str) -> Result<()> {
        let options = match &mut self.run_options {
            Some(o) => o,
            None => self.run_options.insert(ort::session::RunOptions::new().context("cannot create run options")?),
        };
        options.set(key, value).with_context(|| format!("run option {key}={value}"))
    }

    /// Drops the session and its input values; returns the time it took in ms.
    pub(crate) fn unload(self) -> f64 {
        let start = Instant::now();
        drop(self);
        ms_since(start)
    }
}

/// Loads a model, as a scenario's loop does it again and again: the ONNX Runtime session in a worker
/// ([`SessionLoader`]), a fake in the scenarios' unit tests.
pub(crate) trait Loader {
    type Model: Measured;
    /// Loads the model (timed); returns it with the load time in ms.
    fn load(&mut self) -> Result<(Self::Model, f64)>;
}

/// A loaded model as a scenario measures it: inferences and the unload, each timed.
pub(crate) trait Measured {
    /// An inference's outputs, which hold memory while the caller keeps them.
    type Outputs;
    /// One inference whose outputs the caller keeps; returns its time in ms.
    fn run_keeping_outputs(&mut self) -> Result<(f64, Self::Outputs)>;
    /// Drops the model; returns the time it took in ms.
    fn unload(self) -> f64;
}

/// The real [`Loader`]: a session of `model` on `setup`'s provider, its inputs planned on the first
/// load and reused by the later ones ([`LoadedModel::load_with_inputs`]).
pub(crate) struct SessionLoader<'a> {
    pub runtime: &'a Runtime,
    pub setup: &'a ProviderSetup,
    pub model: &'a ModelSpec,
    pub inputs: Option<ModelInputs>,
}

impl Loader for SessionLoader<'_> {
    type Model = LoadedModel;

    fn load(&mut self) -> Result<(LoadedModel, f64)> {
        LoadedModel::load_with_inputs(self.runtime, self.setup, self.model, &mut self.inputs)
    }
}

impl Measured for LoadedModel {
    type Outputs = Vec<(String, DynValue)>;

    fn run_keeping_outputs(&mut self) -> Result<(f64, Self::Outputs)> {
        LoadedModel::run_keeping_outputs(self)
    }

    fn unload(self) -> f64 {
        LoadedModel::unload(self)
    }
}
