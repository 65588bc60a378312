//! models.yaml against what is on disk and in the graph: a missing external data file, a `type:` the
//! graph contradicts, an `inputs:` name the graph lacks, a tokenizer the model cannot use.

mod common;

use common::{Fixture, mora};
use mora::onnx_writer::{Dim, ElemType, ModelBuilder};
use predicates::prelude::*;

/// A model whose weights live in `model.onnx.data`, as the exporter writes large models.
fn model_with_external_data() -> Vec<u8> {
    let mut b = ModelBuilder::new(17);
    b.input("x", ElemType::Float, &[Dim::Fixed(1), Dim::Fixed(4)])
        .output("y", ElemType::Float, &[Dim::Fixed(1), Dim::Fixed(4)])
        .initializer_external("w", &[4, 4], "model.onnx.data", 0)
        .node("MatMul", &["x", "w"], &["y"], &[]);
    b.build()
}

#[test]
fn models_says_missing_and_names_the_file_when_external_data_is_missing() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .entry("  - id: ext\n    type: vision\n    weights: random\n    source: {kind: onnx-file, package: fixture==1, file: model.onnx}\n")
        .write();
    // `ext`: the graph names model.onnx.data; `tiny-text`: only the exporter's manifest lists it, and
    // its graph, a single file, names none: it is not missing (issue 25).
    std::fs::create_dir_all(fx.path().join("models/ext")).unwrap();
    std::fs::write(fx.path().join("models/ext/model.onnx"), model_with_external_data()).unwrap();
    std::fs::write(fx.path().join("models/tiny-text/manifest.json"), r#"{"files": [{"path": "model.onnx"}, {"path": "model.onnx.data"}]}"#)
        .unwrap();
    let export = format!(".venv/bin/python scripts/export_models.py --config {}", fx.config().display());
    let ext = fx.path().join("models/ext");
    let out = mora().arg("models").arg("--config").arg(fx.config()).output().unwrap();
    assert!(out.status.success());
    // The list is wrapped to the terminal: compared as one line.
    let text = String::from_utf8(out.stdout).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
    let said = format!(
        "ext: {}/model.onnx.data is missing: {}/model.onnx keeps its weights there (external data); make the model again with `{export} --models ext`",
        ext.display(),
        ext.display()
    );
    assert!(text.contains("MISSING model.onnx.data") && text.contains(&said), "{text}");
    assert!(!text.contains("tiny-text:") && text.matches("┆ yes ┆").count() == 1, "{text}");
    // With the data there, both are present.
    std::fs::write(fx.path().join("models/ext/model.onnx.data"), [0u8; 64]).unwrap();
    std::fs::write(fx.path().join("models/tiny-text/model.onnx.data"), b"").unwrap();
    mora().arg("models").arg("--config").arg(fx.config()).assert().success().stdout(predicate::str::contains("MISSING").not());
}

#[test]
fn an_image_model_declared_embedding_is_refused_before_the_run() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .entry("  - id: img\n    type: embedding\n    weights: real\n    source: {kind: onnx-file, package: fixture==1, file: model.onnx}\n    tokenizer: {kind: tokenizer-json, package: fixture==1, file: tokenizer.json}\n")
        .write();
    std::fs::create_dir_all(fx.path().join("models/img")).unwrap();
    std::fs::write(fx.path().join("models/img/model.onnx"), common::vision_model(8)).unwrap();
    std::fs::write(fx.path().join("models/img/tokenizer.json"), common::tokenizer_json()).unwrap();
    let expected = format!(
        "{}:10: model `img`: declared `type: embedding`, but its graph takes an image (`pixel_values` [-1, 3, -1, -1]) and no token ids: set `type: vision` and remove `tokenizer:` (nothing reads it)",
        fx.config().display()
    );
    fx.bench(&["--scenario", "single"]).assert().code(1).stderr(predicate::str::contains(format!("Error: {expected}")));
    assert!(!fx.path().join("results").exists(), "refused before any trial");
    mora().arg("models").arg("--config").arg(fx.config()).assert().success().stdout(predicate::str::contains(expected));
    // Only the selected models are checked: the others still run.
    fx.bench(&["--scenario", "single", "--models", "tiny-text"]).assert().success();
}

#[test]
fn a_shape_for_an_input_the_model_lacks_stops_the_run_with_the_inputs_it_has() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let text = std::fs::read_to_string(fx.config())
        .unwrap()
        .replace("sequence_length: 32", "sequence_length: 32\n    inputs: {input_id: [1, 32]}");
    std::fs::write(fx.config(), text).unwrap();
    // Preflight builds the inputs before any trial (issue 24): exit 1, no run folder.
    let out = fx.bench(&["--scenario", "single"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("models.yaml `inputs:` gives a shape for `input_id`, which the graph does not have: its inputs are input_ids, attention_mask, token_type_ids; fix the name or remove it"),
        "{stderr}"
    );
    assert!(stderr.contains("model `tiny-text` (") && !fx.path().join("results").exists(), "{stderr}");
}

#[test]
fn a_tokenizer_whose_ids_exceed_the_embedding_stops_the_run_with_the_reason() {
    // 10 rows of embedding, a tokenizer with about 80 words.
    let fx = Fixture::new().text("tiny-text", 10, 16, "real").write();
    let out = fx.bench(&["--scenario", "single"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("model `tiny-text` (") && stderr.contains("): the tokenizer "), "{stderr}");
    assert!(stderr.contains("but `input_ids` indexes `embedding`, which has 10 rows: the tokenizer is not this model's; give the model's own in models.yaml `tokenizer:`"), "{stderr}");
}
