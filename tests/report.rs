//! The fixture runs (tests/fixtures/runs/) and the published ones (results/) stay readable, and a run with CUDA trials renders beside CPU in every table.

mod common;

use std::path::{Path, PathBuf};

use common::mora;
use serde_json::Value;

/// The results.json of every fixture run, and of every published run when results/ is there.
fn committed_runs() -> Vec<PathBuf> {
    common::fixture_and_published_runs().into_iter().map(|run| run.join("results.json")).collect()
}

fn render(files: &[&Path], format: &str) -> String {
    let out = mora().arg("report").args(files).args(["--format", format]).output().unwrap();
    assert!(out.status.success(), "mora report {files:?} --format {format}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_committed_run_renders_in_every_format() {
    let runs = committed_runs();
    assert!(!runs.is_empty(), "tests/fixtures/runs/ holds no run");
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

/// The first GPU run: mora 0.1.0 (results schema 1, rules v1) on an NVIDIA H200, `--provider cpu,cuda`.
fn h200_run() -> PathBuf {
    common::fixture_run("20261127T114236Z-h200").join("results.json")
}

fn markdown_rows(md: &str) -> impl Fn(&str, &str) -> String + '_ {
    move |starts: &str, section: &str| -> String {
        let lines: Vec<&str> = md.lines().collect();
        let from = lines.iter().position(|l| l.starts_with(section)).unwrap_or_else(|| panic!("no section {section} in\n{md}"));
        lines[from + 1..]
            .iter()
            .take_while(|l| !l.starts_with("## "))
            .find(|l| l.starts_with(starts))
            .unwrap_or_else(|| panic!("no row {starts} under {section} in\n{md}"))
            .to_string()
    }
}

#[test]
fn the_h200_run_renders_cuda_beside_cpu_in_every_table() {
    let md = render(&[&h200_run()], "markdown");
    let row = markdown_rows(&md);
    assert!(md.contains("**GPU 0**: NVIDIA H200 (143771 MB, driver 580.159.04)"), "{md}");
    assert!(md.contains("**Provider cuda**: ran (CUDA libraries from the system loader path"), "{md}");
    assert!(row("| cuda |", "## Provider baseline").contains("| 536.0 |"));

    // Backends compared, one row per provider: fresh-worker loads, the arena's VRAM, and CUDA against
    // CPU: faster to a first answer and per request, so no break-even to wait for.
    let cpu = row("| gpt2 | cpu |", "## Backends compared");
    let cuda = row("| gpt2 | cuda |", "## Backends compared");
    assert!(cpu.contains("| 1092.5 |") && cpu.contains("| baseline |"), "{cpu}");
    assert!(cuda.contains("| 668.3 |") && cuda.contains("| +1154.0 |"), "{cuda}");
    assert!(cuda.contains("| faster to a first answer and per request |"), "{cuda}");

    // In the scenario tables the CUDA row follows the CPU row of the same model.
    let lines: Vec<&str> = md.lines().collect();
    let from = lines.iter().position(|l| l.starts_with("## Load and inference")).unwrap();
    let gpt2: Vec<&&str> = lines[from..].iter().take_while(|l| !l.starts_with("## Unload")).filter(|l| l.starts_with("| gpt2 |")).collect();
    assert_eq!(gpt2.len(), 2, "{gpt2:?}");
    assert!(gpt2[0].contains("| cpu |") && gpt2[1].contains("| cuda |") && gpt2[1].contains("| +1154.0 |"), "{gpt2:?}");
    assert!(row("| gpt2 | random | cuda |", "## Unload in-process").contains("| 1154.0 | 100.0 |"));
    assert!(row("| gpt2 | random | cuda |", "## Subprocess isolation").contains("| 0 / 1711 / 0 | 1710.8 |"));

    // ONNX Runtime's warnings are listed once, with the trials that logged them.
    let logged: Vec<&&str> = lines.iter().filter(|l| l.contains("Some nodes were not assigned")).collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with("| ONNX Runtime (warning) |") && logged[0].contains("and 25 more"), "{logged:?}");

    let csv = render(&[&h200_run()], "csv");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let gpu_col = header.iter().position(|h| *h == "gpu_memory_increase_mb").unwrap();
    let cuda_row = csv.lines().find(|l| l.contains(",cuda/gpt2/single,")).unwrap();
    assert_eq!(cuda_row.split(',').nth(gpu_col), Some("1154.000"), "{cuda_row}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rendered");
    mora().arg("report").arg(h200_run()).arg("--out").arg(&out).assert().success();
    let chart = std::fs::read_to_string(out.join("gpu-memory.svg")).unwrap();
    assert!(chart.contains("gpt2 (cuda, random weights)") && !chart.contains("(cpu"), "only CUDA trials have GPU figures");
    let leak = std::fs::read_to_string(out.join("leak.svg")).unwrap();
    assert!(leak.contains("gpt2 (cuda, random weights) VRAM") && !leak.contains("(cpu, random weights) VRAM"), "VRAM panels for CUDA only");
    assert_eq!(leak.matches("PASS: growth after the first cycle").count(), 27, "9 CPU RAM, 9 CUDA RAM and 9 VRAM panels, judged today");
    // report.md shows every chart written beside it.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for chart in ["load-time.svg", "memory.svg", "gpu-memory.svg", "leak.svg"] {
        assert!(md.contains(&format!("]({chart})")) && out.join(chart).is_file(), "{chart} embedded and written");
    }
}

