//! `mora doctor`, `mora models` and `mora report`.

mod common;

use common::{Fixture, mora};
use predicates::prelude::*;

#[test]
fn doctor_reports_the_runtime_and_why_cuda_cannot_run() {
    mora().args(["doctor"]).assert().success().stdout(
        predicate::str::contains("ONNX Runtime: 1.")
            .and(predicate::str::contains("CPUExecutionProvider"))
            .and(predicate::str::contains("RAM:"))
            .and(predicate::str::contains("NVML:")),
    );
}

#[test]
fn doctor_without_a_runtime_library_names_the_path_and_the_fix() {
    mora().args(["doctor", "--ort-lib", "/nonexistent/libonnxruntime.so.1.31.1"]).assert().code(1).stderr(
        predicate::str::starts_with("Error: --ort-lib /nonexistent/libonnxruntime.so.1.31.1")
            .and(predicate::str::contains("scripts/setup.sh")),
    );
    mora()
        .args(["doctor"])
        .env("ORT_DYLIB_PATH", "/also/missing.so")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ORT_DYLIB_PATH=/also/missing.so").and(predicate::str::contains("does not exist")));
}

#[test]
fn doctor_with_no_library_anywhere_says_where_it_looked() {
    // A copy of mora far from the repository's .venv, run from an empty folder.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("mora");
    std::fs::copy(assert_cmd::cargo::cargo_bin("mora"), &exe).unwrap();
    let out = std::process::Command::new(&exe).arg("doctor").current_dir(dir.path()).env_remove("ORT_DYLIB_PATH").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no ONNX Runtime library found") && err.contains(".venv") && err.contains("scripts/setup.sh"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_too_old_runtime_is_refused_by_version() {
    // A library that answers OrtGetApiBase like ONNX Runtime 1.20 would.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("old.c");
    std::fs::write(
        &src,
        "typedef struct { void *(*GetApi)(unsigned); const char *(*GetVersionString)(void); } Base;\n\
         static void *get_api(unsigned v) { (void)v; return 0; }\n\
         static const char *version(void) { return \"1.20.0\"; }\n\
         static const Base base = { get_api, version };\n\
         const Base *OrtGetApiBase(void) { return &base; }\n",
    )
    .unwrap();
    let lib = dir.path().join("libonnxruntime.so.1.20.0");
    let built = std::process::Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status();
    assert!(built.is_ok_and(|s| s.success()), "needs a C compiler (cc), as building mora's dependencies does");
    mora().arg("doctor").arg("--ort-lib").arg(&lib).assert().code(1).stderr(
        predicate::str::contains("ONNX Runtime 1.20.0").and(predicate::str::contains("too old")).and(predicate::str::contains("1.31")),
    );
}

/// A stand-in libnvidia-ml.so.1 with one GPU, answering the NVML calls mora makes; `None` without a
/// C compiler.
fn stand_in_nvml(dir: &std::path::Path) -> Option<()> {
    let src = dir.join("nvml.c");
    std::fs::write(
        &src,
        r#"#include <string.h>
typedef struct { unsigned version; unsigned long long total, reserved, free, used; } Memory2;
typedef struct { unsigned pid; unsigned long long used; unsigned gi, ci; } Process;
static int device;
int nvmlInit_v2(void) { return 0; }
int nvmlInitWithFlags(unsigned flags) { (void)flags; return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int code) { (void)code; return "stand-in NVML error"; }
int nvmlDeviceGetCount_v2(unsigned *n) { *n = 1; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d) { if (i != 0) return 2; *d = &device; return 0; }
int nvmlSystemGetDriverVersion(char *s, unsigned n) { strncpy(s, "580.95", n); return 0; }
int nvmlSystemGetCudaDriverVersion_v2(int *v) { *v = 13000; return 0; }
int nvmlDeviceGetName(void *d, char *s, unsigned n) { (void)d; strncpy(s, "Stand-in GPU", n); return 0; }
int nvmlDeviceGetUUID(void *d, char *s, unsigned n) { (void)d; strncpy(s, "GPU-stand-in", n); return 0; }
int nvmlDeviceGetMemoryInfo_v2(void *d, Memory2 *m) {
    (void)d; m->total = 81559ull << 20; m->used = 1024ull << 20; m->reserved = 0; m->free = m->total - m->used; return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void *d, unsigned *count, Process *p) { (void)d; (void)p; *count = 0; return 0; }
"#,
    )
    .unwrap();
    let lib = dir.join("libnvidia-ml.so.1");
    let built = std::process::Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status();
    built.is_ok_and(|s| s.success()).then_some(())
}

