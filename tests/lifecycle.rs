//! What a lifecycle manager needs, on fixture models: idle gaps are honoured, a soak finds a leak at
//! the rate it has (and none in a clean worker), a worker under too small a memory limit is reported
//! as killed by the limit, new input shapes are timed, and the profile carries all of it.

mod common;

use std::time::Instant;

use common::{Fixture, trial};
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn idle_gaps_are_honoured_and_reported() {
    let fx = Fixture::new().text("text-a", 2_000, 32, "real").write();
    let start = Instant::now();
    fx.bench(&["--scenario", "idle", "--idle-gaps", "0,0.4"]).assert().success();
    assert!(start.elapsed().as_secs_f64() > 1.2, "three requests after 0.4 s each");
    let r = fx.results();
    let m = &trial(&r, "cpu/text-a/idle")["measurements"];
    let gaps = m["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 2);
    assert_eq!(gaps[1]["gap_s"], 0.4);
    assert_eq!(gaps[1]["samples_ms"].as_array().unwrap().len(), 3);
    assert!(f(&m["steady"]["median"]) > 0.0);
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("## First request after an idle gap (scenario idle)") && md.contains("After 0.4 s idle ms"), "{md}");
    assert!(r["recommendations"].as_array().unwrap().iter().any(|a| a["topic"] == "keep_alive"));
}

fn soak(fault: Option<&str>) -> Value {
    let fx = Fixture::new().text("text-a", 2_000, 32, "real").write();
    let mut cmd = fx.bench(&["--scenario", "soak", "--soak-duration", "6s"]);
    if let Some(fault) = fault {
        cmd.env("MORA_FAULT", fault);
    }
    cmd.assert().success();
    trial(&fx.results(), "cpu/text-a/soak")["measurements"].clone()
}

#[test]
fn a_soak_finds_a_leak_at_its_rate_and_none_in_a_clean_worker() {
    // 256 KB kept by every inference: the rate follows from the inferences per second.
    let leaky = soak(Some("leak-per-inference:256"));
    let resident = &leaky["resident"];
    let per_second = f(&resident["inferences"]) / f(&resident["duration_s"]);
    let expected = per_second * 0.25 * 3600.0;
    let measured = f(&resident["rss"]["mb_per_hour"]);
    assert!((measured - expected).abs() < 0.35 * expected, "measured {measured:.0} MB/h, expected {expected:.0} MB/h: {resident:#}");
    assert!(resident["samples"].as_array().unwrap().len() >= 5);
    // Each half of the 6 s soak has its own duration (the cycling half once counted the resident one too).
    for half in ["cycling", "resident"] {
        let d = f(&leaky[half]["duration_s"]);
        assert!((2.5..4.5).contains(&d), "{half} lasted {d:.1} s of a 6 s soak");
    }

    let clean = soak(None);
    let clean_rate = f(&clean["resident"]["rss"]["mb_per_hour"]);
    assert!(clean_rate.abs() < 0.1 * expected, "a clean worker grows {clean_rate:.1} MB/h (the leaky one {expected:.0})");
}

#[test]
fn a_worker_under_too_small_a_limit_is_killed_by_the_limit_not_a_crash_of_mora() {
    let fx = Fixture::new().text("big-text", 30_000, 200, "real").write();
    fx.bench(&["--scenario", "memory-limit", "--limit-multipliers", "0.3,2"]).assert().success();
    let r = fx.results();
    let t = trial(&r, "cpu/big-text/memory-limit");
    assert_eq!(t["outcome"]["status"], "ok", "{t:#}");
    let m = &t["measurements"];
    match m["mechanism"].get("Ok") {
        Some(_) => {
            // 24 MB of weights, read into the worker's memory; the file's page cache is charged too now
            // that mora evicts it before each worker (before, whoever read it first was charged, and
            // the limits moved with it: a 2x limit was once below the load's peak), so half is the bar.
            assert!(f(&m["ready_charge_mb"]) > f(&m["baseline_charge_mb"]) + 12.0, "the model's 24 MB are charged: {m:#}");
            let attempts = m["ram"].as_array().unwrap();
            assert_eq!(attempts[0]["outcome"], "killed-by-limit", "{m:#}");
            assert!(attempts[0]["detail"].as_str().unwrap().contains("killed by the memory limit"));
            assert_eq!(attempts[1]["outcome"], "survived", "{m:#}");
        }
        // No cgroup to make here: the scenario says why and the run goes on.
        None => assert!(!m["mechanism"]["Err"].as_str().unwrap().is_empty(), "{m:#}"),
    }
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("## Memory limits (scenario memory-limit)"), "{md}");
}

