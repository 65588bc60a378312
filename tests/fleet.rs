//! A fleet: runs named by their task (`--run-name`), runs from several machines merged without one
//! replacing another, compared host by host and advised per machine class, failed tasks named, the
//! profile per host, and the HTML page. The scheduler itself is tested by scripts/fleet/tests/.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, mora};
use predicates::prelude::*;
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn stdout(args: &[&std::ffi::OsStr]) -> String {
    let out = mora().arg("report").args(args).output().unwrap();
    assert!(out.status.success(), "mora report {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn committed(run: &str) -> PathBuf {
    common::fixture_run(run)
}

/// The model and config the Slurm test benchmarks (scripts/fleet/tests/slurm.sh): committed, so a
/// shell script can use them, and checked here to be what mora's ONNX writer makes today.
/// `MORA_WRITE_FIXTURES=1 cargo test --test fleet` writes them again after a change to the writer.
#[test]
fn the_committed_fleet_fixture_is_what_mora_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fleet");
    let files = [
        ("models/tiny-text/model.onnx", common::text_model(100, 16)),
        ("models/tiny-text/tokenizer.json", common::tokenizer_json().into_bytes()),
    ];
    for (name, bytes) in &files {
        let path = dir.join(name);
        if std::env::var_os("MORA_WRITE_FIXTURES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        let committed =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}: run MORA_WRITE_FIXTURES=1 cargo test --test fleet", path.display()));
        assert!(&committed == bytes, "{} differs from what mora writes: run MORA_WRITE_FIXTURES=1 cargo test --test fleet", path.display());
    }
    mora().args(["models", "--config"]).arg(dir.join("models.yaml")).assert().success().stdout(predicate::str::contains("tiny-text"));
}

#[test]
fn a_run_name_names_the_folder_and_is_never_shared() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let args = ["--scenario", "single", "--workers", "1", "--run-name", "cpu-12_0-node-1"];
    fx.bench(&args).assert().success();
    let run = fx.path().join("results/cpu-12_0-node-1");
    assert_eq!(read_json(&run.join("results.json"))["trials"].as_array().unwrap().len(), 1);
    assert!(run.join("report.html").is_file(), "every run folder has its page");

    // The same name again (a task run twice): refused, and the first run is untouched.
    let before = std::fs::read(run.join("results.json")).unwrap();
    fx.bench(&args).assert().code(1).stderr(
        predicate::str::contains("cpu-12_0-node-1 exists: a run never writes into another run's folder")
            .and(predicate::str::contains("--run-name")),
    );
    assert_eq!(std::fs::read(run.join("results.json")).unwrap(), before);

    for bad in ["../escape", "a/b", ".hidden", ""] {
        fx.bench(&["--run-name", bad]).assert().code(2).stderr(predicate::str::contains("is not a run name"));
    }
}

/// A run of the fixture as if made on `host`: a copy of `run` with its host name (and GPUs) changed,
/// each worker's load time longer by `extra_ms`.
fn as_if_on(fx: &Fixture, run: &Path, folder: &str, host: &str, gpu: Option<&str>, extra_ms: f64) -> PathBuf {
    let mut r = read_json(&run.join("results.json"));
    r["run"]["host"]["hostname"] = host.into();
    if let Some(name) = gpu {
        r["run"]["gpus"] = serde_json::json!([{"index": 0, "name": name, "uuid": null, "driver_version": "580", "driver_cuda_version": "13.0", "memory_total_mb": 81559.0}]);
    }
    for t in r["trials"].as_array_mut().unwrap() {
        for w in t["measurements"]["workers"].as_array_mut().unwrap() {
            let load = w["load_time_ms"].as_f64().unwrap();
            w["load_time_ms"] = (load + extra_ms).into();
        }
    }
    let dir = fx.path().join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("results.json"), serde_json::to_vec(&r).unwrap()).unwrap();
    dir
}