#[test]
fn doctor_and_the_run_metadata_show_the_gpus_nvml_reports() {
    let nvml = tempfile::tempdir().unwrap();
    assert!(stand_in_nvml(nvml.path()).is_some(), "needs a C compiler (cc), as building mora's dependencies does");
    mora().arg("doctor").arg("--no-cuda-session").env("LD_LIBRARY_PATH", nvml.path()).assert().success().stdout(
        predicate::str::contains("NVML: available, 1 GPU(s)")
            .and(predicate::str::contains("GPU 0: Stand-in GPU (81559 MB, driver 580.95, CUDA 13.0)")),
    );

    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--provider", "auto", "--scenario", "single"]).env("LD_LIBRARY_PATH", nvml.path()).assert().success();
    let r = fx.results();
    let gpu = &r["run"]["gpus"][0];
    assert_eq!(gpu["name"], "Stand-in GPU");
    assert_eq!(gpu["memory_total_mb"], 81559.0);
    assert_eq!(gpu["driver_cuda_version"], "13.0");
    // A CPU trial on a machine with a GPU reads no GPU memory: nothing of it could be the GPU's.
    let trial = common::trial(&r, "cpu/tiny-text/single");
    let worker = &trial["measurements"]["workers"][0];
    let snapshot = worker["memory"]["after_first_inference"].as_object().expect("a memory snapshot");
    assert!(snapshot.contains_key("rss_mb") && !snapshot.contains_key("gpu"), "{trial:#}");
    let figures = worker["figures"].as_object().expect("the figures");
    assert!(figures.contains_key("memory_increase_mb") && figures["gpu_memory_increase_mb"].is_null(), "{trial:#}");
}

#[test]
fn models_lists_presence_weights_and_how_to_make_a_missing_one() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "random")
        .entry("  - id: not-made\n    type: vision\n    weights: random\n    suite: optional\n    source: {kind: transformers, architecture: clip-vision, task: image-embedding, pretrained: openai/clip-vit-base-patch32}\n")
        .write();
    mora().arg("models").arg("--config").arg(fx.config()).assert().success().stdout(
        predicate::str::contains("tiny-text")
            .and(predicate::str::contains("random"))
            .and(predicate::str::contains("MISSING"))
            .and(predicate::str::contains("scripts/export_models.py --config"))
            .and(predicate::str::contains("--models not-made"))
            .and(predicate::str::contains("2 models, 1 in the default suite")),
    );
}

#[test]
fn models_reads_the_weights_from_the_manifest() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "random").write();
    std::fs::write(
        fx.path().join("models/tiny-text/manifest.json"),
        r#"{"weights": "real", "opset": 17, "exported_at": "2026-11-27T00:00:00Z", "exporter": {"method": "copy"}}"#,
    )
    .unwrap();
    mora()
        .arg("models")
        .arg("--config")
        .arg(fx.config())
        .assert()
        .success()
        .stdout(predicate::str::contains("models.yaml says random weights, the export got real").and(predicate::str::contains("opset 17")));
}

