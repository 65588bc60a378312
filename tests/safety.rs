//! Never lose or falsify a run: run folders are never shared, a report never overwrites a run, a
//! merge keeps what succeeded, a full disk keeps the last good file, interrupts are interrupts, and
//! workers die with mora.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, mora, trial};
use predicates::prelude::*;
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn run_folders(fx: &Fixture) -> Vec<PathBuf> {
    common::run_folders(&fx.path().join("results"))
}

/// `mora bench` as a child process of the test, so that it can be signalled.
fn spawn_bench(fx: &Fixture, args: &[&str], fault: &str) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("mora"))
        .arg("bench")
        .args(["--provider", "cpu"])
        .arg("--config")
        .arg(fx.config())
        .arg("--out")
        .arg(fx.path().join("results"))
        .args(args)
        .env("MORA_FAULT", fault)
        .env_remove("ORT_DYLIB_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The pids of a process's children (every thread's), from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return vec![] };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// Whether a process is gone (or a zombie nobody has reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Waits until mora has a worker running, and returns the worker's pid.
fn wait_for_worker(bench: &Child) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "mora never started a worker");
        if let Some(worker) = children_of(bench.id()).first() {
            // Give it time to reach the hanging phase (provider initialisation first).
            std::thread::sleep(Duration::from_millis(1500));
            return *worker;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_runs_started_together_never_share_a_folder() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let args = ["--scenario", "single", "--workers", "1"];
    let mut a = spawn_bench(&fx, &args, "");
    let mut b = spawn_bench(&fx, &args, "");
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    // And one right after another, as a loop in a script runs them.
    for _ in 0..2 {
        fx.bench(&args).assert().success();
    }
    let runs = run_folders(&fx);
    assert_eq!(runs.len(), 4, "{runs:?}");
    for run in &runs {
        let r = read_json(&run.join("results.json"));
        assert_eq!(r["trials"].as_array().unwrap().len(), 1, "{}", run.display());
        assert_eq!(r["run"]["complete"], true);
    }
}

#[test]
fn a_report_never_overwrites_a_run() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "1"]).assert().success();
    fx.bench(&["--scenario", "single", "--workers", "1"]).assert().success();
    let runs = run_folders(&fx);
    let (a, b) = (&runs[0], &runs[1]);
    let before = std::fs::read(b.join("results.json")).unwrap();
    mora()
        .arg("report")
        .arg(a)
        .arg(b)
        .arg("--out")
        .arg(b)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("holds a run's results.json, which a report never overwrites"));
    assert_eq!(std::fs::read(b.join("results.json")).unwrap(), before, "the raw run is untouched");
    mora().arg("report").arg(a).arg("--out").arg(a).assert().code(1);

    // A folder of its own is fine, and a report's own output may be written again.
    let merged = fx.path().join("merged");
    mora().arg("report").arg(a).arg(b).arg("--out").arg(&merged).assert().success();
    mora().arg("report").arg(a).arg(b).arg("--out").arg(&merged).assert().success();
    assert_eq!(read_json(&merged.join("results.json"))["run"]["merged_from"].as_array().unwrap().len(), 2);
}