/// Finding 1 of the first H200 run: every CUDA leak verdict was FAIL (RSS) or CAUTION (vit-s-focus
/// VRAM) because the worker's one-time warm-up in cycle 1 was counted as growth. Judged again with
/// the current rules they pass, the one-time retention is reported apart, and the advice no longer
/// says to isolate for a leak.
#[test]
fn the_h200_runs_cuda_leak_verdicts_pass_with_the_one_time_cost_apart() {
    let judged: Value =
        serde_json::from_slice(&mora().arg("report").arg(h200_run()).args(["--format", "json"]).output().unwrap().stdout).unwrap();
    assert_eq!(judged["rules_version"], 6);
    let mut cuda_leaks = 0;
    for t in judged["trials"].as_array().unwrap().iter().filter(|t| t["scenario"] == "leak") {
        for series in [&t["measurements"]["rss"], &t["measurements"]["gpu"]] {
            if series.is_null() {
                continue;
            }
            assert_eq!(series["verdict"], "pass", "{}: {series:#}", t["id"]);
            cuda_leaks += usize::from(t["provider"] == "cuda");
        }
    }
    assert_eq!(cuda_leaks, 18, "nine models, RSS and VRAM");
    let gpt2 = judged["trials"].as_array().unwrap().iter().find(|t| t["id"] == "cuda/gpt2/leak").unwrap();
    let rss = &gpt2["measurements"]["rss"];
    assert!((rss["first_cycle_retained_mb"].as_f64().unwrap() - 161.8).abs() < 0.1, "{rss:#}");
    assert!(rss["growth_after_trim_mb"].as_f64().unwrap().abs() < 1.0, "{rss:#}");
    let vit = judged["trials"].as_array().unwrap().iter().find(|t| t["id"] == "cuda/vit-s-focus/leak").unwrap();
    assert_eq!(vit["measurements"]["gpu"]["first_cycle_retained_mb"], 16.0);

    let advice = judged["recommendations"].as_array().unwrap();
    let leak = advice.iter().find(|a| a["topic"] == "leak_detection" && a["provider"] == "cuda").unwrap();
    assert_eq!(leak["level"], "excellent", "{leak:#}");
    assert!(!leak["action"].as_str().unwrap().contains("use subprocess isolation"), "{leak:#}");
    assert!(leak["action"].as_str().unwrap().contains("one-time"), "{leak:#}");

    // The recorded file itself is never rewritten by a report.
    let recorded: Value = serde_json::from_slice(&std::fs::read(h200_run()).unwrap()).unwrap();
    assert_eq!(recorded["schema_version"], 1);
    let recorded_gpt2 = recorded["trials"].as_array().unwrap().iter().find(|t| t["id"] == "cuda/gpt2/leak").unwrap();
    assert_eq!(recorded_gpt2["measurements"]["rss"]["verdict"], "fail", "the H200 run as mora 0.1.0 judged it");
}

