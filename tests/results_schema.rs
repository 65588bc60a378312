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
    mora().args(["report", "--schema"]).arg(common::fixture_run("20261127T143235Z-vm")).assert().failure();
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

/// Every committed run (results schema 1, 2 or 3), as mora reads it (`mora report RUN --format json`
/// brings older schemas to the current one), validates; the raw files of older schemas do not.
#[test]
fn every_committed_run_read_by_mora_validates_and_older_raw_files_do_not() {
    let validator = validator();
    let mut runs = 0;
    for run in common::fixture_and_published_runs() {
        let path = run.join("results.json");
        runs += 1;
        let found = errors(&validator, &as_mora_reads_it(&path));
        assert!(found.is_empty(), "{} as mora reads it: {found:#?}", path.display());
        let raw = read(&path);
        if raw["schema_version"] != 3 {
            assert!(!errors(&validator, &raw).is_empty(), "{} is an older schema and yet validates", path.display());
        }
    }
    assert!(runs > 0, "no run under tests/fixtures/runs/");
}

/// A results.json as this mora reads it, brought to the current schema.
fn as_mora_reads_it(path: &Path) -> Value {
    let out = mora().arg("report").arg(path).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_schema_refuses_what_mora_would_not_read() {
    let validator = validator();
    let run = as_mora_reads_it(&common::fixture_run("20261127T143235Z-vm").join("results.json"));
    assert!(validator.is_valid(&run), "the run as mora reads it validates before it is broken");
    for (pointer, value) in [
        ("/schema_version", Value::from(99)),
        ("/trials/0/weights", Value::from("heavy")),
        ("/trials/0/outcome/status", Value::from("exploded")),
        ("/trials/0/measurements/scenario", Value::from("warp")),
    ] {
        let mut broken = run.clone();
        *broken.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        assert!(!validator.is_valid(&broken), "{pointer} broken and still valid");
    }
}
