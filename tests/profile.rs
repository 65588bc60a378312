//! The lifecycle profile: real output validates against schema/profile.schema.json, per host, and
//! its figures are the run's.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, mora};
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/profile.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn assert_valid(profile: &Value) {
    let errors: Vec<String> = schema().iter_errors(profile).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn profile_of(runs: &[&Path], format: &str) -> String {
    let out = mora().arg("report").args(runs).args(["--format", format]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn h200_run() -> PathBuf {
    common::fixture_run("20261127T114236Z-h200")
}

#[test]
fn the_h200_runs_profile_validates_and_carries_its_cuda_figures() {
    let profile: Value = serde_json::from_str(&profile_of(&[&h200_run()], "profile")).unwrap();
    assert_valid(&profile);
    let host = &profile["hosts"][0];
    assert_eq!(host["gpus"][0], "NVIDIA H200");
    assert_eq!(host["runs"][0], "20261127T114236Z-h200");
    let cuda = host["providers"].as_array().unwrap().iter().find(|p| p["provider"] == "cuda").unwrap();
    assert_eq!(cuda["baseline"]["vram_mb"], 536.0);
    assert_eq!(cuda["worker_warmup"]["vram_mb"], 16.0, "vit-s-focus's first cycle kept 16 MB of VRAM");
    let gpt2 = cuda["models"].as_array().unwrap().iter().find(|m| m["model"] == "gpt2").unwrap();
    assert_eq!(gpt2["vram_mb"]["p50"], 1154.0);
    assert_eq!(gpt2["memory_limit_mb"], 1.5 * 1154.0 + 536.0 + 16.0, "1.5 x footprint + baseline + warm-up, in VRAM");
    assert_eq!(gpt2["weights"], "random");
    let warm = gpt2["load_warm_worker_ms"]["p50"].as_f64().unwrap();
    assert_eq!(gpt2["load_warm_worker_ms"]["n"], 5, "the cold scenario's warm loads");
    assert_eq!(gpt2["alerts"]["load_ms_above"].as_f64().unwrap(), 2.0 * warm);
    assert_eq!(gpt2["alerts"]["leak_mb_per_hour_above"], 50.0);
}

#[test]
fn a_runs_folder_holds_its_profile_with_fresh_worker_figures() {
    let fx = Fixture::new().text("tiny-text", 2_000, 32, "real").write();
    fx.bench(&["--scenario", "single,cold,isolation"]).assert().success();
    let profile: Value = serde_json::from_slice(&std::fs::read(fx.run_folder().join("profile.json")).unwrap()).unwrap();
    assert_valid(&profile);
    let model = &profile["hosts"][0]["providers"][0]["models"][0];
    assert_eq!(model["spawn_to_ready_ms"]["n"], 3);
    // The warm load is the single scenario's (after an unload and malloc_trim, over its 3 workers),
    // not the cold scenario's loads back to back (5 repeats), which find the allocator's pages kept.
    assert_eq!(model["load_warm_worker_ms"]["n"], 3, "{model:#}");
    let p95 = model["spawn_to_ready_ms"]["p95"].as_f64().unwrap();
    assert!((model["startup_probe_budget_ms"].as_f64().unwrap() - 1.5 * p95).abs() < 1e-9);
    assert!(model["kill"]["spawn_to_ready_ms"].as_f64().unwrap() > 0.0);
    assert!(model["resident_per_file_mb"].as_f64().unwrap() > 0.0);

    // YAML says the same.
    let yaml: Value = serde_yaml::from_str(&profile_of(&[&fx.run_folder()], "profile-yaml")).unwrap();
    assert_eq!(yaml["hosts"][0]["providers"][0]["models"][0]["model"], "tiny-text");
    assert_valid(&yaml);
}

#[test]
fn runs_from_two_machines_give_one_profile_per_host() {
    let fx = Fixture::new().text("tiny-text", 2_000, 32, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "1"]).assert().success();
    let other = fx.path().join("other-host");
    std::fs::create_dir_all(&other).unwrap();
    let mut run: Value = serde_json::from_slice(&std::fs::read(fx.run_folder().join("results.json")).unwrap()).unwrap();
    run["run"]["host"]["hostname"] = "gpu-node-7".into();
    std::fs::write(other.join("results.json"), serde_json::to_vec(&run).unwrap()).unwrap();
    let profile: Value = serde_json::from_str(&profile_of(&[&fx.run_folder(), &other], "profile")).unwrap();
    assert_valid(&profile);
    let hosts: Vec<&str> = profile["hosts"].as_array().unwrap().iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert_eq!(hosts.len(), 2);
    assert!(hosts.contains(&"gpu-node-7"));
}

#[test]
fn the_schema_refuses_a_profile_that_breaks_it() {
    let mut profile: Value = serde_json::from_str(&profile_of(&[&h200_run()], "profile")).unwrap();
    profile["hosts"][0]["providers"][0]["models"][0].as_object_mut().unwrap().remove("memory_limit_mb");
    assert!(!schema().is_valid(&profile), "a missing field must fail");
    profile["hosts"][0]["providers"][0]["provider"] = "tpu".into();
    assert!(!schema().is_valid(&profile));
}