#[test]
fn runs_from_several_hosts_keep_every_trial_compare_hosts_and_advise_per_class() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "3"]).assert().success();
    let run = fx.run_folder();
    let a = as_if_on(&fx, &run, "run-node-a", "node-a", None, 0.0);
    let b = as_if_on(&fx, &run, "run-node-b", "node-b", None, 1000.0);
    let gpu = as_if_on(&fx, &run, "run-gpu-1", "gpu-1", Some("NVIDIA H100 80GB HBM3"), 0.0);

    let merged: Value =
        serde_json::from_str(&stdout(&[a.as_os_str(), b.as_os_str(), gpu.as_os_str(), "--format".as_ref(), "json".as_ref()])).unwrap();
    let trials = merged["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 3, "the same trial from three hosts is three records");
    let hosts: Vec<&str> = trials.iter().map(|t| t["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["node-a", "node-b", "gpu-1"]);
    assert!(trials.iter().all(|t| t["other_runs"].is_null()), "nothing replaced");
    let classes: Vec<&str> = merged["run"]["hosts"].as_array().unwrap().iter().map(|h| h["machine_class"].as_str().unwrap()).collect();
    assert_eq!(classes[0], classes[1]);
    assert!(classes[2].starts_with("1x NVIDIA H100 80GB HBM3, "), "{classes:?}");
    // The advice per class: node-a and node-b together, gpu-1 alone, each tagged.
    let advice = merged["recommendations"].as_array().unwrap();
    let loading: Vec<&Value> = advice.iter().filter(|r| r["topic"] == "loading_strategy").collect();
    assert_eq!(loading.len(), 2, "{loading:#?}");
    assert_eq!(loading[0]["machine_class"], classes[0]);
    let evidence = loading[0]["evidence"].to_string();
    assert!(evidence.contains("tiny-text @ node-a") && evidence.contains("tiny-text @ node-b"), "{evidence}");
    assert!(!loading[1]["evidence"].to_string().contains('@'), "one host in its class: no host in the evidence");

    let md = stdout(&[a.as_os_str(), b.as_os_str(), gpu.as_os_str(), "--format".as_ref(), "markdown".as_ref()]);
    assert!(md.starts_with("# ModelMora: Model Lifecycle Benchmark, 3 hosts"), "{md}");
    assert!(md.contains("- **Fleet**: 3 hosts in 2 machine classes"), "{md}");
    for section in ["## Hosts", "## Host by host (scenario single)", "## Planning per machine class"] {
        assert!(md.contains(section), "{section} in\n{md}");
    }
    for host in ["node-a", "node-b", "gpu-1"] {
        assert!(md.contains(&format!("## Load and inference in a warmed worker (scenario single) — {host}")), "{host} in\n{md}");
    }
    // node-b's loads are a second longer than node-a's, beyond the noise of three workers; the same
    // class, so the pair is named.
    let row = |host: &str| md.lines().find(|l| l.starts_with(&format!("| tiny-text | cpu | {host} |"))).unwrap().to_string();
    assert!(row("node-a").contains("| best |"), "{}", row("node-a"));
    assert!(row("node-b").contains("x | ") && !row("node-b").contains("within noise | best"), "{}", row("node-b"));
    assert!(row("gpu-1").contains("| 1.00x, within noise |") || row("gpu-1").contains("| best |"), "{}", row("gpu-1"));
    assert!(
        md.contains("Hosts of the same machine class that differ beyond their noise") && md.contains("tiny-text (cpu) load: node-a"),
        "{md}"
    );
    assert!(md.contains("**Resource planning (cpu on 1x NVIDIA H100 80GB HBM3, "), "{md}");

    // The CSV: each row names its own host.
    let csv = stdout(&[a.as_os_str(), b.as_os_str(), gpu.as_os_str(), "--format".as_ref(), "csv".as_ref()]);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let host_col = header.iter().position(|h| *h == "host").unwrap();
    let hosts: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(host_col).unwrap()).collect();
    assert_eq!(hosts, ["node-a", "node-b", "gpu-1"], "{csv}");

    // The profile: one entry per host, with its class.
    let profile: Value = serde_json::from_str(&stdout(&[a.as_os_str(), gpu.as_os_str(), "--format".as_ref(), "profile".as_ref()])).unwrap();
    let entries: Vec<(&str, &str)> =
        profile["hosts"].as_array().unwrap().iter().map(|h| (h["host"].as_str().unwrap(), h["machine_class"].as_str().unwrap())).collect();
    assert_eq!(entries.len(), 2);
    assert!(entries.contains(&("gpu-1", classes[2])) && entries.contains(&("node-a", classes[0])), "{entries:?}");

    // A merge of runs of one host is what it was: a later run of the same trial keeps the earlier beside it.
    let later = as_if_on(&fx, &run, "run-node-a-later", "node-a", None, 1.0);
    let one_host: Value = serde_json::from_str(&stdout(&[a.as_os_str(), later.as_os_str(), "--format".as_ref(), "json".as_ref()])).unwrap();
    assert_eq!(one_host["trials"].as_array().unwrap().len(), 1);
    assert_eq!(one_host["trials"][0]["other_runs"][0]["run"], "run-node-a");
    assert_eq!(one_host["run"]["hosts"].as_array().unwrap().len(), 1);
    assert!(one_host["recommendations"][0]["machine_class"].is_null(), "one machine: advice as for a run");
}

#[test]
fn two_machines_with_one_host_name_stay_two_hosts() {
    // Both committed runs were made on machines named "vm": a 2-core VM and an H200 server.
    let (vm, h200) = (committed("20261127T063335Z-vm"), committed("20261127T114236Z-h200"));
    let merged: Value = serde_json::from_str(&stdout(&[vm.as_os_str(), h200.as_os_str(), "--format".as_ref(), "json".as_ref()])).unwrap();
    let labels: Vec<&str> = merged["run"]["hosts"].as_array().unwrap().iter().map(|h| h["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["vm (no GPU, 2 cores)", "vm (1x NVIDIA H200, 16 cores)"]);
    let single_cpu_gpt2 = merged["trials"].as_array().unwrap().iter().filter(|t| t["id"] == "cpu/gpt2/single").count();
    assert_eq!(single_cpu_gpt2, 2, "each machine's cpu/gpt2/single is kept");
    let profile: Value =
        serde_json::from_str(&stdout(&[vm.as_os_str(), h200.as_os_str(), "--format".as_ref(), "profile".as_ref()])).unwrap();
    assert_eq!(profile["hosts"].as_array().unwrap().len(), 2);
}

#[test]
fn a_failed_task_is_named_and_the_merge_goes_on() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "1", "--run-name", "cpu-7_0-node-1"]).assert().success();
    let good = fx.path().join("results/cpu-7_0-node-1");
    let failed = fx.path().join("results/gpu-8_0-node-2");
    std::fs::create_dir_all(&failed).unwrap();
    // As a task writes it from stderr, a stray byte that is not UTF-8 included.
    let record = [
        &br#"{"host": "node-2", "job": "slurm 8_0", "exit_code": 1, "reason": "Error: --provider cuda: CUDA cannot run here: "#[..],
        &[0xff],
        &br#" this ONNX Runtime is a CPU-only build"}"#[..],
    ]
    .concat();
    std::fs::write(failed.join("failed.json"), record).unwrap();

    let out = fx.path().join("merged");
    // The Markdown goes to the folder (report.md), not to the terminal as well.
    let printed = mora().arg("report").arg(&good).arg(&failed).args(["--format", "markdown", "--out"]).arg(&out).output().unwrap();
    assert!(printed.status.success() && printed.stdout.is_empty(), "{}", String::from_utf8_lossy(&printed.stderr));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Runs that failed"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| gpu-8_0-node-2 |")).unwrap_or_else(|| panic!("{md}"));
    assert!(row.contains("| node-2 | slurm 8_0 | 1 |") && row.contains("CUDA cannot run here"), "{row}");
    let merged = read_json(&out.join("results.json"));
    assert_eq!(merged["run"]["failed_runs"][0]["run"], "gpu-8_0-node-2");
    assert_eq!(merged["run"]["merged_from"], serde_json::json!(["cpu-7_0-node-1"]));
    assert!(std::fs::read_to_string(out.join("report.html")).unwrap().contains("id=\"s-runs-that-failed\""));

    // Nothing but failures: nothing to report, and every failure is named.
    mora()
        .arg("report")
        .arg(&failed)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no run given has results").and(predicate::str::contains("gpu-8_0-node-2")));
    // A folder with neither file says which files it looked for.
    let empty = fx.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    mora().arg("report").arg(&empty).assert().code(1).stderr(predicate::str::contains("holds neither results.json nor failed.json"));
    // A record that is not one says which file and where its fields are described.
    std::fs::write(failed.join("failed.json"), b"{\"why\": 1}").unwrap();
    mora()
        .arg("report")
        .arg(&good)
        .arg(&failed)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not a failed run's record (docs/fleet.md, \"Reading the merged report\", names its fields)"));
    // ... and that page's section does name them.
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fleet.md")).unwrap();
    let section = page.split("\n## Reading the merged report\n").nth(1).expect("docs/fleet.md has a \"Reading the merged report\" section");
    assert!(section.contains("A `failed.json` has `reason` and, optionally, `run`, `host`, `job` and `exit_code`"), "{section}");
}