#[test]
fn a_merge_keeps_the_successful_trial_and_the_failure_beside_it() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "1"]).assert().success();
    let good = fx.run_folder();
    // The same run again, where the trial crashed.
    let bad = fx.path().join("later-run");
    std::fs::create_dir_all(&bad).unwrap();
    let mut failed = read_json(&good.join("results.json"));
    failed["trials"][0]["outcome"] = serde_json::json!({
        "status": "crashed", "phase": "load", "termination": {"by": "signal", "number": 9, "name": "SIGKILL"},
        "hint": "killed from outside mora", "stderr_tail": ""
    });
    failed["trials"][0]["measurements"] = Value::Null;
    std::fs::write(bad.join("results.json"), serde_json::to_vec(&failed).unwrap()).unwrap();

    let merged: Value =
        serde_json::from_slice(&mora().arg("report").arg(&good).arg(&bad).args(["--format", "json"]).output().unwrap().stdout).unwrap();
    let t = trial(&merged, "cpu/tiny-text/single");
    assert_eq!(t["outcome"]["status"], "ok", "the later failure does not replace the measurement");
    assert!(t["measurements"]["workers"].is_array());
    assert_eq!(t["other_runs"][0]["run"], "later-run");
    assert_eq!(t["other_runs"][0]["outcome"]["status"], "crashed");
    assert_eq!(merged["run"]["merged_from"].as_array().unwrap().len(), 2);

    let md = String::from_utf8(mora().arg("report").arg(&good).arg(&bad).args(["--format", "markdown"]).output().unwrap().stdout).unwrap();
    assert!(md.contains("**Merged from**: 2 runs: "), "{md}");
    let row = md.lines().find(|l| l.starts_with("| cpu/tiny-text/single |")).unwrap_or_else(|| panic!("{md}"));
    assert!(row.contains("(run later-run); the measurement (run ") && row.contains("is kept"), "{row}");
    let table = String::from_utf8(mora().arg("report").arg(&good).arg(&bad).output().unwrap().stdout).unwrap();
    assert!(table.contains("Merged from: 2 runs"), "{table}");
    let csv = String::from_utf8(mora().arg("report").arg(&good).arg(&bad).args(["--format", "csv"]).output().unwrap().stdout).unwrap();
    assert!(csv.lines().next().unwrap().starts_with("run,host,runtime_version,started_at,trial,"), "{csv}");
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!("{},", good.file_name().unwrap().to_string_lossy())) && row.contains(",cpu/tiny-text/single,"),
        "{csv}"
    );
}

#[test]
fn a_full_disk_keeps_the_last_good_file_and_says_so() {
    let fx = Fixture::new().text("first", 100, 16, "real").text("second", 100, 16, "real").write();
    // Writes 1 (the header) and 2 (the first trial) succeed; the third fails half way with ENOSPC.
    let out = fx.bench(&["--scenario", "single", "--workers", "1"]).env("MORA_FAULT", "disk-full:3").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("is kept, with 1 of the 2 finished trials"), "{stderr}");
    let run = fx.run_folder();
    let names: Vec<String> = std::fs::read_dir(&run).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["results.json".to_string()], "no temporary left behind, no reports on a full disk");
    let kept = read_json(&run.join("results.json"));
    assert_eq!(kept["trials"].as_array().unwrap().len(), 1);
    let rescued = stderr.split("were written to ").nth(1).expect("a rescued copy").trim();
    let rescued = read_json(Path::new(rescued));
    assert_eq!(rescued["trials"].as_array().unwrap().len(), 2, "every finished trial is somewhere");
}

fn interrupted_run(fx: &Fixture, send: impl FnOnce(&Child)) -> (Option<i32>, Value) {
    let mut bench = spawn_bench(fx, &["--scenario", "single", "--workers", "1"], "hang:first_load");
    wait_for_worker(&bench);
    send(&bench);
    let status = bench.wait().unwrap();
    (status.code(), fx.results())
}

#[test]
fn two_ctrl_c_in_a_row_are_an_interrupt_not_a_crash() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let (code, r) = interrupted_run(&fx, |bench| {
        // SAFETY: kill takes plain integers; the pid is our own child's.
        unsafe { libc::kill(bench.id() as i32, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(1));
        // SAFETY: as above.
        unsafe { libc::kill(bench.id() as i32, libc::SIGINT) };
    });
    assert_eq!(code, Some(130));
    assert_eq!(r["run"]["complete"], false);
    let t = trial(&r, "cpu/tiny-text/single");
    assert_eq!(t["outcome"]["status"], "interrupted", "{t:#}");
}

#[test]
fn coreutils_timeout_is_an_interrupt_not_a_crash() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    // timeout sends SIGTERM to mora and then to its own process group, mora included: two signals.
    let out = std::process::Command::new("timeout")
        .args(["--preserve-status", "4"])
        .arg(assert_cmd::cargo::cargo_bin("mora"))
        .arg("bench")
        .args(["--provider", "cpu"])
        .arg("--config")
        .arg(fx.config())
        .arg("--out")
        .arg(fx.path().join("results"))
        .args(["--scenario", "single", "--workers", "1"])
        .env("MORA_FAULT", "hang:first_load")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let r = fx.results();
    assert_eq!(r["run"]["complete"], false);
    assert_eq!(trial(&r, "cpu/tiny-text/single")["outcome"]["status"], "interrupted");
}

