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
        .args(["--provider", "cpu"])
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
        .args(["--provider", "cpu"])
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

/// Two runs of one machine: every figure with its spread and how it compares, a change called only
/// where a rank test over both runs' workers says so, and `--fail-on-regression` exits 5 only for a
/// significant change beyond the tolerance; the settings that differ are listed.
#[test]
fn runs_compare_with_their_noise_and_a_regression_fails_ci() {
    let fx = Fixture::new().text("text-a", 500, 32, "real").write();
    let out = fx.path().join("results");
    for name in ["a", "b"] {
        fx.bench(&["--scenario", "single", "--workers", "5", "--quiet", "--run-name", name]).assert().success();
    }
    // Run d: run a's settings but one thread per session, a setting the comparison must name.
    fx.bench(&["--scenario", "single", "--workers", "1", "--quiet", "--run-name", "d", "--intra-threads", "1"]).assert().success();
    // Run c: run b with every worker's load made slower than any of run a's, as a regression would
    // be (the summaries are derived again from the workers when a report reads the file).
    let mut slower: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("b/results.json")).unwrap()).unwrap();
    let a: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("a/results.json")).unwrap()).unwrap();
    let a_max = a["trials"][0]["measurements"]["summary"]["load_time_ms"]["max"].as_f64().unwrap();
    for (i, worker) in slower["trials"][0]["measurements"]["workers"].as_array_mut().unwrap().iter_mut().enumerate() {
        worker["load_time_ms"] = serde_json::json!(a_max * 1.5 + 10.0 + i as f64);
    }
    std::fs::create_dir(out.join("c")).unwrap();
    std::fs::write(out.join("c/results.json"), serde_json::to_vec(&slower).unwrap()).unwrap();

    let report = |runs: &[&str], extra: &[&str]| {
        let mut cmd = mora();
        cmd.arg("report").args(runs.iter().map(|r| out.join(r))).args(["--style", "plain"]).args(extra).env("COLUMNS", "400");
        cmd.output().unwrap()
    };
    let same = report(&["a", "b"], &["--fail-on-regression", "1000"]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    let table = String::from_utf8_lossy(&same.stdout);
    let row = table.lines().find(|l| l.contains("cpu/text-a/single") && l.contains("memory +MB")).unwrap();
    assert!(row.contains("x ("), "every later figure says how it compares: {row}");
    assert!(table.contains("A: a") && table.contains("B: b") && table.contains("B vs A"), "{table}");

    // Every run given is compared with the first, not only the last.
    let three = report(&["a", "b", "c"], &["--fail-on-regression", "20"]);
    assert_eq!(three.status.code(), Some(5), "{}", String::from_utf8_lossy(&three.stderr));
    let table = String::from_utf8_lossy(&three.stdout);
    assert!(table.contains("B vs A") && table.contains("C vs A"), "{table}");
    let load_row = table.lines().find(|l| l.split("  ").any(|cell| cell.trim() == "load ms")).unwrap();
    assert!(load_row.contains("WORSE by"), "{load_row}");
    let stderr = String::from_utf8_lossy(&three.stderr);
    // Every worker of c slower than every worker of a: the rank test's p is 2/252.
    assert!(stderr.contains("regression: cpu/text-a/single load ms in c:") && stderr.contains("p 0.008"), "{stderr}");
    assert!(!stderr.contains("memory +MB in c"), "c's memory is b's, no regression: {stderr}");

    // Settings that differ are named above the comparison; one worker a side cannot fail the gate.
    let other = report(&["a", "d"], &["--fail-on-regression", "5"]);
    assert_eq!(other.status.code(), Some(0), "{}", String::from_utf8_lossy(&other.stderr));
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("setting differs: cpu setup.cpu.intra_threads = — / 1"), "{stderr}");
    assert!(stderr.contains("setting differs: settings.workers = 5 / 1"), "{stderr}");
    assert!(stderr.contains("cannot fail the gate: run `mora bench --workers 5`"), "{stderr}");
    let table = String::from_utf8_lossy(&other.stdout);
    let settings = table.find("Settings that differ between the runs").expect("a settings section");
    assert!(settings < table.find("Comparison (scenario single)").unwrap(), "the settings come first: {table}");

    // One run cannot regress.
    let alone = report(&["a"], &["--fail-on-regression", "5"]);
    assert_eq!(alone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&alone.stderr).contains("give two results files or more"));
}

