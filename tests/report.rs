//! The committed runs stay readable, and a run with CUDA trials renders beside CPU in every table.

mod common;

use std::path::{Path, PathBuf};

use common::mora;
use serde_json::{Value, json};

fn committed_runs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut runs: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path().join("results.json")).filter(|p| p.exists()).collect();
    runs.sort();
    runs
}

fn render(files: &[&Path], format: &str) -> String {
    let out = mora().arg("report").args(files).args(["--format", format]).output().unwrap();
    assert!(out.status.success(), "mora report {files:?} --format {format}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_committed_run_renders_in_every_format() {
    let runs = committed_runs();
    assert!(!runs.is_empty(), "results/ holds no committed run");
    for run in &runs {
        let results: Value = serde_json::from_slice(&std::fs::read(run).unwrap()).unwrap();
        let markdown = render(&[run], "markdown");
        for trial in results["trials"].as_array().unwrap() {
            let model = trial["models"][0].as_str().unwrap();
            assert!(markdown.contains(&format!("| {model} |")), "{}: {model} is missing from the report", run.display());
        }
        let csv = render(&[run], "csv");
        assert_eq!(csv.lines().count(), results["trials"].as_array().unwrap().len() + 1, "{}: one CSV row per trial", run.display());
        render(&[run], "table");
    }
}

/// A stand-in for a CUDA run until one is committed: the committed CPU run's trials for two models,
/// copied as CUDA trials with GPU figures set to round numbers, so that each can be found in the
/// rendered tables. It lives in a temporary folder and never in results/.
fn stand_in_cuda_run(cpu: &Value) -> Value {
    let mut run = cpu.clone();
    run["run"]["gpus"] = json!([{
        "index": 0, "name": "Stand-in GPU (test fixture)", "uuid": null, "driver_version": "580.95",
        "driver_cuda_version": "13.0", "memory_total_mb": 81559.0
    }]);
    run["run"]["providers"] = json!([{
        "provider": "cuda", "ran": true, "cuda_libraries": "the system loader path (LD_LIBRARY_PATH, ldconfig)",
        "gpu": "CUDA device 0 is NVML GPU 0 (PCI 00000000:3B:00.0)"
    }]);
    run["run"]["notes"] = json!(["stand-in CUDA run built by tests/report.rs"]);
    let mut trials = Vec::new();
    for trial in cpu["trials"].as_array().unwrap() {
        let model = trial["models"][0].as_str().unwrap();
        let footprint = match model {
            "gpt2" => 600.0,
            "minilm-l6" => 100.0,
            _ => continue,
        };
        if trial["models"].as_array().unwrap().len() != 1 || trial["outcome"]["status"] != "ok" {
            continue;
        }
        let mut t = trial.clone();
        t["id"] = json!(trial["id"].as_str().unwrap().replacen("cpu/", "cuda/", 1));
        t["provider"] = json!("cuda");
        t["provider_setup"]["provider"] = json!("cuda");
        t["providers_registered"] = json!(["CUDAExecutionProvider", "CPUExecutionProvider"]);
        t["runtime_log"] = json!([{"level": "warning", "message": "Some nodes were not assigned to the preferred execution providers."}]);
        let m = &mut t["measurements"];
        if let Some(baseline) = m.get_mut("provider_baseline") {
            baseline["gpu_mb"] = json!(512.0);
        }
        match m["scenario"].as_str().unwrap() {
            "single" => {
                let median = m["steady"]["median"].as_f64().unwrap();
                m["steady"]["median"] = json!(median / 10.0);
                let f = &mut m["figures"];
                f["gpu_memory_increase_mb"] = json!(footprint);
                f["gpu_memory_reclaimed_mb"] = json!(footprint * 0.9);
                f["gpu_reclamation_percentage"] = json!(90.0);
                f["gpu_reading"] = json!("device");
            }
            "cold" => {
                let median = m["warm_load"]["median"].as_f64().unwrap();
                m["warm_load"]["median"] = json!(median / 2.0);
            }
            "leak" => {
                let mut vram = m["rss"].clone();
                vram["baseline_mb"] = json!(1000.0);
                vram["after_unload_mb"] = json!([1030.0, 1055.0, 1080.0]);
                vram["after_trim_mb"] = json!([1030.0, 1055.0, 1080.0]);
                vram["net_growth_mb"] = json!(80.0);
                vram["net_growth_after_trim_mb"] = json!(80.0);
                vram["verdict"] = json!("fail");
                m["gpu"] = vram;
            }
            "isolation" => {
                m["gpu_device_before_mb"] = json!(1000.0);
                m["gpu_device_loaded_mb"] = json!(1000.0 + footprint + 512.0);
                m["gpu_device_after_exit_mb"] = json!(1000.0);
                m["gpu_memory_reclaimed_mb"] = json!(footprint + 512.0);
                m["gpu_reclamation_percentage"] = json!(100.0);
            }
            _ => {}
        }
        trials.push(t);
    }
    run["trials"] = json!(trials);
    run
}

#[test]
fn a_cuda_run_renders_beside_the_cpu_run_in_every_table() {
    let cpu_path = committed_runs().into_iter().find(|p| p.to_string_lossy().contains("063335Z")).expect("the committed default-suite run");
    let cpu: Value = serde_json::from_slice(&std::fs::read(&cpu_path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cuda_path = dir.path().join("results.json");
    std::fs::write(&cuda_path, serde_json::to_vec(&stand_in_cuda_run(&cpu)).unwrap()).unwrap();

    let md = render(&[&cpu_path, &cuda_path], "markdown");
    let lines: Vec<&str> = md.lines().collect();
    let row = |starts: &str, section: &str| -> String {
        let from = lines.iter().position(|l| l.starts_with(section)).unwrap_or_else(|| panic!("no section {section} in\n{md}"));
        lines[from..]
            .iter()
            .find(|l| l.starts_with(starts))
            .unwrap_or_else(|| panic!("no row {starts} under {section} in\n{md}"))
            .to_string()
    };

    assert!(md.contains("**GPU 0**: Stand-in GPU (test fixture) (81559 MB, driver 580.95)"), "{md}");
    assert!(md.contains("**Provider cuda**: ran (CUDA libraries from the system loader path"), "{md}");
    assert!(md.contains("; CUDA device 0 is NVML GPU 0 (PCI 00000000:3B:00.0)"), "{md}");
    assert!(row("| cuda |", "## Provider baseline").contains("| 512.0 |"));

    // Providers side by side: the speed-up and the later loads come from the figures, not the labels.
    let side = row("| gpt2 |", "## cuda vs cpu");
    assert!(side.contains("| 10.0x |"), "{side}");
    let warm =
        cpu["trials"].as_array().unwrap().iter().find(|t| t["id"] == "cpu/gpt2/cold").unwrap()["measurements"]["warm_load"]["median"]
            .as_f64()
            .unwrap();
    assert!(side.contains(&format!("| {warm:.1} / {:.1} |", warm / 2.0)), "{side}");
    assert!(side.ends_with("| +600.0 |"), "{side}");

    // In the scenario tables the CUDA row follows the CPU row of the same model.
    let from = lines.iter().position(|l| l.starts_with("## Load and inference")).unwrap();
    let gpt2: Vec<&&str> = lines[from..].iter().take_while(|l| !l.starts_with("## Unload")).filter(|l| l.starts_with("| gpt2 |")).collect();
    assert_eq!(gpt2.len(), 2, "{gpt2:?}");
    assert!(gpt2[0].contains("| cpu |") && gpt2[1].contains("| cuda |") && gpt2[1].contains("| +600.0 |"), "{gpt2:?}");
    assert!(row("| gpt2 | random | cuda |", "## Unload in-process").contains("| 540.0 | 90.0 |"));
    let vram = row("| gpt2 | random | cuda | VRAM |", "## Repeated load/unload");
    assert!(vram.contains("1030, 1055, 1080") && vram.contains("+80.0") && vram.contains("FAIL"), "{vram}");
    assert!(row("| gpt2 | random | cuda |", "## Subprocess isolation").contains("| 1000 / 2112 / 1000 | 1112.0 |"));

    // ONNX Runtime's warnings are listed once, with the trials that logged them.
    let logged: Vec<&&str> = lines.iter().filter(|l| l.contains("Some nodes were not assigned")).collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with("| ONNX Runtime (warning) |") && logged[0].contains("and 5 more"), "{logged:?}");

    // The recommendations are worked out again for the merged run, per provider, in VRAM for CUDA.
    let advice = &md[md.find("## Recommendations").unwrap()..];
    assert!(advice.contains("(cuda)") && advice.contains("VRAM"), "{advice}");
    assert!(advice.contains("gpt2 (random weights) VRAM: FAIL"), "{advice}");

    let csv = render(&[&cpu_path, &cuda_path], "csv");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let gpu_col = header.iter().position(|h| *h == "gpu_memory_increase_mb").unwrap();
    let cuda_row = csv.lines().find(|l| l.starts_with("cuda/gpt2/single,")).unwrap();
    assert_eq!(cuda_row.split(',').nth(gpu_col), Some("600.000"), "{cuda_row}");

    let out = dir.path().join("merged");
    mora().arg("report").arg(&cpu_path).arg(&cuda_path).arg("--out").arg(&out).assert().success();
    let chart = std::fs::read_to_string(out.join("gpu-memory.svg")).unwrap();
    assert!(chart.contains("gpt2 (cuda, random weights)") && !chart.contains("(cpu"), "only CUDA trials have GPU figures");
    let leak = std::fs::read_to_string(out.join("leak.svg")).unwrap();
    assert!(leak.contains("gpt2 (cuda, random weights) VRAM") && !leak.contains("(cpu, random weights) VRAM"), "VRAM bars for CUDA only");
}
