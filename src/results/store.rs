//! Reading and writing results files: the atomic write after every trial, and the reader, which
//! also reads schema 1.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{ResultsFile, SCHEMA_VERSION};

/// Writes `value` as pretty JSON to `path` atomically: a temporary file in the same folder, flushed,
/// then renamed over the old one, so a crash or kill never leaves a half-written file.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).context("cannot serialise results")?;
    write_atomic(path, &bytes)
}

/// Writes bytes to `path` atomically (reports, CSV, charts). On failure (a full disk) the old file is
/// left as it was and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = write_synced(&tmp, bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} to {}", tmp.display(), path.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    if crate::fault::disk_full_now() {
        // Half the bytes, then the error a full disk gives: what the tests need to see handled.
        f.write_all(&bytes[..bytes.len() / 2])?;
        return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
    }
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads a results.json of schema 1 or 2, refusing versions this mora does not know. A schema 1 file
/// is brought to schema 2 on the way in (see [`from_schema_1`]); its derived figures and verdicts
/// are the caller's to recompute (`advice::judge`).
pub fn read(path: &Path) -> Result<ResultsFile> {
    let bytes = crate::limits::read_file(path, crate::limits::RESULTS_FILE)?;
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))?;
    match value.get("schema_version") {
        Some(v) if v.as_u64() == Some(1) => {
            from_schema_1(&mut value);
            from_schema_2(&mut value);
        }
        Some(v) if v.as_u64() == Some(2) => from_schema_2(&mut value),
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(v) => anyhow::bail!(
            "{}: schema_version {} is not one this mora reads (the number 1, 2 or {SCHEMA_VERSION}); re-run `mora bench` or use the mora that wrote it",
            path.display(),
            describe_json(v)
        ),
        None if value.is_object() => {
            anyhow::bail!("{} has no schema_version: it is not a results.json that mora wrote (`mora bench` writes one)", path.display())
        }
        None => anyhow::bail!(
            "{} holds {}, not a results.json (an object with schema_version): pass a run folder or its results.json",
            path.display(),
            describe_json(&value)
        ),
    }
    serde_json::from_value(value).with_context(|| format!("{} does not match results schema {SCHEMA_VERSION}", path.display()))
}

/// A JSON value as it is written, cut short: `"1"` (a string), `-2`, `2.5`, `null`.
fn describe_json(v: &serde_json::Value) -> String {
    let text = v.to_string();
    let short: String = text.chars().take(40).collect();
    let what = match v {
        serde_json::Value::String(_) => " (a string)",
        serde_json::Value::Array(_) => " (a list)",
        serde_json::Value::Object(_) => " (an object)",
        _ => "",
    };
    if short.len() < text.len() { format!("{short}...{what}") } else { format!("{text}{what}") }
}

/// The v1 isolation warning compared the cgroup's anonymous memory with the worker's private memory,
/// which on CUDA also holds file-backed library pages: it fired on every CUDA trial. Schema 2 derives
/// that check from the figures instead of storing it.
const V1_ISOLATION_NOISE: &str = "privately: other processes were active";

