//! Habits of people who benchmark: their own model in one command, a models.yaml entry for a local
//! file without ceremony.

mod common;

use common::{Fixture, mora, trial};
use predicates::prelude::*;

#[test]
fn your_own_model_in_one_command_without_a_models_yaml() {
    // 500 rows of token embedding: random ids must stay below them.
    let fx = Fixture::new().text("text-a", 500, 32, "real").write();
    let model = fx.path().join("models/text-a/model.onnx");
    let out = fx.path().join("results");
    mora()
        .arg("bench")
        .arg("--model")
        .arg(&model)
        .args(["--scenario", "single", "--workers", "1"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = fx.results();
    let m = &r["models"][0];
    assert_eq!(m["id"], "text-a", "named by its folder");
    assert_eq!(m["type"], "embedding", "told from the graph: token ids, no logits");
    assert_eq!(m["weights"], "unknown");
    let inputs = &trial(&r, "cpu/text-a/single")["measurements"]["workers"][0]["inputs"];
    assert!(inputs[0]["fill"].as_str().unwrap().contains("seeded random token ids below 500 (no tokenizer)"), "{inputs:#}");
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("Weights not stated: text-a"), "{md}");

    // With its tokenizer and a type, those are used.
    std::fs::remove_dir_all(&out).unwrap();
    mora()
        .arg("bench")
        .arg("--model")
        .arg(&model)
        .arg("--tokenizer")
        .arg(fx.path().join("models/text-a/tokenizer.json"))
        .args(["--type", "text-generation", "--scenario", "single", "--workers", "1"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = fx.results();
    assert_eq!(r["models"][0]["type"], "text-generation");
    let inputs = &trial(&r, "cpu/text-a/single")["measurements"]["workers"][0]["inputs"];
    assert!(inputs[0]["fill"].as_str().unwrap().contains("tokenizer.json"), "{inputs:#}");

    mora()
        .args(["bench", "--model", "/nonexistent/m.onnx"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--model /nonexistent/m.onnx: no such file"));
}

#[test]
fn a_local_entry_needs_no_weights_but_an_exported_one_does() {
    let fx = Fixture::new()
        .entry("  - id: mine\n    type: embedding\n    path: models/text-a/model.onnx\n    source: {kind: local}\n")
        .text("text-a", 2_000, 32, "real")
        .write();
    mora().arg("models").arg("--config").arg(fx.config()).assert().success().stdout(predicate::str::contains("mine"));
    let text = std::fs::read_to_string(fx.config()).unwrap().replacen("    weights: real\n", "", 1);
    std::fs::write(fx.config(), text).unwrap();
    mora()
        .arg("models")
        .arg("--config")
        .arg(fx.config())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("model `text-a`: say `weights: real` or `weights: random`"));
}

#[test]
fn files_a_script_names_a_latest_link_and_a_dry_run() {
    let fx = Fixture::new().text("text-a", 500, 32, "real").write();
    let exports = fx.path().join("exports");
    let out = fx
        .bench(&["--scenario", "single", "--workers", "1", "--quiet"])
        .arg("--export-json")
        .arg(exports.join("run.json"))
        .arg("--export-csv")
        .arg(exports.join("run.csv"))
        .arg("--export-markdown")
        .arg(exports.join("run.md"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "--quiet prints no tables: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("[1/1]"), "--quiet prints no progress: {stderr}");
    let exported: serde_json::Value = serde_json::from_slice(&std::fs::read(exports.join("run.json")).unwrap()).unwrap();
    assert_eq!(exported["trials"][0]["id"], "cpu/text-a/single");
    assert!(std::fs::read_to_string(exports.join("run.csv")).unwrap().starts_with("run,host,runtime_version,started_at,trial,"));
    assert!(std::fs::read_to_string(exports.join("run.md")).unwrap().starts_with("# ModelMora"));
    let latest = fx.path().join("results/latest");
    assert_eq!(std::fs::read_link(&latest).unwrap(), fx.run_folder().file_name().unwrap(), "latest names the run folder");
    assert!(latest.join("results.json").is_file());

    // The plan alone: nothing runs, nothing is written.
    let plan = fx.bench(&["--dry-run", "--scenario", "single,leak"]).output().unwrap();
    assert!(plan.status.success());
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        stdout.contains("[1/2] cpu/text-a/single") && stdout.contains("[2/2] cpu/text-a/leak") && stdout.contains("nothing ran"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_dir(fx.path().join("results")).unwrap().count(), 2, "the run folder and latest, no new run");
}

#[test]
fn progress_says_what_is_left_and_the_total() {
    let fx = Fixture::new().text("text-a", 500, 32, "real").text("text-b", 500, 32, "real").write();
    let out = fx.bench(&["--scenario", "single", "--workers", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[1/2] cpu/text-a/single ... ok") && stderr.contains("elapsed, about"), "{stderr}");
    assert!(stderr.contains("2 trials in "), "{stderr}");
    let r = fx.results();
    assert_eq!(r["run"]["machine_load"].as_array().unwrap().len(), 3, "before the first trial and after each");
}
