//! A pre-optimised model: the graph as ONNX Runtime optimised it for one provider, saved once and
//! loaded afterwards with optimisations disabled, with a manifest beside it (`<file>.mora.json`). A
//! pre-optimised graph holds the provider's own fused operators and the runtime version's own
//! rewrites, so it is only valid for the runtime version and provider it was made with: mora checks
//! the manifest whenever it loads such a model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::runtime::Provider;

/// What a pre-optimised model was made with and from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OptimizedManifest {
    pub made_by: String,
    pub onnxruntime_version: String,
    pub provider: Provider,
    /// The provider options, as ONNX Runtime names them.
    pub provider_options: BTreeMap<String, String>,
    /// "onnx" or "ort".
    pub format: String,
    pub source: PathBuf,
    /// sha256 of every file of the source model, in order (the model, then its external data).
    pub source_sha256: Vec<String>,
    pub created_at: String,
}

/// `model.onnx` -> `model.onnx.mora.json`.
pub(crate) fn manifest_path(model: &Path) -> PathBuf {
    let mut name = model.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".mora.json");
    model.with_file_name(name)
}

/// The files an optimised model at `path` consists of: itself, its external data (ONNX format), its
/// manifest.
pub(crate) fn files_of(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if path.extension().is_none_or(|e| e != "ort") {
        let mut data = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        data.push(".data");
        files.push(path.with_file_name(data));
    }
    files.push(manifest_path(path));
    files
}

/// The manifest beside `model`, if it has one: then it is a pre-optimised model.
pub(crate) fn read_manifest(model: &Path) -> Result<Option<OptimizedManifest>> {
    let path = manifest_path(model);
    match crate::limits::read_file(&path, crate::limits::MANIFEST_FILE) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).with_context(|| format!("{} is not a mora optimisation manifest", path.display()))
        }
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Refuses a pre-optimised model made by another runtime version or for another provider, naming
/// both and the fix.
pub(crate) fn check(model: &Path, manifest: &OptimizedManifest, runtime_version: &str, provider: Provider) -> Result<()> {
    if manifest.onnxruntime_version != runtime_version || manifest.provider != provider {
        bail!(
            "{} was optimised by ONNX Runtime {} for {}; this is ONNX Runtime {runtime_version} on {provider}: a pre-optimised graph is only valid for the version and provider it was made with. Make it again: `mora optimize {} --provider {provider}`",
            model.display(),
            manifest.onnxruntime_version,
            manifest.provider,
            manifest.source.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> OptimizedManifest {
        OptimizedManifest {
            made_by: "mora 0.1.0".into(),
            onnxruntime_version: "1.31.1".into(),
            provider: Provider::CPU,
            provider_options: BTreeMap::new(),
            format: "onnx".into(),
            source: "models/gpt2/model.onnx".into(),
            source_sha256: vec!["ab".into()],
            created_at: "2026-11-27T00:00:00Z".into(),
        }
    }

    #[test]
    fn another_runtime_or_provider_is_refused_with_the_fix() {
        let m = manifest();
        let path = Path::new("gpt2.optimized-cpu.onnx");
        assert!(check(path, &m, "1.31.1", Provider::CPU).is_ok());
        let e = check(path, &m, "1.30.0", Provider::CPU).unwrap_err().to_string();
        assert!(e.contains("optimised by ONNX Runtime 1.31.1 for cpu; this is ONNX Runtime 1.30.0 on cpu"), "{e}");
        assert!(e.contains("mora optimize models/gpt2/model.onnx --provider cpu"), "{e}");
        assert!(check(path, &m, "1.31.1", Provider::named("cuda")).is_err());
    }

    #[test]
    fn the_manifest_and_data_sit_beside_the_model() {
        assert_eq!(manifest_path(Path::new("a/m.onnx")), Path::new("a/m.onnx.mora.json"));
        assert_eq!(files_of(Path::new("a/m.onnx")), vec![PathBuf::from("a/m.onnx"), "a/m.onnx.data".into(), "a/m.onnx.mora.json".into()]);
        assert_eq!(files_of(Path::new("a/m.ort")), vec![PathBuf::from("a/m.ort"), "a/m.ort.mora.json".into()]);
    }

    #[test]
    fn a_broken_manifest_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.onnx");
        assert!(read_manifest(&model).unwrap().is_none());
        std::fs::write(manifest_path(&model), b"{").unwrap();
        let e = format!("{:#}", read_manifest(&model).unwrap_err());
        assert!(e.contains("m.onnx.mora.json is not a mora optimisation manifest"), "{e}");
    }
}