/// Schema 2 -> 3: providers became data. A provider setup's typed `cuda` options become its
/// `options` as ONNX Runtime names them, and only on the providers that take them (schema 2 kept
/// CUDA's defaults on CPU trials too); `cuda_libraries` became `libraries` (read by an alias).
fn from_schema_2(value: &mut serde_json::Value) {
    use serde_json::Value;
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let is_setup = map.get("provider").is_some_and(Value::is_string) && map.contains_key("cpu");
                if is_setup {
                    if let Some(cuda) = map.remove("cuda") {
                        let provider = crate::provider::Provider::named(map["provider"].as_str().unwrap_or_default());
                        let typed: crate::config::CudaOptions = serde_json::from_value(cuda).unwrap_or_default();
                        let options = crate::provider::cuda::options_from(&typed);
                        let options: serde_json::Map<String, Value> =
                            options.into_iter().filter(|(k, _)| provider.takes(k)).map(|(k, v)| (k, Value::String(v))).collect();
                        if !options.is_empty() {
                            map.insert("options".into(), Value::Object(options));
                        }
                    }
                }
                // Schema 2 named where CUDA's libraries came from; schema 3 says it in a sentence.
                if let Some(Value::String(libs)) = map.remove("cuda_libraries") {
                    map.insert("libraries".into(), Value::String(format!("CUDA libraries from {libs}")));
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(value);
    value["schema_version"] = serde_json::json!(SCHEMA_VERSION);
}

/// Schema 1 -> 2: a single trial's one worker becomes `workers: [it]`; the stored isolation noise
/// warning goes (it is derived now); the run says it was read from schema 1.
fn from_schema_1(value: &mut serde_json::Value) {
    use serde_json::{Value, json};
    if let Some(trials) = value.get_mut("trials").and_then(Value::as_array_mut) {
        for trial in trials {
            if let Some(m) = trial.get_mut("measurements").filter(|m| m["scenario"] == "single") {
                let mut worker = m.take();
                if let Some(w) = worker.as_object_mut() {
                    w.remove("scenario");
                }
                *m = json!({"scenario": "single", "workers": [worker], "summary": {}});
            }
            // A crash held an exit code and a signal side by side; schema 2 holds one termination.
            if let Some(outcome) = trial.get_mut("outcome").filter(|o| o["status"] == "crashed") {
                let termination = match (outcome["exit_code"].as_i64(), outcome["signal"].as_i64()) {
                    (Some(code), _) => json!({"by": "exit_code", "code": code}),
                    (None, Some(number)) => {
                        json!({"by": "signal", "number": number, "name": outcome["signal_name"].as_str().unwrap_or("")})
                    }
                    (None, None) => json!({"by": "unknown"}),
                };
                if let Some(o) = outcome.as_object_mut() {
                    for key in ["exit_code", "signal", "signal_name"] {
                        o.remove(key);
                    }
                    o.insert("termination".into(), termination);
                }
            }
            if let Some(warnings) = trial.get_mut("warnings").and_then(Value::as_array_mut) {
                warnings.retain(|w| !w.as_str().is_some_and(|s| s.contains(V1_ISOLATION_NOISE)));
                // Schema 1 kept warnings as text; schema 2 types them.
                for w in warnings.iter_mut() {
                    if let Some(text) = w.as_str() {
                        *w = json!({"kind": "recorded", "message": text});
                    }
                }
            }
        }
    }
    value["schema_version"] = json!(2);
    if let Some(notes) = value.pointer_mut("/run/notes").and_then(Value::as_array_mut) {
        notes.push(json!("read from results schema 1: one fresh worker per single trial, and no first load apart from the measured one"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        write_json_atomic(&path, &serde_json::json!({"a": 2})).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["a"], 2);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("results.json")]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        // A folder where the temporary file would go: creating it fails, as on a full disk.
        let tmp = dir.path().join(format!(".results.json.tmp-{}", std::process::id()));
        std::fs::create_dir(&tmp).unwrap();
        std::fs::write(tmp.join("x"), b"x").unwrap();
        assert!(write_json_atomic(&path, &serde_json::json!({"a": 2})).is_err());
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["a"], 1, "the last good file stays");
    }

    #[test]
    fn a_schema_1_crash_and_its_warnings_are_read_into_schema_2_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let mut v1: serde_json::Value = serde_json::from_slice(
            &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runs/20261127T114236Z-h200/results.json")).unwrap(),
        )
        .unwrap();
        let trial = &mut v1["trials"][0];
        trial["outcome"] = serde_json::json!({"status": "crashed", "phase": "load", "exit_code": null, "signal": 11, "signal_name": "SIGSEGV", "hint": null, "stderr_tail": ""});
        trial["warnings"] = serde_json::json!(["the cold load is not cold"]);
        std::fs::write(&path, serde_json::to_vec(&v1).unwrap()).unwrap();
        let r = read(&path).unwrap();
        let t = &r.trials[0];
        assert!(
            matches!(&t.outcome, crate::results::Outcome::Crashed { termination: crate::results::Termination::Signal { number: 11, name }, .. } if name == "SIGSEGV"),
            "{:?}",
            t.outcome
        );
        assert_eq!(t.warnings, vec![crate::warnings::Warning::Recorded { message: "the cold load is not cold".into() }]);
        assert!(r.run.notes.iter().any(|n| n.contains("schema 1")));
    }

    #[test]
    fn reading_an_unknown_schema_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, br#"{"schema_version": 99}"#).unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("schema_version 99 is not one this mora reads (the number 1, 2 or 3)"), "{e}");
    }

    #[test]
    fn a_schema_version_of_the_wrong_type_or_sign_is_shown_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        for (json, shown) in [
            (r#"{"schema_version": "1"}"#, r#"schema_version "1" (a string) is not"#),
            (r#"{"schema_version": -2}"#, "schema_version -2 is not"),
            (r#"{"schema_version": 2.0}"#, "schema_version 2.0 is not"),
            (r#"{"schema_version": null}"#, "schema_version null is not"),
            (r#"{"trials": []}"#, "has no schema_version"),
            (r#"[1, 2]"#, "holds [1,2] (a list), not a results.json"),
        ] {
            std::fs::write(&path, json).unwrap();
            let e = format!("{:#}", read(&path).unwrap_err());
            assert!(e.contains(shown) && !e.contains("None"), "{json}: {e}");
        }
    }
}
