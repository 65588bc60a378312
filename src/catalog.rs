//! What is on disk for each configured model: its files, their sizes, the exporter's manifest, the
//! weights it really has, and the command that makes a missing one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{Config, ModelConfig, Weights};
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
    pub fn read(path: &Path) -> Option<Manifest> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

/// A configured model and what was found for it.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub present: bool,
    /// The ONNX file and its external data: everything a load reads.
    pub files: Vec<PathBuf>,
    pub size_bytes: u64,
    pub manifest: Option<Manifest>,
    /// The weights the model really has: the manifest's word when there is one.
    pub weights: Weights,
    /// When the manifest and models.yaml disagree about the weights.
    pub weights_note: Option<String>,
    pub tokenizer_present: Option<bool>,
}

impl ModelStatus {
    pub fn of(model: &ModelConfig) -> ModelStatus {
        let manifest = Manifest::read(&model.resolved.manifest);
        let present = model.resolved.model.is_file();
        let files = if present { model_files(&model.resolved.model, manifest.as_ref()) } else { vec![] };
        let size_bytes = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
        let (weights, weights_note) = match manifest.as_ref().and_then(|m| m.weights) {
            Some(w) if w != model.weights => {
                (w, Some(format!("models.yaml says {} weights, the export got {w}: reporting {w}", model.weights)))
            }
            Some(w) => (w, None),
            None => (model.weights, None),
        };
        ModelStatus {
            present,
            files,
            size_bytes,
            manifest,
            weights,
            weights_note,
            tokenizer_present: model.resolved.tokenizer.as_ref().map(|t| t.is_file()),
        }
    }

    pub fn size_mb(&self) -> f64 {
        self.size_bytes as f64 / 1048576.0
    }

    pub fn info(&self, model: &ModelConfig, config_dir: &Path) -> ModelInfo {
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

/// The ONNX file plus its external data: the manifest's list when there is one (tokenizer and
/// manifest aside), else the file and any sibling named `<file>.data` or `<file>_data`.
pub fn model_files(model: &Path, manifest: Option<&Manifest>) -> Vec<PathBuf> {
    let dir = model.parent().unwrap_or(Path::new("."));
    let mut files = vec![model.to_path_buf()];
    match manifest {
        Some(m) if !m.files.is_empty() => {
            for f in &m.files {
                let path = dir.join(&f.path);
                let name = f.path.as_str();
                let is_model_data = !name.ends_with(".json") && !name.ends_with(".txt") && path != model;
                if is_model_data && path.is_file() {
                    files.push(path);
                }
            }
        }
        _ => {
            let name = model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for suffix in [".data", "_data"] {
                let sibling = dir.join(format!("{name}{suffix}"));
                if sibling.is_file() {
                    files.push(sibling);
                }
            }
        }
    }
    files
}

/// The command that makes a missing model.
pub fn make_command(model: &ModelConfig, config: &Config) -> String {
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
        let files = model_files(&model, None);
        assert_eq!(files, vec![model.clone(), dir.path().join("model.onnx.data")]);
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
        assert_eq!(model_files(&model, Some(&manifest)), vec![model.clone(), dir.path().join("weights.bin")]);
    }
}