#[test]
fn new_input_shapes_are_timed_and_the_profile_carries_the_lifecycle_figures() {
    let fx = Fixture::new().text("text-a", 2_000, 32, "real").write();
    fx.bench(&[
        "--scenario",
        "single,shapes,idle,soak",
        "--workers",
        "1",
        "--shape-batches",
        "1,2",
        "--shape-sequences",
        "8,64",
        "--idle-gaps",
        "0,0.2",
        "--soak-duration",
        "2s",
    ])
    .assert()
    .success();
    let r = fx.results();
    let shapes = trial(&r, "cpu/text-a/shapes")["measurements"]["shapes"].as_array().unwrap().clone();
    let grid: Vec<(u64, u64)> =
        shapes.iter().map(|s| (s["batch_size"].as_u64().unwrap(), s["sequence_length"].as_u64().unwrap())).collect();
    assert_eq!(grid, vec![(1, 8), (1, 64), (2, 8), (2, 64)]);
    for s in &shapes {
        assert!(f(&s["first_ms"]) > 0.0 && s["steady"]["n"] == 5, "{s:#}");
    }
    let profile: Value = serde_json::from_slice(&std::fs::read(fx.run_folder().join("profile.json")).unwrap()).unwrap();
    let model = &profile["hosts"][0]["providers"][0]["models"][0];
    assert_eq!(model["keep_alive"]["longest_gap_tried_s"], 0.2, "{model:#}");
    assert!(model["soak"]["duration_s"].as_f64().unwrap() > 1.0, "{model:#}");
    assert!(model["warm_up_shapes"].is_array());
}

/// A text model with 16 positions: Add(token embeddings [batch, sequence, 8], positions [16, 8])
/// broadcasts only at sequence 16 (or 1), as CLIP's text tower runs only up to its 77 positions.
fn text_model_with_16_positions() -> Vec<u8> {
    use mora::onnx_writer::{Dim, ElemType, ModelBuilder, named};
    let emb: Vec<f32> = (0..100 * 8).map(|i| (i % 11) as f32 / 11.0).collect();
    let positions: Vec<f32> = (0..16 * 8).map(|i| (i % 5) as f32 / 5.0).collect();
    let bs = [named("batch"), named("sequence")];
    let mut b = ModelBuilder::new(17);
    b.input("input_ids", ElemType::Int64, &bs)
        .output("last_hidden_state", ElemType::Float, &[named("batch"), named("sequence"), Dim::Fixed(8)])
        .initializer_f32("embedding", &[100, 8], &emb)
        .initializer_f32("positions", &[16, 8], &positions)
        .node("Gather", &["embedding", "input_ids"], &["tokens"], &[])
        .node("Add", &["tokens", "positions"], &["last_hidden_state"], &[]);
    b.build()
}

#[test]
fn a_shape_the_model_cannot_take_is_recorded_and_the_other_shapes_are_timed() {
    let fx = Fixture::new()
        .entry("  - id: short-text\n    type: embedding\n    weights: real\n    sequence_length: 16\n    source: {kind: onnx-file, package: fixture==1, file: model.onnx}\n    tokenizer: {kind: tokenizer-json, package: fixture==1, file: tokenizer.json}\n")
        .write();
    std::fs::create_dir_all(fx.path().join("models/short-text")).unwrap();
    std::fs::write(fx.path().join("models/short-text/model.onnx"), text_model_with_16_positions()).unwrap();
    std::fs::write(fx.path().join("models/short-text/tokenizer.json"), common::tokenizer_json()).unwrap();
    fx.bench(&["--scenario", "shapes", "--shape-batches", "1,2", "--shape-sequences", "16,32"]).assert().success();
    let r = fx.results();
    let t = trial(&r, "cpu/short-text/shapes");
    assert_eq!(t["outcome"]["status"], "ok", "{t:#}");
    let shapes = t["measurements"]["shapes"].as_array().unwrap();
    assert_eq!(shapes.len(), 4, "{shapes:#?}");
    for s in shapes {
        let runs = s["sequence_length"] == 16;
        assert_eq!(s["first_ms"].is_f64(), runs, "{s:#}");
        assert_eq!(s["error"].as_str().is_some_and(|e| e.contains("16 by 32") || e.contains("32 by 16")), !runs, "{s:#}");
    }
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("| 2 x 32 | does not run |") && md.contains("short-text at 2 x 32 does not run: "), "{md}");
}