#[test]
fn a_killed_mora_takes_its_worker_with_it() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let mut bench = spawn_bench(&fx, &["--scenario", "single", "--workers", "1"], "hang:first_load");
    let worker = wait_for_worker(&bench);
    assert!(!gone(worker));
    bench.kill().unwrap();
    bench.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(worker) {
        assert!(Instant::now() < deadline, "worker {worker} outlived mora");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` until `limit` has passed, then kills it: a test never hangs on a regression.
fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mora did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The files of a run folder that a failed write left behind, if any.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".tmp-")).collect()
}

#[test]
fn reports_that_cannot_be_written_after_the_trials_are_warnings_and_latest_still_moves() {
    // Write 1 is results.json's header, write 2 the last trial with the run's end; every write after
    // it (reports, charts, CSV, profile) fails half way with ENOSPC.
    for (faults, code) in [("disk-full:3", 0), ("disk-full:3,crash:load", 3)] {
        let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
        let out = fx.bench(&["--scenario", "single", "--workers", "1"]).env("MORA_FAULT", faults).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{faults}: the trials decide the exit code: {stderr}");
        let run = fx.run_folder();
        for file in ["report.md", "report.html", "results.csv", "profile.json"] {
            let line = format!("warning: cannot write {}", run.join(file).display());
            assert!(stderr.contains(&line) && stderr.contains("No space left on device"), "{faults}: {line} in {stderr}");
        }
        assert!(stderr.contains(&format!("{} is whole", run.join("results.json").display())), "{stderr}");
        let r = fx.results();
        assert_eq!(r["run"]["complete"], true, "results.json is the whole run");
        assert_eq!(r["trials"].as_array().unwrap().len(), 1);
        assert_eq!(std::fs::read_link(fx.path().join("results/latest")).unwrap(), run.file_name().unwrap(), "latest still moves");
        assert_eq!(temporaries(&run), Vec::<String>::new());
        assert!(!String::from_utf8_lossy(&out.stdout).is_empty(), "the figures are still shown");
    }
}

/// A tmpfs of `inodes` inodes mounted for the life of the value (root only).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, inodes: usize) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size=16m,nr_inodes={inodes}"), "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs at {} (needs root)", at.display());
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root: mounts a tmpfs with few inodes (a real full disk); run with --ignored as root"]
fn a_disk_that_fills_after_the_trials_leaves_exit_0_with_warnings() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    // Five inodes: the root, the results folder, the run folder, results.json and the temporary
    // file that replaces it. Every trial's write fits; after the run's last, report.md takes the
    // fifth and nothing else fits (reports, charts, the `latest` link): ENOSPC, as on a full disk.
    let disk = SmallDisk::mount(&fx.path().join("disk"), 5);
    let out_dir = disk.0.join("results");
    let out = common::mora()
        .arg("bench")
        .args(["--provider", "cpu"])
        .arg("--config")
        .arg(fx.config())
        .arg("--out")
        .arg(&out_dir)
        .args(["--scenario", "single", "--workers", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("No space left on device") && stderr.contains("warning: cannot write"), "{stderr}");
    let runs = common::run_folders(&out_dir);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let r = read_json(&runs[0].join("results.json"));
    assert_eq!(r["run"]["complete"], true);
    assert_eq!(temporaries(&runs[0]), Vec::<String>::new(), "no temporary left on the full disk");
    assert!(!String::from_utf8_lossy(&out.stdout).is_empty(), "the figures are still shown");
}

#[test]
fn a_full_disk_mid_run_is_not_called_an_interrupt() {
    // Write 3 is the second trial's, before the third ran: the run stops there.
    let fx = Fixture::new().text("first", 100, 16, "real").text("second", 100, 16, "real").text("third", 100, 16, "real").write();
    let out = fx.bench(&["--scenario", "single", "--workers", "1"]).env("MORA_FAULT", "disk-full:3").output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!table.contains("interrupted"), "{table}");
    assert!(table.contains("INCOMPLETE: the run stopped before its end"), "{table}");
    assert!(table.contains("the run stopped after 2 trials because results.json could not be written"), "{table}");
    assert!(table.contains("No space left on device"), "{table}");
    // The file kept on disk says no more than it knows.
    let kept = String::from_utf8(mora().arg("report").arg(fx.run_folder()).output().unwrap().stdout).unwrap();
    assert!(kept.contains("INCOMPLETE: the run stopped before its end") && !kept.contains("was interrupted"), "{kept}");
}

#[test]
fn run_name_latest_is_refused_and_a_blocked_latest_is_a_warning() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "1", "--run-name", "latest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"latest\" is the link to the newest run under --out"));
    assert!(!fx.path().join("results/latest").exists(), "no run folder named latest");
    // A folder someone made where the link goes: the run stands, and mora says the link did not move.
    std::fs::create_dir_all(fx.path().join("results/latest")).unwrap();
    fx.bench(&["--scenario", "single", "--workers", "1", "--run-name", "named"])
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: cannot write").and(predicate::str::contains("cannot point")));
    assert_eq!(read_json(&fx.path().join("results/named/results.json"))["run"]["complete"], true);
}

#[test]
fn sighup_and_sigquit_stop_a_run_like_sigterm() {
    for signal in [libc::SIGHUP, libc::SIGQUIT] {
        let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
        let mut bench = spawn_bench(&fx, &["--scenario", "single", "--workers", "1"], "hang:first_load");
        let worker = wait_for_worker(&bench);
        // SAFETY: kill takes plain integers; the pid is our own child's.
        unsafe { libc::kill(bench.id() as i32, signal) };
        let status = wait_bounded(&mut bench, Duration::from_secs(30));
        assert_eq!(status.code(), Some(130), "signal {signal}: {status:?}");
        let r = fx.results();
        assert_eq!(r["run"]["complete"], false);
        assert_eq!(trial(&r, "cpu/tiny-text/single")["outcome"]["status"], "interrupted", "signal {signal}");
        let md = std::fs::read_to_string(fx.run_folder().join("report.md")).expect("the reports are written");
        assert!(md.contains("INCOMPLETE: the run was interrupted"), "{md}");
        assert!(gone(worker), "the worker went with the run");
    }
}

#[test]
fn a_single_sigsegv_sent_to_a_worker_is_its_crash() {
    // A deadline well inside the test's bound: a worker that ignored the signal would time out.
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").with_defaults("{runs: 5, warmup_runs: 2, trial_timeout_s: 20}").write();
    let mut bench = spawn_bench(&fx, &["--scenario", "single", "--workers", "1"], "hang:first_load");
    let worker = wait_for_worker(&bench);
    // SAFETY: kill takes plain integers; the pid is mora's worker, alive (it hangs on purpose).
    unsafe { libc::kill(worker as i32, libc::SIGSEGV) };
    let status = wait_bounded(&mut bench, Duration::from_secs(60));
    assert_eq!(status.code(), Some(3), "{status:?}");
    let t = trial(&fx.results(), "cpu/tiny-text/single").clone();
    assert_eq!(t["outcome"]["status"], "crashed", "{t:#}");
    assert_eq!(t["outcome"]["termination"], serde_json::json!({"by": "signal", "number": 11, "name": "SIGSEGV"}), "{t:#}");
}

#[test]
fn a_real_memory_fault_in_a_worker_is_still_a_sigsegv_crash() {
    // The handler that lets a sent SIGSEGV kill the worker hands a real fault on, as before.
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let out = fx.bench(&["--scenario", "single", "--workers", "1"]).env("MORA_FAULT", "segfault:load").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let t = trial(&fx.results(), "cpu/tiny-text/single").clone();
    assert_eq!(t["outcome"]["status"], "crashed", "{t:#}");
    assert_eq!(t["outcome"]["termination"]["name"], "SIGSEGV", "{t:#}");
    assert_eq!(t["outcome"]["phase"], "load", "{t:#}");
}