#[test]
fn report_re_renders_in_every_format_and_compares_two_runs() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single"]).assert().success();
    let first = fx.run_folder();
    let json = first.join("results.json");

    mora()
        .arg("report")
        .arg(&first)
        .assert()
        .success()
        .stdout(predicate::str::contains("Load and inference").and(predicate::str::contains("RECOMMENDATIONS")));
    mora().arg("report").arg(&json).args(["--format", "markdown"]).assert().success().stdout(
        predicate::str::contains("## Load and inference in a warmed worker (scenario single)")
            .and(predicate::str::contains("| tiny-text |")),
    );
    let csv = mora().arg("report").arg(&json).args(["--format", "csv"]).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with(
            "run,host,runtime_version,started_at,trial,model,batch_size,sequence_length,weights,provider,scenario,status,workers,spawn_to_ready_ms,first_load_ms"
        ),
        "{header}"
    );
    assert!(
        header.contains(
            ",load_time_ms,load_time_ms_n,load_time_ms_mean,load_time_ms_stddev,load_time_ms_min,load_time_ms_max,first_inference_ms,"
        ),
        "{header}"
    );
    let row = lines.next().unwrap();
    // Outside a sweep the batch size and sequence length columns are empty.
    assert!(row.contains(",cpu/tiny-text/single,tiny-text,,,real,cpu,single,ok,3,"), "{row}");
    let round: serde_json::Value =
        serde_json::from_slice(&mora().arg("report").arg(&json).args(["--format", "json"]).output().unwrap().stdout).unwrap();
    assert_eq!(round["trials"][0]["id"], "cpu/tiny-text/single");

    // A second run of the same trials: the report compares them figure by figure.
    let second_dir = tempfile::tempdir().unwrap();
    let second = second_dir.path().join("run-b");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::copy(&json, second.join("results.json")).unwrap();
    let out = tempfile::tempdir().unwrap();
    mora().arg("report").arg(&first).arg(&second).arg("--out").arg(out.path()).assert().success().stdout(
        predicate::str::contains("Comparison (scenario single)")
            .and(predicate::str::contains("B: run-b"))
            .and(predicate::str::contains("1.00x (").and(predicate::str::contains("cannot tell: 3 and 3 samples"))),
    );
    assert!(out.path().join("report.md").is_file() && out.path().join("results.json").is_file());
}

#[test]
fn report_refuses_a_file_of_another_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, r#"{"schema_version": 7, "trials": []}"#).unwrap();
    mora().arg("report").arg(&path).assert().code(1).stderr(predicate::str::contains("schema_version 7 is not one this mora reads"));
}

/// `mora models` as a terminal `columns` wide gets it (piped, with COLUMNS, as the tables read
/// it), run in the fixture's folder so that no temporary path shows.
fn models_at(fx: &Fixture, columns: &str) -> String {
    let out = mora().current_dir(fx.path()).args(["models", "--config", "models.yaml"]).env("COLUMNS", columns).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every line fits `width`, unless it is one word longer than the width (never split).
fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(line.chars().count() <= width, "a line wider than {width} columns:\n{line}\nin\n{text}");
    }
}

/// The words of a text, box drawing left out and a label's colon dropped: what wrapping or a
/// change from a table to blocks must keep whole. A path longer than a whole line is the one word
/// cut, after a `/`: its pieces are joined again.
fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in text
        .split_whitespace()
        .filter(|w| !w.chars().all(|c| "│┆─═┌┐└┘├┤┬┴┼╞╡╪╤╧┄".contains(c)))
        .map(|w| w.trim_end_matches(':').to_string())
        .filter(|w| !w.is_empty())
    {
        match words.last_mut() {
            Some(last) if last.ends_with('/') && last.len() > 40 => last.push_str(&w),
            _ => words.push(w),
        }
    }
    words
}

