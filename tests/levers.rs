//! The load-path and memory levers, and `mora optimize`, on fixture models: each configuration
//! reaches ONNX Runtime (it reports back what was set), outputs are checked, a differing
//! configuration is never recommended, and a pre-optimised model is only loaded by the runtime and
//! provider that made it.

mod common;

use common::{Fixture, mora, trial};
use predicates::prelude::*;
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn lever<'a>(m: &'a Value, label: &str) -> &'a Value {
    m["levers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label"].as_str().unwrap().starts_with(label))
        .unwrap_or_else(|| panic!("no lever {label} in {m:#}"))
}

#[test]
fn every_lever_is_measured_checked_and_reported_back() {
    let fx = Fixture::new().text("text-a", 20_000, 64, "real").write();
    fx.bench(&["--scenario", "levers", "--repeats", "2", "--runs", "3"]).assert().success();
    let r = fx.results();
    let m = &trial(&r, "cpu/text-a/levers")["measurements"];
    let floor = &m["floor"];
    assert!(f(&floor["page_cache_read_ms"]) > 0.0 && f(&floor["page_cache_mb_per_s"]) > 10.0, "{floor:#}");
    assert_eq!(floor["floor_ms"], floor["page_cache_read_ms"], "on CPU the floor is the read");
    for l in m["levers"].as_array().unwrap() {
        // Only ONNX Runtime's own conditions keep a lever from being tried (one core: no parallel prepacking).
        if let Some(e) = l["error"].as_str() {
            assert!(e.starts_with("not applicable"), "{l:#}");
            continue;
        }
        assert_eq!(l["load_ms"]["n"], 3, "--repeats 2 is raised to three sessions: {l:#}");
        assert_eq!(l["steady_p50s_ms"].as_array().unwrap().len(), 3, "each session's own p50: {l:#}");
        assert_eq!(l["first_answers_ms"].as_array().unwrap().len(), 3, "{l:#}");
        let sum = f(&l["load_ms"]["median"]) + f(&l["first_inference_ms"]["median"]);
        assert!(f(&l["first_answer_ms"]["median"]) <= sum * 1.5 + 1.0, "a first answer is a load and its first inference: {l:#}");
        if l["lever"]["lever"] != "default" {
            assert_eq!(l["agreement"]["same"], true, "{l:#}");
            assert!(l["steady_vs_default"]["note"].is_string(), "{l:#}");
        }
    }
    // What ONNX Runtime reports back for each option.
    let disabled = lever(m, "graph optimisation disabled")["evidence"][0].as_str().unwrap().to_string();
    let nodes: Vec<u64> = disabled.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert_eq!(nodes[0], nodes[1], "optimisation disabled leaves the graph as it is: {disabled}");
    assert_eq!(lever(m, "weight prepacking off")["evidence"][0], "session.disable_prepacking=1");
    let threads = |label: &str| -> u64 {
        let e = lever(m, label)["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e.as_str()?.strip_prefix("threads while loaded: ")?.parse().ok());
        e.unwrap_or_else(|| panic!("no thread count for {label}"))
    };
    assert!(threads("1 intra-op thread") <= threads("default"), "one intra-op thread starts no more threads than the default");
    // Every configuration's load broken down by ONNX Runtime's profiler, the remainder beside it.
    for l in m["levers"].as_array().unwrap().iter().filter(|l| l["error"].is_null()) {
        let phases = |b: &Value| -> Vec<(String, f64)> {
            b["phases"]
                .as_array()
                .unwrap_or_else(|| panic!("no breakdown: {l:#}"))
                .iter()
                .map(|p| (p["phase"].as_str().unwrap().to_string(), f(&p["ms"])))
                .collect()
        };
        let timed = phases(&l["breakdown"]);
        // Setup and parse apart where the profiler has a model-loading event, else as one.
        let names: Vec<&str> = timed.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            names == ["session-setup", "model-parse", "initialization", "remainder"]
                || names == ["setup-and-parse", "initialization", "remainder"],
            "{l:#}"
        );
        assert!(timed[timed.len() - 2].1 > 0.0, "{l:#}");
        let logged = &l["logged_breakdown"];
        let split = phases(logged);
        let names: Vec<&str> = split.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            names.contains(&"graph-optimization") && names.contains(&"kernels-and-prepacking") && names.contains(&"initializer-saving"),
            "{logged:#}"
        );
        let sum: f64 = split.iter().map(|(_, ms)| ms).sum();
        assert!((sum - f(&logged["wall_ms"])).abs() < 0.01, "the phases and the remainder add up to the wall time: {logged:#}");
    }
    let transformers = |label: &str| lever(m, label)["logged_breakdown"]["transformers"].as_array().map_or(0, |t| t.len());
    assert!(transformers("default") > 3, "the default runs graph transformers, each timed from the log");
    assert!(transformers("graph optimisation disabled") < transformers("default"), "only the required transformers run when disabled");
    // The headline: the chosen configuration, the fastest first answer that agrees and keeps pace.
    let chosen = &m["chosen"];
    let best = m["levers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["error"].is_null() && l["steady_vs_default"]["direction"] != "worse")
        .map(|l| f(&l["first_answer_ms"]["median"]))
        .fold(f64::MAX, f64::min);
    assert_eq!(f(&chosen["first_answer_ms"]["median"]), best, "{chosen:#}");
    let row = m["levers"].as_array().unwrap().iter().find(|l| l["lever"] == chosen["lever"]).unwrap();
    let target = f(&floor["floor_ms"]) + f(&row["steady_p50_ms"]);
    assert!((f(&chosen["target_ms"]) - target).abs() < 1e-9, "floor + its own p50: {chosen:#}");
    assert!((f(&chosen["over_target"]) - f(&chosen["first_answer_ms"]["median"]) / target).abs() < 1e-9, "{chosen:#}");
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("## Time to first answer (scenario levers)") && md.contains("(chosen)"), "{md}");
    assert!(md.contains("## Load-path levers (scenario levers)") && md.contains("text-a on cpu: floor "), "{md}");
    assert!(md.contains("The floor is measured the same way every time"), "{md}");
    assert!(md.contains("## Load breakdown (scenario levers)") && md.contains("Biggest phase"), "{md}");
    let advice = r["recommendations"].as_array().unwrap().iter().find(|a| a["topic"] == "load_path").expect("a load-path recommendation");
    assert!(advice["evidence"][0].as_str().unwrap().contains("against the floor + its p50"), "{advice:#}");
    assert!(advice["verdict"].as_str().unwrap().starts_with("First answer within"), "{advice:#}");
}