/// Findings 2, 3 and 5: the worker's warm-up has its own table (from the leak scenario's first
/// cycle, since this run has one fresh worker per trial), isolation no longer warns of other
/// processes because the worker's file-backed CUDA library pages were compared with the cgroup's
/// anonymous memory, and VRAM is named as the arena's reservation with the arena setting.
#[test]
fn the_h200_run_shows_the_warm_up_apart_no_false_isolation_warning_and_the_arena() {
    let md = render(&[&h200_run()], "markdown");
    let row = markdown_rows(&md);
    assert!(md.contains("**Judged by**: rules v6"), "{md}");
    let warmup = row("| minilm-l6 | real | cuda |", "## Worker warm-up");
    assert!(warmup.contains("| +160.4 |") && warmup.ends_with("| leak, cycle 1 |"), "{warmup}");
    assert!(row("| vit-s-focus | real | cuda |", "## Worker warm-up").contains("| +454.3 | +16.0 |"));
    assert!(md.contains("Recorded with results schema 1"), "the fresh-worker table says the run predates the split");

    assert!(!md.contains("other processes were active"), "{md}");
    let recorded = std::fs::read_to_string(h200_run()).unwrap();
    assert!(recorded.contains("other processes were active"), "the warning was recorded by mora 0.1.0");

    assert!(md.contains("VRAM +MB (arena)"), "{md}");
    assert!(md.contains("arena_extend_strategy: next-power-of-two (ONNX Runtime's default)"), "{md}");
    let planning = &md[md.find("**Resource planning (cuda)**").unwrap()..];
    assert!(planning.lines().next().unwrap().contains("arena reserved"), "{planning}");
}

/// The summary and the recommendations condense what results.json keeps: the quiet CPU run's
/// summary row for gpt2 is the single scenario's warm load plus its first inference, the loading
/// advice's table has the same warm load (after unload + trim) as the single table, and results.json
/// holds the advice's evidence both as sentences and as the table.
#[test]
fn the_summary_and_the_advice_rest_on_figures_results_json_keeps() {
    let run = common::fixture_run("20261127T172409Z-vm");
    let json: Value = serde_json::from_str(&render(&[&run], "json")).unwrap();
    let single = json["trials"].as_array().unwrap().iter().find(|t| t["id"] == "cpu/gpt2/single").unwrap();
    let load = single["measurements"]["summary"]["load_time_ms"]["median"].as_f64().unwrap();
    let first = single["measurements"]["summary"]["first_inference_ms"]["median"].as_f64().unwrap();
    let md = render(&[&run], "markdown");
    let row = md.lines().find(|l| l.starts_with("| gpt2 |")).unwrap();
    assert!(row.starts_with(&format!("| gpt2 | {:.0} |", load + first)), "{row}");
    let loading = json["recommendations"].as_array().unwrap().iter().find(|a| a["topic"] == "loading_strategy").unwrap();
    let table = &loading["evidence_table"];
    let gpt2 = table["rows"].as_array().unwrap().iter().find(|r| r[0] == "gpt2").unwrap();
    assert_eq!(gpt2[1], format!("{load:.0}"), "the advice's warm load is the single table's: {gpt2}");
    assert!(md.contains(&format!("| {load:.1} (")), "the single table's load after unload + trim: {load:.1}");
    assert!(
        loading["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains(&format!("warm load {load:.0} ms (after unload + trim)")))
    );
    assert!(loading["verdict"].as_str().unwrap().contains("after unload + trim"), "{loading}");
    // Every recommendation with per-model evidence keeps the sentences beside the table.
    for a in json["recommendations"].as_array().unwrap().iter().filter(|a| !a["evidence_table"].is_null()) {
        assert!(!a["evidence"].as_array().unwrap().is_empty(), "{a}");
    }
}
