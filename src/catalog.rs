//! What is on disk for each configured model: its files, their sizes, the exporter's manifest, the
//! weights it really has, and the command that makes a missing one.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::config::{Config, ModelConfig, Weights};
use crate::inputs::type_contradiction;
use crate::onnx_graph::GraphSummary;
use crate::results::{FileInfo, ManifestSummary, ModelInfo};

/// The manifest.json `scripts/export_models.py` writes next to a model (unknown keys ignored: the
/// exporter may say more than mora reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub weights: Option<Weights>,
    #[serde(default)]
    pub files: Vec<ManifestFile>,
    pub opset: Option<u32>,
    pub exporter: Option<ManifestExporter>,
    pub exported_at: Option<String>,
    pub recipe_sha256: Option<String>,
    pub export_seconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ManifestExporter {
    pub method: Option<String>,
}

impl Manifest {
    pub(crate) fn read(path: &Path) -> Option<Manifest> {
        serde_json::from_slice(&crate::limits::read_file(path, crate::limits::MANIFEST_FILE).ok()?).ok()
    }
}

/// A configured model and what was found for it.
#[derive(Debug, Clone)]
pub(crate) struct ModelStatus {
    /// Every file a load reads is there: the ONNX file and all of its external data.
    pub present: bool,
    /// The ONNX file and its external data that are there.
    pub files: Vec<PathBuf>,
    /// What a load would read but is not there: the ONNX file, or external data it names.
    pub missing: Vec<PathBuf>,
    /// What the ONNX file declares, where it can be read.
    pub graph: Option<GraphSummary>,
    pub size_bytes: u64,
    pub manifest: Option<Manifest>,
    /// The weights the model really has: the manifest's word when there is one.
    pub weights: Weights,
    /// When the manifest and models.yaml disagree about the weights.
    pub weights_note: Option<String>,
    pub tokenizer_present: Option<bool>,
}

impl ModelStatus {
    pub(crate) fn of(model: &ModelConfig) -> ModelStatus {
        let manifest = Manifest::read(&model.resolved.manifest);
        let (files, missing, graph) = if model.resolved.model.is_file() {
            let graph = GraphSummary::read(&model.resolved.model).ok();
            let (files, missing): (Vec<PathBuf>, Vec<PathBuf>) =
                model_files(&model.resolved.model, manifest.as_ref(), graph.as_ref()).into_iter().partition(|f| f.is_file());
            // Where the graph can be read it alone says what a load needs: a manifest may list the
            // `.onnx.data` of an earlier export that a single-file model no longer has.
            let dir = model.resolved.model.parent().unwrap_or(Path::new("."));
            let needed = |f: &PathBuf| graph.as_ref().is_none_or(|g| g.external_data.iter().any(|d| dir.join(d) == *f));
            let missing = missing.into_iter().filter(needed).collect();
            (files, missing, graph)
        } else {
            (vec![], vec![model.resolved.model.clone()], None)
        };
        let size_bytes = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
        let (weights, weights_note) = match manifest.as_ref().and_then(|m| m.weights) {
            Some(w) if w != model.weights => {
                (w, Some(format!("models.yaml says {} weights, the export got {w}: reporting {w}", model.weights)))
            }
            Some(w) => (w, None),
            None => (model.weights, None),
        };
        ModelStatus {
            present: missing.is_empty(),
            files,
            missing,
            graph,
            size_bytes,
            manifest,
            weights,
            weights_note,
            tokenizer_present: model.resolved.tokenizer.as_ref().map(|t| t.is_file()),
        }
    }

    /// Where the model's `type:` contradicts its graph: what is wrong and the fix, after the config
    /// file, line and model.
    pub(crate) fn contradiction(&self, model: &ModelConfig, config: &Path) -> Option<String> {
        let inputs = self.graph.as_ref()?.graph_inputs()?;
        let why = type_contradiction(model.model_type, model.tokenizer.is_some(), &inputs)?;
        let line = model.resolved.line.map(|l| format!(":{l}")).unwrap_or_default();
        Some(format!("{}{line}: model `{}`: {why}", config.display(), model.id))
    }

