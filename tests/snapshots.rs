//! What the user sees, as snapshots (insta): the committed runs rendered in each format, at a narrow
//! terminal and a wide one, and the comparison of two runs. A change to a report shows here as a
//! diff to review: `cargo insta review` (or `INSTA_UPDATE=always cargo test --test snapshots`, then
//! `git diff tests/snapshots/`).

mod common;

use std::path::{Path, PathBuf};

use common::mora;

fn committed(run: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results").join(run)
}

/// `mora report ARGS..` at a terminal `columns` wide (piped output follows COLUMNS).
fn report(args: &[&std::ffi::OsStr], columns: &str) -> String {
    let out = mora().arg("report").args(args).env("COLUMNS", columns).env_remove("NO_COLOR").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn the_h200_run_at_100_columns_in_plain_style() {
    let run = committed("20261127T114236Z-h200");
    snapshot("h200-table-plain-100", &report(&[run.as_os_str(), "--style".as_ref(), "plain".as_ref()], "100"));
}

#[test]
fn the_cpu_run_at_200_columns_with_box_drawing() {
    let run = committed("20261127T143235Z-vm");
    snapshot("cpu-table-full-200", &report(&[run.as_os_str()], "200"));
}

#[test]
fn the_h200_run_as_markdown_and_csv() {
    let run = committed("20261127T114236Z-h200");
    snapshot("h200-markdown", &report(&[run.as_os_str(), "--format".as_ref(), "markdown".as_ref()], "100"));
    snapshot("h200-csv", &report(&[run.as_os_str(), "--format".as_ref(), "csv".as_ref()], "100"));
}

/// Two runs of one machine: the committed CPU run against a copy whose loads were made slower than
/// any of its own, so one figure is beyond the noise and the rest within it.
#[test]
fn two_runs_compared_with_their_noise() {
    let dir = tempfile::tempdir().unwrap();
    let base = committed("20261127T143235Z-vm");
    let slower_dir = dir.path().join("slower");
    std::fs::create_dir(&slower_dir).unwrap();
    let mut slower: serde_json::Value = serde_json::from_slice(&std::fs::read(base.join("results.json")).unwrap()).unwrap();
    for t in slower["trials"].as_array_mut().unwrap().iter_mut().filter(|t| t["id"] == "cpu/gpt2/single") {
        for w in t["measurements"]["workers"].as_array_mut().unwrap() {
            w["load_time_ms"] = serde_json::json!(w["load_time_ms"].as_f64().unwrap() * 3.0);
        }
    }
    std::fs::write(slower_dir.join("results.json"), serde_json::to_vec(&slower).unwrap()).unwrap();
    let table = report(&[base.as_os_str(), slower_dir.as_os_str(), "--style".as_ref(), "plain".as_ref()], "230");
    let comparison = &table[table.find("Comparison (scenario single)").expect("a comparison section")..];
    let comparison = &comparison[..comparison.find("\n\n").unwrap_or(comparison.len())];
    snapshot("comparison-plain-230", comparison);
}
