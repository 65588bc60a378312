//! results.json's JSON Schema: the committed schema is what `mora report --schema` prints, and real
//! output validates against it: a fresh run on the fixtures, and every committed run of results
//! schema 2. Schema 1 runs (mora 0.1) are read through a migration and do not validate; the schema
//! says so.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, mora};
use serde_json::Value;

fn committed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json")
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_slice(&std::fs::read(committed_path()).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn errors(validator: &jsonschema::Validator, results: &Value) -> Vec<String> {
    validator.iter_errors(results).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_committed_schema_is_what_mora_report_schema_prints() {
    let out = mora().args(["report", "--schema"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == String::from_utf8(out.stdout).unwrap(),
        "schema/results.schema.json is not what this mora prints: regenerate it with `cargo run -- report --schema > schema/results.schema.json`"
    );
    // The schema or a report, not both.
    mora().args(["report", "--schema", "results/20261127T143235Z-vm"]).assert().failure();
}

#[test]
fn a_fresh_run_validates() {
    let fx = Fixture::new().text("tiny-text", 2_000, 32, "random").vision("tiny-vision", 8).write();
    fx.bench(&["--scenario", "single,leak,isolation,cold,concurrent", "--workers", "2", "--cycles", "2", "--repeats", "2"])
        .assert()
        .success();
    let results = fx.results();
    assert!(results["trials"].as_array().unwrap().iter().all(|t| t["outcome"]["status"] == "ok"), "{results:#}");
    let errors = errors(&validator(), &results);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn every_committed_schema_2_run_validates_and_schema_1_runs_do_not() {
    let validator = validator();
    let mut schema_2 = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("results")).unwrap() {
        let path = entry.unwrap().path().join("results.json");
        if !path.exists() {
            continue;
        }
        let results = read(&path);
        let errors = errors(&validator, &results);
        match results["schema_version"].as_u64() {
            Some(2) => {
                schema_2 += 1;
                assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            }
            _ => assert!(!errors.is_empty(), "{} is not schema 2 and yet validates", path.display()),
        }
    }
    assert!(schema_2 > 0, "no committed schema 2 run under results/");
}

#[test]
fn the_schema_refuses_what_mora_would_not_read() {
    let validator = validator();
    let run = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("results/20261127T143235Z-vm/results.json"));
    for (pointer, value) in [
        ("/schema_version", Value::from(3)),
        ("/trials/0/weights", Value::from("heavy")),
        ("/trials/0/outcome/status", Value::from("exploded")),
        ("/trials/0/measurements/scenario", Value::from("warp")),
    ] {
        let mut broken = run.clone();
        *broken.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        assert!(!validator.is_valid(&broken), "{pointer} broken and still valid");
    }
}