    /// What keeps a load of the model from starting, one message each, naming the real file, what
    /// is wrong with it and the fix: the ONNX file (missing, or a folder, FIFO or device in its
    /// place), external data its graph names, the tokenizer. Empty when nothing does.
    pub(crate) fn problems(&self, model: &ModelConfig, config: &Config) -> Vec<String> {
        let at = || {
            let line = model.resolved.line.map(|l| format!(":{l}")).unwrap_or_default();
            format!("{}{line}", config.path.display())
        };
        let mut out = Vec::new();
        for path in &self.missing {
            let is_model = *path == model.resolved.model;
            out.push(match (crate::limits::not_a_regular_file(path), is_model) {
                (Some(is), true) if matches!(model.source, crate::config::Source::Local {}) => {
                    format!(
                        "{} is {is}, not an ONNX file: point `path:` of model `{}` ({}) at the .onnx file",
                        path.display(),
                        model.id,
                        at()
                    )
                }
                (Some(is), true) => {
                    format!(
                        "{} is {is}, not an ONNX file: move it away and make the model with `{}`",
                        path.display(),
                        make_command(model, config)
                    )
                }
                (None, true) => format!("{} is missing: make it with `{}`", path.display(), make_command(model, config)),
                (is, false) => format!(
                    "{} {}: {} keeps its weights there (external data); {}",
                    path.display(),
                    is.map(|is| format!("is {is}, not a data file")).unwrap_or_else(|| "is missing".into()),
                    model.resolved.model.display(),
                    if model.source.is_exported() {
                        format!("make the model again with `{}`", make_command(model, config))
                    } else {
                        "copy the data file beside the model, as it was saved".into()
                    }
                ),
            });
        }
        // An export that is not there makes its tokenizer too: one message, one command.
        let export_missing = model.source.is_exported() && self.missing.contains(&model.resolved.model);
        if let (Some(false), Some(tokenizer), false) = (self.tokenizer_present, &model.resolved.tokenizer, export_missing) {
            let what = match crate::limits::not_a_regular_file(tokenizer) {
                Some(is) => format!("is {is}, not a tokenizer.json file"),
                None => "is missing".into(),
            };
            let fix = if model.source.is_exported() {
                format!("make it with `{}`", make_command(model, config))
            } else {
                format!("fix `tokenizer:` of model `{}` ({}) or put its tokenizer.json there", model.id, at())
            };
            out.push(format!("{} {what}: the tokenizer of model `{}`; {fix}", tokenizer.display(), model.id));
        }
        out
    }

    pub(crate) fn size_mb(&self) -> f64 {
        crate::units::mib(self.size_bytes)
    }

    pub(crate) fn info(&self, model: &ModelConfig, config_dir: &Path) -> ModelInfo {
        let rel = |p: &Path| p.strip_prefix(config_dir).unwrap_or(p).display().to_string();
        ModelInfo {
            id: model.id.clone(),
            model_type: model.model_type,
            weights: self.weights,
            about: model.about.clone(),
            source: model.source.describe(),
            path: rel(&model.resolved.model),
            files: self
                .files
                .iter()
                .map(|f| FileInfo { path: rel(f), bytes: std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) })
                .collect(),
            size_mb: self.size_mb(),
            manifest: self.manifest.as_ref().map(|m| ManifestSummary {
                opset: m.opset,
                exporter: m.exporter.as_ref().and_then(|e| e.method.clone()),
                exported_at: m.exported_at.clone(),
                recipe_sha256: m.recipe_sha256.clone(),
            }),
            hub: None,
        }
    }
}