/// A language-model fixture: its logits' MatMul reads the whole 6 MB head, so where its weights
/// lie shows in the process's memory.
#[test]
fn the_new_levers_are_verified_by_what_onnx_runtime_and_the_process_report() {
    let fx = Fixture::new().lm("lm-a", 16_000, 96).write();
    fx.bench(&["--scenario", "levers", "--repeats", "3", "--runs", "3"]).assert().success();
    let r = fx.results();
    let m = &trial(&r, "cpu/lm-a/levers")["measurements"];
    let evidence = |label: &str| -> Vec<String> {
        lever(m, label)["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect()
    };
    let has = |label: &str, text: &str| {
        let e = evidence(label);
        assert!(e.iter().any(|x| x.contains(text)), "{label}: no \"{text}\" in {e:#?}");
    };
    // Saved pre-packed weights: the data file holds the packed head beside the plain one.
    let packed = evidence("pre-optimised ONNX with saved pre-packed weights");
    let grown: f64 = packed
        .iter()
        .find_map(|e| e.split(", ").nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no data file sizes: {packed:#?}"));
    assert!(grown > 2.0, "the packed head is written beside the plain weights: {packed:#?}");
    // ORT format mapped: ONNX Runtime logs it; from bytes: the keys it holds.
    has("pre-optimised ORT format mapped from the file", "ONNX Runtime logged \"ORT model loaded via memory-mapped I/O.\"");
    has("pre-optimised ORT format mapped from the file", "session.use_memory_mapped_ort_model=1");
    has("pre-optimised ORT format used in place", "session.use_ort_model_bytes_directly=1");
    has("pre-optimised ORT format used in place", "session.use_ort_model_bytes_for_initializers=1");
    // Mapped against copied, by the process's memory: the pre-optimised copy's head stays in the
    // mapping with prepacking off; the original's weights, inside the protobuf, are copied.
    let weights = |label: &str| lever(m, label)["weights"]["verdict"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        weights("pre-optimised ONNX, initializers left mapped"),
        "mapped",
        "{:#}",
        lever(m, "pre-optimised ONNX, initializers left mapped")
    );
    assert_eq!(weights("default"), "copied", "{:#}", lever(m, "default"));
    // Parallel prepacking: the key reached ONNX Runtime, or one thread is said to be the reason.
    let parallel = lever(m, "parallel prepacking");
    match parallel["error"].as_str() {
        Some(e) => assert!(e.contains("more than one intra-op thread"), "{parallel:#}"),
        None => has("parallel prepacking", "session.prepack.enable_parallel=1"),
    }
    // Skipped optimizers: each is the default's costly transformer, and the log shows it did not run.
    let skipped: Vec<&Value> = m["levers"].as_array().unwrap().iter().filter(|l| l["lever"]["lever"] == "disable-optimizer").collect();
    assert!(!skipped.is_empty(), "the default's costliest transformers are tried skipped");
    let default_transformers: Vec<&str> =
        lever(m, "default")["logged_breakdown"]["transformers"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for l in skipped.iter().filter(|l| l["error"].is_null()) {
        let name = l["lever"]["name"].as_str().unwrap();
        assert!(default_transformers.contains(&name), "{name} among {default_transformers:?}");
        assert!(
            l["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.as_str().unwrap() == format!("{name} did not run (the session's log has no line of it)")),
            "{l:#}"
        );
    }
    // The chosen configuration is never one whose outputs differ or whose p50 is worse.
    let chosen = &m["chosen"];
    let row = m["levers"].as_array().unwrap().iter().find(|l| l["lever"] == chosen["lever"]).unwrap();
    assert!(row["agreement"].is_null() || row["agreement"]["same"] == true, "{row:#}");
    assert_ne!(row["steady_vs_default"]["direction"], "worse", "{row:#}");
    // A combination of the best two, where two beat the default and change different things.
    if let Some(combined) = m["levers"].as_array().unwrap().iter().find(|l| l["lever"]["lever"] == "combined") {
        assert_eq!(combined["lever"]["of"].as_array().unwrap().len(), 2, "{combined:#}");
        assert!(combined["label"].as_str().unwrap().contains(" + "), "{combined:#}");
    }
}

#[test]
fn a_configuration_whose_outputs_differ_is_reported_and_never_recommended() {
    let fx = Fixture::new().text("text-a", 20_000, 64, "real").write();
    fx.bench(&["--scenario", "levers", "--repeats", "2", "--runs", "3"])
        .env("MORA_FAULT", "perturb-outputs:weight prepacking off")
        .assert()
        .success();
    let r = fx.results();
    let m = &trial(&r, "cpu/text-a/levers")["measurements"];
    let off = lever(m, "weight prepacking off");
    assert_eq!(off["agreement"]["same"], false, "{off:#}");
    assert!(off["agreement"]["note"].as_str().unwrap().contains("differs by up to"));
    let advice = r["recommendations"].as_array().unwrap().iter().find(|a| a["topic"] == "load_path").unwrap();
    assert!(!advice["action"].as_str().unwrap().contains("weight prepacking off"), "{advice:#}");
    assert!(!advice["evidence"][0].as_str().unwrap().contains("fastest weight prepacking off"), "{advice:#}");
    assert_ne!(m["chosen"]["label"], off["label"], "{:#}", m["chosen"]);
    if f(&off["first_answer_ms"]["median"]) < f(&m["chosen"]["first_answer_ms"]["median"]) {
        let passed = m["chosen"]["passed_over"].as_array().unwrap();
        assert!(passed.iter().any(|p| p.as_str().unwrap().starts_with("weight prepacking off: outputs differ")), "{passed:?}");
    }
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.lines().any(|l| l.contains("weight prepacking off") && l.contains("DIFFER")), "{md}");
}

#[test]
fn optimize_writes_a_model_that_loads_with_the_same_outputs_and_only_where_it_was_made() {
    let fx = Fixture::new().text("text-a", 20_000, 64, "real").write();
    let model = fx.path().join("models/text-a/model.onnx");
    let out = fx.path().join("models/text-a/model.optimized-cpu.onnx");
    mora()
        .arg("optimize")
        .arg(&model)
        .args(["--repeats", "2"])
        .arg("--tokenizer")
        .arg(fx.path().join("models/text-a/tokenizer.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains("outputs agree with the original's").and(predicate::str::contains("load on cpu:")));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fx.path().join("models/text-a/model.optimized-cpu.onnx.mora.json")).unwrap()).unwrap();
    assert_eq!(manifest["provider"], "cpu");
    assert!(manifest["onnxruntime_version"].as_str().unwrap().starts_with("1."));
    assert_eq!(manifest["source_sha256"].as_array().unwrap().len(), 1);

    // models.yaml can point at the optimised form beside the original: a bench loads both.
    let text = std::fs::read_to_string(fx.config()).unwrap()
        + "  - id: text-a-optimized\n    type: embedding\n    weights: real\n    sequence_length: 32\n    path: models/text-a/model.optimized-cpu.onnx\n    source: {kind: local}\n    tokenizer: {kind: file, path: models/text-a/tokenizer.json}\n";
    std::fs::write(fx.config(), text).unwrap();
    fx.bench(&["--scenario", "single", "--workers", "1"]).assert().success();
    let r = fx.results();
    assert_eq!(trial(&r, "cpu/text-a-optimized/single")["outcome"]["status"], "ok");

    // Made by another runtime version: refused with the reason and the fix.
    let mut old = manifest.clone();
    old["onnxruntime_version"] = "1.20.0".into();
    std::fs::write(fx.path().join("models/text-a/model.optimized-cpu.onnx.mora.json"), serde_json::to_vec(&old).unwrap()).unwrap();
    std::fs::remove_dir_all(fx.path().join("results")).unwrap();
    fx.bench(&["--scenario", "single", "--workers", "1", "--models", "text-a-optimized"]).assert().code(3);
    let message = trial(&fx.results(), "cpu/text-a-optimized/single")["outcome"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("was optimised by ONNX Runtime 1.20.0 for cpu") && message.contains("mora optimize"), "{message}");
    assert!(out.exists());
}

/// A vision model that runs only at 32x32 pixels: Reshape to [batch, 3*32*32] fails at other sizes.
fn vision_model_at_32_pixels() -> Vec<u8> {
    use mora::onnx_writer::{Dim, ElemType, ModelBuilder, named};
    let w: Vec<f32> = (0..3 * 32 * 32 * 4).map(|i| (i % 7) as f32 / 7.0).collect();
    let mut b = ModelBuilder::new(17);
    b.input("pixel_values", ElemType::Float, &[named("batch"), Dim::Fixed(3), named("height"), named("width")])
        .output("features", ElemType::Float, &[named("batch"), Dim::Fixed(4)])
        .initializer_i64("flat_shape", &[2], &[0, 3 * 32 * 32])
        .initializer_f32("w", &[3 * 32 * 32, 4], &w)
        .node("Reshape", &["pixel_values", "flat_shape"], &["flat"], &[])
        .node("MatMul", &["flat", "w"], &["features"], &[]);
    b.build()
}

#[test]
fn optimize_checks_outputs_at_the_sizes_models_yaml_gives_the_model() {
    let fx = Fixture::new().entry("  - id: small-vision\n    type: vision\n    weights: real\n    image_size: 32\n    source: {kind: onnx-file, package: fixture==1, file: model.onnx}\n").write();
    let folder = fx.path().join("models/small-vision");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("model.onnx"), vision_model_at_32_pixels()).unwrap();
    let optimize = |extra: &[&str]| {
        let mut cmd = mora();
        cmd.current_dir(fx.path()).args(["optimize", "models/small-vision/model.onnx", "--repeats", "2", "--output"]);
        cmd.arg(folder.join("model.optimized-cpu.onnx")).args(extra);
        cmd
    };
    // models.yaml in the working folder lists it: its 32 pixels are used, and said so.
    optimize(&[])
        .assert()
        .success()
        .stderr(predicate::str::contains("input sizes and tokenizer from models.yaml's entry `small-vision`"))
        .stdout(predicate::str::contains("outputs agree with the original's"));
    // A flag wins over the entry; at 224 pixels the model cannot run, and the error says what to pass.
    optimize(&["--image-size", "224"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pass its sizes (--sequence-length, --image-size)"));
}

#[test]
fn optimize_names_a_missing_or_broken_model() {
    let dir = tempfile::tempdir().unwrap();
    mora()
        .arg("optimize")
        .arg(dir.path().join("nope.onnx"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nope.onnx is not a model file"));
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a protobuf at all").unwrap();
    mora().arg("optimize").arg(&junk).assert().code(1).stderr(predicate::str::contains("junk.onnx is not an ONNX model"));
}

#[test]
fn memory_levers_run_each_configuration_in_its_own_worker() {
    let fx = Fixture::new().text("text-a", 20_000, 64, "real").write();
    fx.bench(&["--scenario", "memory-levers"]).assert().success();
    let r = fx.results();
    let configs = trial(&r, "cpu/text-a/memory-levers")["measurements"]["configs"].as_array().unwrap().clone();
    assert_eq!(configs.len(), 7, "four ONNX Runtime settings, three allocators");
    for c in &configs {
        match c["error"].as_str() {
            Some(why) => assert!(why.contains("apt-get install"), "only a missing allocator is skipped: {c:#}"),
            None => {
                assert_eq!(c["memory_increase_mb"]["n"], 3, "{c:#}");
                assert!(c["load_without_trim_ms"]["n"] == 3 && c["load_after_trim_ms"]["n"] == 3 && c["reload_from_memory_ms"]["n"] == 3);
                assert_eq!(c["replica_extra_mb"]["n"], 2, "the second and the third session: {c:#}");
                if c["config"]["config"] == "default" {
                    // glibc: the 5 MB of weights show, and malloc_trim gives them back.
                    assert!(f(&c["memory_increase_mb"]["median"]) > 4.0, "{c:#}");
                    assert!(f(&c["reclaimed_after_trim_pct"]["median"]) > 50.0, "{c:#}");
                    assert!(f(&c["replica_extra_mb"]["median"]) > 4.0, "{c:#}");
                }
                // The worker's own symbols say which allocator ran: the preload took.
                let expected = match c["config"]["config"].as_str().unwrap() {
                    "allocator" => c["config"]["allocator"].as_str().unwrap(),
                    _ => "glibc",
                };
                assert_eq!(c["allocator"], expected, "{c:#}");
            }
        }
    }
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    assert!(md.contains("## Memory levers (scenario memory-levers)"), "{md}");
    assert!(r["recommendations"].as_array().unwrap().iter().any(|a| a["topic"] == "memory_levers"));
}