#[test]
fn the_html_page_is_self_contained_and_holds_every_section() {
    let (vm, h200) = (committed("20261127T063335Z-vm"), committed("20261127T114236Z-h200"));
    for runs in [vec![h200.as_os_str()], vec![vm.as_os_str(), h200.as_os_str()]] {
        let html = stdout(&[runs.as_slice(), &["--format".as_ref(), "html".as_ref()]].concat());
        let md = stdout(&[runs.as_slice(), &["--format".as_ref(), "markdown".as_ref()]].concat());
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        // Nothing is fetched: no external script, style, image or font.
        for outside in ["src=\"http", "href=\"http", "url(http", "@import", "<link", "<img", "<iframe"] {
            assert!(!html.contains(outside), "{outside}");
        }
        assert_eq!(html.matches("<script>").count(), 1, "the sorting script, inlined");
        // Every section of the report, under its title (a host's block drops the host from it).
        let titles: Vec<&str> =
            md.lines().filter_map(|l| l.strip_prefix("## ")).filter(|t| *t != "Recommendations" && !t.starts_with("Summary: ")).collect();
        assert!(titles.len() >= 10, "{titles:?}");
        for title in &titles {
            let short = title.rsplit_once(" — ").map_or(*title, |(t, _)| t).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            assert!(html.contains(&format!("{short}</h2>")) || html.contains(&format!("{short}</h3>")), "{title}");
        }
        assert_eq!(html.matches("<table class=\"sortable\"").count(), titles.len(), "one sortable table per section");
        // The page opens with the summary (a fleet's answers per machine class; a run's with its
        // models' tables, sortable too).
        assert!(html.contains("<nav>\n<strong>Contents</strong>\n<ol>\n<li><a href=\"#s-summary\">Summary</a></li>"), "the summary first");
        assert!(runs.len() > 1 || html.contains("<table class=\"sortable summary\""), "the models' table");
        assert!(html.contains("<section id=\"charts\">") && html.matches("<svg ").count() >= 3, "the charts, inlined");
        assert!(html.contains("<section id=\"recommendations\">"));
    }
    let fleet = stdout(&[vm.as_os_str(), h200.as_os_str(), "--format".as_ref(), "html".as_ref()]);
    for id in ["s-hosts", "s-host-by-host", "s-planning-per-machine-class", "s-host-vm-no-gpu-2-cores", "s-host-vm-1x-nvidia-h200-16-cores"]
    {
        assert!(fleet.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(fleet.contains("<h3>cuda on 1x NVIDIA H200, 16 cores Intel(R) Xeon(R) Processor</h3>"), "recommendations per class");
}
