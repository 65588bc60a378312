//! Preflight (issue 24): a model that cannot run stops `mora bench` before any trial and before its
//! run folder, with one message naming the file, the cause and the fix (exit 1); the plan and the
//! run's header say what fills each input, and `--model` says which type it guessed and why.

mod common;

use common::{Fixture, text_model};
use mora::onnx_writer::{Dim, ElemType, ModelBuilder, named};

/// An MLP over float features [N, 256] with a `logits` output, as a classifier is saved.
fn mlp(ir_version: u64) -> Vec<u8> {
    let w: Vec<f32> = (0..256 * 4).map(|i| (i % 7) as f32 / 7.0).collect();
    let mut b = ModelBuilder::new(17);
    b.ir_version(ir_version)
        .input("features", ElemType::Float, &[named("N"), Dim::Fixed(256)])
        .output("logits", ElemType::Float, &[named("N"), Dim::Fixed(4)])
        .initializer_f32("W", &[256, 4], &w)
        .node("MatMul", &["features", "W"], &["logits"], &[]);
    b.build()
}

fn no_run_folder(fx: &Fixture) -> bool {
    !fx.path().join("results").exists()
}

#[test]
fn an_ir_version_the_runtime_does_not_read_stops_the_run_before_any_trial() {
    let fx = Fixture::new();
    let path = fx.path().join("mlp.onnx");
    // IR 99: newer than any ONNX Runtime reads (`onnx` 1.23 saves IR 14, which 1.31 refuses alike).
    std::fs::write(&path, mlp(99)).unwrap();
    let out = common::mora()
        .args(["bench", "--scenario", "single", "--workers", "1", "--out"])
        .arg(fx.path().join("results"))
        .arg("--model")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("preflight: 1 error before any trial"), "{stderr}");
    assert!(stderr.contains(&format!("{} has IR version 99 and opset 17, which ONNX Runtime", path.display())), "{stderr}");
    assert!(stderr.contains("Unsupported model IR version: 99") && stderr.contains("onnx.version_converter"), "{stderr}");
    assert!(!stderr.contains(".cc:"), "ONNX Runtime's source location is left out: {stderr}");
    assert_eq!(stderr.matches("Unsupported model IR version").count(), 1, "said once, not per trial: {stderr}");
    assert!(no_run_folder(&fx), "no run folder for a run that never started");
}

#[test]
fn missing_and_broken_models_stop_the_run_before_any_trial() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .entry("  - id: gone\n    type: vision\n    source: {kind: local}\n    path: gone.onnx\n")
        .entry("  - id: junk\n    type: vision\n    source: {kind: local}\n    path: junk.onnx\n")
        .write();
    std::fs::write(fx.path().join("junk.onnx"), b"this is not a model at all").unwrap();
    let out = fx.bench(&["--scenario", "single", "--workers", "1", "--models", "tiny-text,gone,junk"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("preflight: 2 errors before any trial"), "{stderr}");
    assert!(stderr.contains(&format!("model `gone`: {} is missing", fx.path().join("gone.onnx").display())), "{stderr}");
    assert!(stderr.contains(&format!("model `junk`: {} does not open as ONNX", fx.path().join("junk.onnx").display())), "{stderr}");
    assert!(no_run_folder(&fx), "no run folder for a run that never started");
    // --dry-run checks as much.
    let dry = fx.bench(&["--dry-run", "--models", "gone"]).output().unwrap();
    assert_eq!(dry.status.code(), Some(1), "{}", String::from_utf8_lossy(&dry.stderr));
}

#[test]
fn the_plan_says_what_fills_each_input_and_the_type_guessed_with_its_reason() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let features = fx.path().join("mlp.onnx");
    std::fs::write(&features, mlp(8)).unwrap();
    let out = common::mora().args(["bench", "--dry-run", "--model"]).arg(&features).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("mlp: features float32 [1, 256] <- seeded N(0, 1)"), "{stdout}");
    // A `logits` output over float features is a classifier, not a text generator.
    assert!(stderr.contains("type embedding, guessed from float inputs only (features), no image and no token ids"), "{stderr}");
    assert!(stdout.contains("cpu/mlp/single"), "{stdout}");

    // Token ids under another name, found by the embedding they index: seeded ids, not zeros.
    let emb: Vec<f32> = (0..100 * 8).map(|i| (i % 5) as f32).collect();
    let mut b = ModelBuilder::new(17);
    b.input("tokens", ElemType::Int64, &[named("batch"), named("sequence")])
        .output("hidden", ElemType::Float, &[named("batch"), named("sequence"), Dim::Fixed(8)])
        .initializer_f32("embedding", &[100, 8], &emb)
        .node("Gather", &["embedding", "tokens"], &["hidden"], &[]);
    let renamed = fx.path().join("renamed.onnx");
    std::fs::write(&renamed, b.build()).unwrap();
    let out = common::mora().args(["bench", "--dry-run", "--model"]).arg(&renamed).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("renamed: tokens int64 [1, 128] <- seeded random token ids below 100 (no tokenizer)"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("an integer input `tokens` (token ids)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The run's header says it too, and the fixture's tokenizer fills its text model.
    let out = fx.bench(&["--scenario", "single", "--workers", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("inputs:\n  tiny-text: input_ids int64 [1, 32] <- 32 tokens of a fixed passage (tokenizer.json)"), "{stderr}");
    let _ = text_model;
}