/// Every file a load of `model` reads, there or not: the ONNX file, the external data its graph
/// names, and the model files the exporter's manifest lists (tokenizer and manifest aside). Where
/// neither graph nor manifest can be read, the file and any sibling named `<file>.data` or `<file>_data`.
pub fn model_files(model: &Path, manifest: Option<&Manifest>, graph: Option<&GraphSummary>) -> Vec<PathBuf> {
    let dir = model.parent().unwrap_or(Path::new("."));
    let mut files = vec![model.to_path_buf()];
    let mut add = |path: PathBuf| {
        if !files.contains(&path) {
            files.push(path);
        }
    };
    for location in graph.map(|g| g.external_data.as_slice()).unwrap_or_default() {
        add(dir.join(location));
    }
    let listed = manifest.map(|m| m.files.as_slice()).unwrap_or_default();
    for f in listed {
        let name = f.path.as_str();
        // A listed path that climbs out of the model's folder is not one of the model's files.
        let inside = Path::new(name).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if inside && !name.ends_with(".json") && !name.ends_with(".txt") {
            add(dir.join(name));
        }
    }
    if graph.is_none() && listed.is_empty() {
        let name = model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for suffix in [".data", "_data"] {
            let sibling = dir.join(format!("{name}{suffix}"));
            if sibling.is_file() {
                add(sibling);
            }
        }
    }
    files
}

/// The command that makes a missing model.
pub(crate) fn make_command(model: &ModelConfig, config: &Config) -> String {
    if model.source.is_exported() {
        let config_arg = if config.path.file_name().is_some_and(|n| n == "models.yaml")
            && config.path.parent().is_some_and(|p| p == Path::new("") || p == Path::new("."))
        {
            String::new()
        } else {
            format!(" --config {}", config.path.display())
        };
        format!(".venv/bin/python scripts/export_models.py{config_arg} --models {}", model.id)
    } else if matches!(model.source, crate::config::Source::Hub { .. }) {
        "fetched by `mora bench` through the Hugging Face cache".into()
    } else {
        format!("put your ONNX file at {}", model.resolved.model.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_data_is_found_without_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.onnx");
        std::fs::write(&model, b"x").unwrap();
        std::fs::write(dir.path().join("model.onnx.data"), b"yy").unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        let files = model_files(&model, None, None);
        assert_eq!(files, vec![model.clone(), dir.path().join("model.onnx.data")]);
    }

    fn model_with_external_data(dir: &Path) -> PathBuf {
        let mut b = crate::onnx_writer::ModelBuilder::new(17);
        b.initializer_external("w", &[4, 4], "model.onnx.data", 0);
        let model = dir.join("model.onnx");
        std::fs::write(&model, b.build()).unwrap();
        model
    }

    #[test]
    fn missing_external_data_means_not_present() {
        let dir = tempfile::tempdir().unwrap();
        let model = model_with_external_data(dir.path());
        let graph = GraphSummary::read(&model).unwrap();
        assert_eq!(model_files(&model, None, Some(&graph)), vec![model.clone(), dir.path().join("model.onnx.data")]);
        let manifest: Manifest =
            serde_json::from_str(r#"{"files": [{"path": "model.onnx"}, {"path": "model.onnx.data"}, {"path": "../../etc/passwd"}]}"#)
                .unwrap();
        assert_eq!(model_files(&model, Some(&manifest), None), vec![model.clone(), dir.path().join("model.onnx.data")]);
    }

    #[test]
    fn the_manifest_lists_the_files_but_not_the_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.onnx");
        for f in ["model.onnx", "weights.bin", "tokenizer.json"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let manifest: Manifest = serde_json::from_str(
            r#"{"weights": "random", "extra": 1, "files": [{"path": "model.onnx", "bytes": 1}, {"path": "weights.bin"}, {"path": "tokenizer.json"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.weights, Some(Weights::Random));
        assert_eq!(model_files(&model, Some(&manifest), None), vec![model.clone(), dir.path().join("weights.bin")]);
    }
}