/// `--in-place` renders a run's reports again in its own folder with today's rules; the record is
/// never written.
#[test]
fn a_committed_run_is_rendered_again_in_place_and_its_record_kept() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("h200");
    std::fs::create_dir(&run).unwrap();
    let committed = common::fixture_run("20261127T114236Z-h200").join("results.json");
    std::fs::copy(&committed, run.join("results.json")).unwrap();
    std::fs::write(run.join("report.md"), "rendered by an older mora").unwrap();
    mora().arg("report").arg(&run).arg("--in-place").assert().success();
    assert_eq!(std::fs::read(run.join("results.json")).unwrap(), std::fs::read(&committed).unwrap(), "the record as it was");
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.starts_with("# ModelMora") && md.contains("](leak.svg)"), "{md}");
    for file in ["report.html", "results.csv", "profile.json", "leak.svg"] {
        assert!(run.join(file).is_file(), "{file}");
    }
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("leak_slope_after_trim_mb_per_cycle,leak_net_growth_after_trim_mb,leak_slope_without_trim_mb_per_cycle")
    );

    let two = mora().arg("report").arg(&run).arg(&run).arg("--in-place").output().unwrap();
    assert_eq!(two.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&two.stderr).contains("--in-place re-renders one run in its own folder"));
}

/// `--batch-size` and `--sequence-length`: a trial per size (an image model's per batch size only),
/// fed those sizes, labelled in the tables and the CSV; the advice counts each model once.
#[test]
fn a_sweep_is_a_trial_per_size_labelled_everywhere() {
    let fx = Fixture::new().text("text-a", 500, 32, "real").vision("image-a", 16).write();
    fx.bench(&["--scenario", "single", "--workers", "1", "--quiet", "--batch-size", "1,2", "--sequence-length", "8,16,8"])
        .assert()
        .success();
    let r = fx.results();
    let ids: Vec<&str> = r["trials"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "cpu/text-a@b1s8/single",
            "cpu/text-a@b1s16/single",
            "cpu/text-a@b2s8/single",
            "cpu/text-a@b2s16/single",
            "cpu/image-a@b1/single",
            "cpu/image-a@b2/single"
        ],
        "a repeated size runs once"
    );
    // The worker was fed the point's sizes.
    let inputs = &trial(&r, "cpu/text-a@b2s16/single")["measurements"]["workers"][0]["inputs"];
    assert_eq!(inputs[0]["shape"], serde_json::json!([2, 16]), "{inputs:#}");
    assert_eq!(trial(&r, "cpu/image-a@b2/single")["point"], serde_json::json!({"batch_size": 2}));

    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("| text-a (batch 2, seq 16) |") && md.contains("| image-a (batch 2) |"), "{md}");
    assert!(md.contains("Swept, a trial per size: batch sizes 1, 2; sequence lengths (text inputs) 8, 16."), "{md}");
    let loading = r["recommendations"].as_array().unwrap().iter().find(|a| a["topic"] == "loading_strategy").unwrap();
    let per_model = |model: &str| {
        loading["evidence"].as_array().unwrap().iter().filter(|e| e.as_str().unwrap().starts_with(&format!("{model}: warm load"))).count()
    };
    assert_eq!((per_model("text-a"), per_model("image-a")), (1, 1), "each model once, at its first size: {loading:#}");
    let csv = std::fs::read_to_string(fx.run_folder().join("results.csv")).unwrap();
    assert!(csv.lines().any(|l| l.contains("cpu/text-a@b2s16/single,text-a,2,16,")), "{csv}");
}
