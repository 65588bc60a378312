//! What the user sees, as snapshots (insta): the fixture runs (tests/fixtures/runs/) rendered in each format, at a narrow
//! terminal and a wide one, and the comparison of two runs. A change to a report shows here as a
//! diff to review: `cargo insta review` (or `INSTA_UPDATE=always cargo test --test snapshots`, then
//! `git diff tests/snapshots/`).

mod common;

use std::path::PathBuf;

use common::mora;

/// A fixture run: a copy of the published run, so that refreshing results/ changes no snapshot.
fn committed(run: &str) -> PathBuf {
    common::fixture_run(run)
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
/// any of its own. Three workers a side: the rank test cannot tell, and the table says so.
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

/// Columns on screen, as a terminal draws them: the emoji marks take two, their variation selector
/// none, colour escapes none.
fn columns(line: &str) -> usize {
    line.chars()
        .map(|c| match c {
            '\u{fe0f}' => 0,
            '\u{2600}'..='\u{27bf}' | '\u{1f300}'..='\u{1faff}' => 2,
            _ => 1,
        })
        .sum()
}

/// The first screen of the default suite on both providers: the summary, the seed's three answers
/// per provider, at 100 and 80 columns.
#[test]
fn the_h200_summary_at_80_and_100_columns() {
    let run = committed("20261127T114236Z-h200");
    for columns in ["80", "100"] {
        snapshot(&format!("h200-summary-{columns}"), &report(&[run.as_os_str(), "--summary".as_ref()], columns));
    }
}

/// The quiet CPU run's whole terminal report at 80 columns: prose folds with a hanging indent,
/// tables too wide become blocks.
#[test]
fn the_quiet_cpu_run_at_80_columns_in_plain_style() {
    let run = committed("20261127T172409Z-vm");
    snapshot("vm-table-plain-80", &report(&[run.as_os_str(), "--style".as_ref(), "plain".as_ref()], "80"));
}

/// Every fixture run (and published run, when results/ is there), in every style, at 80 and 100 columns: no line wider than the terminal,
/// and the report opens with its summary; for the default suite (every provider) the summary is at
/// most 40 lines at 100 columns.
#[test]
fn no_line_of_any_committed_report_is_wider_than_the_terminal() {
    let runs = common::fixture_and_published_runs();
    assert!(runs.len() >= 5, "{runs:?}");
    for run in &runs {
        for width in [80usize, 100] {
            for style in ["full", "plain", "ascii"] {
                let text = report(&[run.as_os_str(), "--style".as_ref(), style.as_ref()], &width.to_string());
                for (i, line) in text.lines().enumerate() {
                    assert!(
                        columns(line) <= width,
                        "{} at {width} ({style}), line {}: {} columns:\n{line}",
                        run.display(),
                        i + 1,
                        columns(line)
                    );
                }
                assert!(text.lines().nth(3).is_some_and(|l| l.starts_with("Summary: ")), "{}: {}", run.display(), &text[..200]);
            }
        }
    }
    for run in ["20261127T114236Z-h200", "20261127T172409Z-vm", "20261204T2000Z-vm-cpu-openvino", "20261206T2143Z-vm-cpu-openvino"] {
        let summary = report(&[committed(run).as_os_str(), "--summary".as_ref()], "100");
        let lines = summary.lines().count();
        assert!(lines <= 40, "{run}: {lines} lines:\n{summary}");
        for question in ["Lazy load or pre-warm", "Unload or isolate", "Memory per worker"] {
            assert!(summary.contains(question), "{run}: {summary}");
        }
    }
    // Both providers of the GPU run answer on their own.
    let h200 = report(&[committed("20261127T114236Z-h200").as_os_str(), "--summary".as_ref()], "100");
    assert!(h200.contains("\ncpu: 9 models\n") && h200.contains("\ncuda: 9 models\n"), "{h200}");
}