#[test]
fn models_fits_80_and_100_columns_and_never_splits_a_word() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .entry("  - id: not-made\n    type: vision\n    weights: random\n    suite: optional\n    about: a vision tower of CLIP ViT-B/32 with random weights, exported from its configuration because the hub is out of reach here\n    source: {kind: transformers, architecture: clip-vision, task: image-embedding, pretrained: openai/clip-vit-base-patch32}\n")
        .write();
    std::fs::write(
        fx.path().join("models/tiny-text/manifest.json"),
        r#"{"weights": "real", "opset": 17, "exported_at": "2026-12-03T10:00:00Z", "exporter": {"method": "torch.onnx.export(dynamo=True)"}, "export_seconds": 14}"#,
    )
    .unwrap();
    let wide = models_at(&fx, "1000");
    let wide_words: std::collections::BTreeSet<String> = words(&wide).into_iter().collect();
    for columns in [80, 100] {
        let text = models_at(&fx, &columns.to_string());
        assert_fits(&text, columns);
        let narrow_words: std::collections::BTreeSet<String> = words(&text).into_iter().collect();
        // Nothing split (no fragment that the wide output lacks) and nothing lost ("Model" is the
        // table's heading; a block is headed by the model itself).
        let fragments: Vec<&String> = narrow_words.difference(&wide_words).collect();
        assert!(fragments.is_empty(), "split words at {columns} columns: {fragments:?}\n{text}");
        let lost: Vec<&String> = wide_words.difference(&narrow_words).filter(|w| *w != "Model").collect();
        assert!(lost.is_empty(), "words lost at {columns} columns: {lost:?}\n{text}");
        insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("models-{columns}"), text);
        });
    }
}

#[test]
fn doctor_fits_80_and_100_columns_and_never_splits_a_word() {
    let doctor = |columns: &str| {
        let out = mora().args(["doctor", "--no-cuda-session"]).env("COLUMNS", columns).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let wide = doctor("1000");
    for columns in [80, 100] {
        let text = doctor(&columns.to_string());
        assert_fits(&text, columns);
        assert_eq!(words(&text), words(&wide), "the same words in the same order, none split, at {columns} columns");
    }
}

/// The rows of every Markdown table whose first column is the model: (table title, first cell,
/// provider cell).
fn model_rows(md: &str) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    let (mut title, mut header): (String, Vec<String>) = (String::new(), vec![]);
    let cells = |line: &str| line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>();
    let mut previous_was_table = false;
    for line in md.lines() {
        if !line.starts_with('|') {
            previous_was_table = false;
            if line.starts_with('#') {
                title = line.trim_start_matches('#').trim().to_string();
            }
            continue;
        }
        if !previous_was_table {
            header = cells(line);
            previous_was_table = true;
            continue;
        }
        let row = cells(line);
        if row.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) || header.first().map(String::as_str) != Some("Model") {
            continue;
        }
        let provider = header.iter().position(|h| h == "Provider").and_then(|i| row.get(i)).cloned().unwrap_or_default();
        rows.push((title.clone(), row[0].clone(), provider));
    }
    rows
}

#[test]
fn every_table_of_a_sweep_names_each_trials_sizes() {
    let fx = Fixture::new().text("text-a", 500, 32, "real").write();
    let sweep = ["--batch-size", "1,2", "--sequence-length", "8,16", "--cycles", "2", "--repeats", "2"];
    fx.bench(&[&["--scenario", "single,leak,cold", "--workers", "1", "--quiet"][..], &sweep[..]].concat()).assert().success();
    let md = std::fs::read_to_string(fx.run_folder().join("report.md")).unwrap();
    let rows = model_rows(&md);
    let titles: std::collections::BTreeSet<&str> = rows.iter().map(|(t, _, _)| t.as_str()).collect();
    assert!(titles.iter().any(|t| t.starts_with("Worker warm-up")), "the warm-up table is among them: {titles:?}");
    for (title, model, _) in &rows {
        assert!(model.starts_with("text-a (batch ") && model.contains(", seq "), "{title}: {model:?} names no size");
    }
    for (i, row) in rows.iter().enumerate() {
        assert!(!rows[..i].contains(row), "{}: two rows read {:?} ({})", row.0, row.1, row.2);
    }
}
