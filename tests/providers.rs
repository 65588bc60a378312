//! Providers as data: every backend in doctor, OpenVINO running here beside CPU with the comparison
//! table and the backend advice, options reaching the trial, and a provider mora has never seen read
//! with its figures labelled as what they are.

mod common;

use common::{Fixture, mora, trial};
use predicates::prelude::*;

fn committed_run() -> std::path::PathBuf {
    common::fixture_run("20261127T114236Z-h200").join("results.json")
}

#[test]
fn doctor_lists_every_provider_with_its_state() {
    let out = mora().args(["doctor", "--no-cuda-session"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for name in ["cpu", "cuda", "tensorrt", "tensorrt-rtx", "openvino", "webgpu"] {
        assert!(text.contains(&format!("\n{name}: ")), "doctor does not list {name}:\n{text}");
    }
    assert!(text.contains("OpenVINOExecutionProvider") && text.contains("options (--ep-option openvino.KEY=VALUE): device_type"), "{text}");
    assert!(text.contains("`--provider cuda` cannot run here"), "a CPU-only runtime blocks CUDA, named: {text}");
}

/// Needs the OpenVINO runtime build or plugin that `scripts/setup.sh` installs (`--no-providers` skips them).
#[test]
fn openvino_runs_beside_cpu_with_the_comparison_and_the_backend_advice() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let ok = fx
        .bench(&["--provider", "cpu,openvino", "--scenario", "single", "--workers", "2", "--ep-option", "openvino.num_of_threads=1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Backends compared"));
    let stdout = String::from_utf8_lossy(&ok.get_output().stdout).into_owned();
    let r = fx.results();
    let statuses = r["run"]["providers"].as_array().unwrap();
    let ov = statuses.iter().find(|p| p["provider"] == "openvino").expect("openvino's status is recorded");
    assert_eq!(ov["ran"], true, "{ov}");
    assert!(ov["libraries"].as_str().is_some_and(|l| l.starts_with("from the ")), "which source ran is said: {ov}");
    let t = trial(&r, "openvino/tiny-text/single");
    assert_eq!(t["outcome"]["status"], "ok", "{}", t["outcome"]);
    assert_eq!(t["provider_setup"]["options"]["num_of_threads"], "1", "--ep-option reaches the trial");
    assert_eq!(t["providers_registered"][0], "OpenVINOExecutionProvider");
    let placement = &t["measurements"]["workers"][0]["first_load"]["placement"]["nodes"];
    let on = placement["OpenVINOExecutionProvider"].as_u64().unwrap_or(0);
    assert!(on > 0, "OpenVINO ran nodes of the model: {placement}");
    // One row per provider for the model, and the per-model backend advice.
    assert!(stdout.contains("Backend per model"), "{stdout}");
    let rec = r["recommendations"].as_array().unwrap().iter().find(|x| x["topic"] == "backend_choice").expect("backend advice");
    assert!(rec["verdict"].as_str().unwrap().contains("openvino"), "{rec}");
    assert!(rec["evidence"][0].as_str().unwrap().starts_with("tiny-text: "), "{rec}");
    // The CPU trial keeps CPU's figures only: no provider options, no foreign runtime.
    let cpu = trial(&r, "cpu/tiny-text/single");
    assert!(cpu["provider_setup"].get("options").is_none() && cpu["provider_setup"].get("runtime").is_none(), "{}", cpu["provider_setup"]);
}

#[test]
fn a_provider_mora_has_never_seen_has_its_figures_labelled_by_their_memory() {
    // The committed H200 run with its CUDA trials relabelled as a provider no mora knows.
    let text = std::fs::read_to_string(committed_run()).unwrap();
    let mut r: serde_json::Value = serde_json::from_str(&text).unwrap();
    for t in r["trials"].as_array_mut().unwrap() {
        if t["provider"] == "cuda" {
            t["provider"] = "future-npu".into();
            t["provider_setup"]["provider"] = "future-npu".into();
        }
    }
    for p in r["run"]["providers"].as_array_mut().unwrap() {
        if p["provider"] == "cuda" {
            p["provider"] = "future-npu".into();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, serde_json::to_vec(&r).unwrap()).unwrap();
    let out = mora().args(["report"]).arg(&path).args(["--format", "markdown"]).output().unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Its memory is not read as CUDA's: no VRAM budget, the device said to be unmeasured.
    assert!(md.contains("future-npu: the provider's device memory is not measured"), "{md}");
    assert!(md.contains("| future-npu |") && md.contains("not measured"), "{md}");
    let planning = md.lines().find(|l| l.contains("Resource planning") && l.contains("future-npu")).unwrap_or_default();
    assert!(!planning.contains("VRAM"), "{planning}");
    // The same run with its real name keeps CUDA's device figures.
    let out = mora().args(["report"]).arg(committed_run()).args(["--format", "markdown"]).output().unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| cuda |") && !md.contains("cuda: the provider's device memory is not measured"), "{md}");
}

#[test]
fn ep_options_and_libraries_are_checked_before_any_trial() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--provider", "openvino", "--ep-option", "openvino.cache=/tmp/x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no option `cache`").and(predicate::str::contains("cache_dir")));
    fx.bench(&["--provider", "openvno"]).assert().code(1).stderr(predicate::str::contains("unknown provider `openvno`"));
    fx.bench(&["--provider", "my-npu", "--ep-lib", "my-npu=/nonexistent/libmy_npu.so"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--ep-lib /nonexistent/libmy_npu.so: no such file"));
    assert!(!fx.path().join("results").exists(), "nothing ran, nothing written");
}
