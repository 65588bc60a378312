//! Preflight: what a run checks before its first trial, so that a model that cannot run stops the
//! run at once (exit 1) with one message naming the file, the cause and the fix, instead of failing
//! trial after trial: its files are there, it opens as ONNX, the loaded ONNX Runtime reads its IR
//! and opset versions (asked of the runtime itself, with a tiny model of the same versions), and its
//! inputs can be built. What each input will be fed is printed in the plan (`--dry-run`) and the
//! run's header.

use std::collections::BTreeMap;

use crate::catalog::{ModelStatus, make_command};
use crate::config::{Config, ModelConfig, Source};
use crate::inputs::{InputDescription, ModelInputs};
use crate::onnx_graph::GraphSummary;
use crate::runtime::{Runtime, RuntimeLibrary};

/// What preflight found for one model.
#[derive(Debug, Clone)]
pub(crate) struct ModelPlan {
    pub id: String,
    /// Each input, its shape and what fills it; empty for a hub model (fetched by the run).
    pub fills: Vec<InputDescription>,
}

/// What preflight found: the errors that stop the run, and each model's inputs.
#[derive(Debug, Default)]
pub(crate) struct Preflight {
    pub errors: Vec<String>,
    pub models: Vec<ModelPlan>,
}

impl Preflight {
    /// The plan's lines for the inputs: "  minilm-l6: input_ids int64 [1, 128] <- 128 tokens of ...".
    pub(crate) fn fill_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.models {
            if m.fills.is_empty() {
                out.push(format!("  {}: inputs from the model fetched at the run", m.id));
            }
            for f in &m.fills {
                out.push(format!("  {}: {} {} {:?} <- {}", m.id, f.name, f.dtype, f.shape, f.fill));
            }
        }
        out
    }
}

/// Whether the runtime reads a model of this IR version and default-domain opset, by creating a
/// session on a one-node model that declares them; ONNX Runtime's own message when it does not.
/// Asked once per pair.
struct VersionCheck<'a> {
    library: &'a RuntimeLibrary,
    runtime: Option<Result<Runtime, String>>,
    answers: BTreeMap<(u64, u64), Result<(), String>>,
}

impl VersionCheck<'_> {
    fn reads(&mut self, ir: u64, opset: u64) -> Result<(), String> {
        if let Some(answer) = self.answers.get(&(ir, opset)) {
            return answer.clone();
        }
        let library = self.library;
        let runtime = self.runtime.get_or_insert_with(|| Runtime::init(library.clone()).map_err(|e| format!("{e:#}")));
        let answer = match runtime {
            // Without a runtime there is nothing to ask; the trials will say why.
            Err(_) => Ok(()),
            Ok(rt) => {
                let mut b = crate::onnx_writer::ModelBuilder::new(opset as i64);
                b.ir_version(ir)
                    .input("x", crate::onnx_writer::ElemType::Float, &[crate::onnx_writer::Dim::Fixed(1)])
                    .output("y", crate::onnx_writer::ElemType::Float, &[crate::onnx_writer::Dim::Fixed(1)])
                    .node("Identity", &["x"], &["y"], &[]);
                match ort::session::Session::builder(&rt.env) {
                    Ok(mut builder) => builder.commit_from_memory(&b.build()).map(drop).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        self.answers.insert((ir, opset), answer.clone());
        answer
    }
}

/// Checks every model of a run before its first trial.
pub(crate) fn check(models: &[&ModelConfig], config: &Config, library: &RuntimeLibrary) -> Preflight {
    let mut versions = VersionCheck { library, runtime: None, answers: BTreeMap::new() };
    let mut out = Preflight::default();
    for model in models {
        if matches!(model.source, Source::Hub { .. }) {
            out.models.push(ModelPlan { id: model.id.clone(), fills: vec![] });
            continue;
        }
        let status = ModelStatus::of(model);
        let problems = status.problems(model, config);
        if !problems.is_empty() {
            out.errors.extend(problems.into_iter().map(|p| format!("model `{}`: {p}", model.id)));
            continue;
        }
        let path = &model.resolved.model;
        let graph = match GraphSummary::read(path) {
            Ok(g) => g,
            Err(e) => {
                out.errors.push(format!(
                    "model `{}`: {} does not open as ONNX ({e}): is it the right file? {}",
                    model.id,
                    path.display(),
                    if model.source.is_exported() {
                        format!("make it again with `{}`", make_command(model, config))
                    } else {
                        "export it again".into()
                    }
                ));
                continue;
            }
        };
        let opset = graph.opsets.iter().find(|(d, _)| d.is_empty() || d == "ai.onnx").map(|(_, v)| *v);
        if let (Some(ir), Some(opset)) = (graph.ir_version, opset)
            && let Err(why) = versions.reads(ir, opset)
        {
            out.errors.push(format!(
                "model `{}`: {} has IR version {ir} and opset {opset}, which ONNX Runtime {} does not read ({}). Fix: convert it (python: `m = onnx.version_converter.convert_version(onnx.load(PATH), OPSET); m.ir_version = IR; onnx.save(m, PATH)` with an opset and IR version this ONNX Runtime reads), or export it with an older exporter or `onnx` package",
                model.id,
                path.display(),
                library.version,
                runtime_message(&why)
            ));
            continue;
        }
        let Some(inputs) = graph.graph_inputs() else {
            out.errors.push(format!(
                "model `{}`: {} has an input of an element type mora cannot fill (float32, int64 and int32 only)",
                model.id,
                path.display()
            ));
            continue;
        };
        let settings = crate::runner::input_settings(model, config, model.resolved.tokenizer.clone());
        match ModelInputs::build(&inputs, &settings) {
            Ok(built) => out.models.push(ModelPlan { id: model.id.clone(), fills: built.described }),
            Err(e) => out.errors.push(format!("model `{}` ({}): {e:#}", model.id, path.display())),
        }
    }
    out
}

/// ONNX Runtime's message without the source location and function it starts with
/// ("/onnxruntime_src/.../model.cc:256 onnxruntime::Model::Model(...) Unsupported model IR version: 14, ...").
fn runtime_message(message: &str) -> &str {
    let message = message.trim();
    match message.rsplit_once(") ") {
        Some((location, rest)) if location.starts_with('/') && location.contains(".cc:") => rest,
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_runtimes_message_loses_its_source_location() {
        let m = "/onnxruntime_src/onnxruntime/core/graph/model.cc:256 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::logging::Logger&) Unsupported model IR version: 14, max supported IR version: 13";
        assert_eq!(super::runtime_message(m), "Unsupported model IR version: 14, max supported IR version: 13");
        assert_eq!(super::runtime_message(" plain (words) here "), "plain (words) here");
    }
}
