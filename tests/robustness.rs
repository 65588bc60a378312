//! The last ways to lose a finished run or the machine (issue 25): a closed pipe under any command,
//! files that never end or block (`/dev/zero`, FIFOs, oversized files) wherever mora reads one,
//! `--out` folders that are not a report's own, and messages that named the wrong thing. In the
//! probe's harness style: seeded, and every child bounded in time (and in memory, so that a
//! regression cannot take the machine down with it).

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, Rng};

fn committed(run: &str) -> PathBuf {
    common::fixture_run(run)
}

const CPU_RUN: &str = "20261127T172409Z-vm";

/// `mora ARGS..` as a plain child process, without the test's faults or runtime overrides, its
/// address space capped at 4 GiB: a reader that regressed to reading `/dev/zero` whole fails fast
/// instead of filling the machine.
fn mora(args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("mora"));
    cmd.args(args).env_remove("MORA_FAULT").env_remove("ORT_DYLIB_PATH").stdin(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe and takes a pointer to a value on this stack frame.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 4 << 30, rlim_max: 4 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// A pipe whose reading end is closed already: the first write into it fails with EPIPE, as when
/// `head` has exited.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array, which has room for two.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just made by pipe2 and belong to nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

/// How a bounded child ended.
#[derive(Debug)]
struct Ended {
    /// `None`: a signal ended it, or the limit did.
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
    peak_rss_mb: f64,
    seconds: f64,
}

/// Runs `cmd` to its end or until `limit` (then kills it), with its output and the kernel's peak
/// RSS for it (wait4).
fn run_bounded(cmd: &mut Command, limit: Duration) -> Ended {
    run_bounded_into(cmd.stdout(Stdio::piped()), limit)
}

/// [`run_bounded`] with the standard output `cmd` was given.
#[allow(clippy::zombie_processes, reason = "reaped with wait4 below, for the kernel's peak RSS of it")]
fn run_bounded_into(cmd: &mut Command, limit: Duration) -> Ended {
    let started = Instant::now();
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let pid = child.id() as libc::pid_t;
    let (mut status, mut timed_out) = (0, false);
    // SAFETY: rusage is plain data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes into the two out-parameters, which live for the call.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if rc == pid {
            break;
        }
        if started.elapsed() > limit && !timed_out {
            timed_out = true;
            // SAFETY: kill takes plain integers; the child is ours and not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ended {
        code,
        timed_out,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The commands the issue named, each of which printed more than a pipe holds or printed line by line.
fn printing_commands(fx: &Fixture) -> Vec<Vec<std::ffi::OsString>> {
    let run = committed(CPU_RUN).into_os_string();
    let models_yaml = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.yaml").into_os_string();
    let mut commands: Vec<Vec<std::ffi::OsString>> = vec![vec!["report".into(), "--schema".into()]];
    for format in ["json", "html", "markdown", "csv", "table", "profile", "profile-yaml"] {
        commands.push(vec!["report".into(), run.clone(), "--format".into(), format.into()]);
    }
    commands.push(vec!["models".into(), "--config".into(), models_yaml]);
    commands.push(vec!["models".into(), "--schema".into()]);
    commands.push(vec!["doctor".into()]);
    commands.push(vec!["bench".into(), "--config".into(), fx.config().into(), "--dry-run".into()]);
    let profile = fx.path().join("profile.json");
    let made = mora(&[os("report"), committed(CPU_RUN).as_os_str(), os("--format"), os("profile")]).output().unwrap();
    std::fs::write(&profile, made.stdout).unwrap();
    commands.push(
        ["simulate", "--profile"]
            .map(Into::into)
            .into_iter()
            .chain([profile.into_os_string()])
            .chain(["--budget-mb", "1500", "--zipf", "1", "--requests", "50", "--rate", "1"].map(Into::into))
            .collect(),
    );
    commands
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let mut rng = Rng(25);
    for args in printing_commands(&fx) {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        // Closed before the first byte: every write fails.
        let ended = run_bounded_into(mora(&args).stdout(closed_pipe()), Duration::from_secs(60));
        assert!(!ended.timed_out && matches!(ended.code, Some(0 | 141)), "{args:?}: {ended:?}");
        assert!(!ended.stderr.contains("panicked") && !ended.stderr.contains("Broken pipe"), "{args:?}: {}", ended.stderr);

        // Closed after a few bytes, as `| head -c N` does.
        let keep = 1 + rng.below(120);
        let mut child = mora(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut head = vec![0u8; keep];
        let mut stdout = child.stdout.take().unwrap();
        let _ = stdout.read_exact(&mut head);
        drop(stdout);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{args:?} never ended after its reader went away");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(matches!(status.code(), Some(0 | 141)), "{args:?} after {keep} bytes: {status:?} {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_bench_with_closed_stdout_and_stderr_still_writes_everything() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    let results = fx.path().join("results");
    let status = mora(&[os("bench"), os("--config"), fx.config().as_os_str(), os("--scenario"), os("single"), os("--workers"), os("1")])
        .arg("--out")
        .arg(&results)
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "the run's exit code is its trials', whatever became of the terminal");
    let r = fx.results();
    assert_eq!(r["run"]["complete"], true);
    let run = fx.run_folder();
    for file in ["report.md", "report.html", "results.csv", "profile.json"] {
        assert!(run.join(file).is_file(), "{file} is written");
    }
    assert_eq!(std::fs::read_link(results.join("latest")).unwrap(), run.file_name().unwrap());
}

/// A file that is sparse: `len` bytes long, none of them written.
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

fn fifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path, which lives for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

#[test]
fn files_that_never_end_or_block_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(4);
    let mib = 1u64 << 20;
    // A run folder whose results.json is a FIFO; a fleet task folder whose failed.json is one.
    std::fs::create_dir(d.join("fifo-run")).unwrap();
    fifo(&d.join("fifo-run/results.json"));
    std::fs::create_dir(d.join("fifo-task")).unwrap();
    fifo(&d.join("fifo-task/failed.json"));
    fifo(&d.join("fifo"));
    // Regular files just over each cap, sparse: refused from their size, never read.
    sparse(&d.join("huge-results.json"), 256 * mib + 1 + rng.below(4096) as u64);
    sparse(&d.join("huge-profile.json"), 64 * mib + 1 + rng.below(4096) as u64);
    sparse(&d.join("huge-trace.csv"), 512 * mib + 1 + rng.below(4096) as u64);
    let profile = d.join("profile.json");
    let made = mora(&[os("report"), committed(CPU_RUN).as_os_str(), os("--format"), os("profile")]).output().unwrap();
    std::fs::write(&profile, made.stdout).unwrap();
    let p = |name: &str| d.join(name).into_os_string();

    let simulate = |profile: std::ffi::OsString, trace: Option<std::ffi::OsString>| {
        let mut args: Vec<std::ffi::OsString> = vec!["simulate".into(), "--profile".into(), profile, "--budget-mb".into(), "1500".into()];
        match trace {
            Some(t) => args.extend(["--trace".into(), t]),
            None => args.extend(["--zipf", "1", "--requests", "10", "--rate", "1"].map(Into::into)),
        }
        args
    };
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (vec!["report".into(), "/dev/zero".into()], "/dev/zero is a device, pipe or socket, not a regular file"),
        (vec!["report".into(), "/dev/urandom".into()], "/dev/urandom is a device, pipe or socket, not a regular file"),
        (vec!["report".into(), p("fifo")], "not a regular file: mora report takes a run folder or its results.json"),
        (vec!["report".into(), p("fifo-run")], "results.json is a device, pipe or socket, not a regular file"),
        (vec!["report".into(), p("fifo-task")], "failed.json is a device, pipe or socket, not a regular file"),
        (vec!["report".into(), p("huge-results.json")], "huge-results.json is larger than 256 MiB"),
        (simulate("/dev/zero".into(), None), "/dev/zero is a device, pipe or socket, not a regular file: --profile takes"),
        (simulate(p("fifo"), None), "not a regular file: --profile takes a profile.json file"),
        (simulate(p("huge-profile.json"), None), "huge-profile.json is larger than 64 MiB"),
        (simulate(profile.clone().into_os_string(), Some(p("fifo"))), "not a regular file: --trace takes a CSV file"),
        (simulate(profile.clone().into_os_string(), Some("/dev/zero".into())), "/dev/zero is a device, pipe or socket"),
        (simulate(profile.clone().into_os_string(), Some(p("huge-trace.csv"))), "huge-trace.csv is larger than 512 MiB"),
        (vec!["models".into(), "--config".into(), p("fifo")], "not a regular file: --config takes a models.yaml file"),
    ];
    for (args, says) in cases {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let ended = run_bounded(&mut mora(&args), Duration::from_secs(20));
        assert!(!ended.timed_out, "{args:?} blocked: {ended:?}");
        assert_eq!(ended.code, Some(1), "{args:?}: {ended:?}");
        assert!(ended.stderr.contains(says), "{args:?}: {}", ended.stderr);
        // Refused before reading: a fresh process's memory, nowhere near the file's size.
        assert!(ended.peak_rss_mb < 50.0, "{args:?} used {:.1} MB", ended.peak_rss_mb);
        // A bound against a hang; the figure itself is measured in docs/robustness.md.
        assert!(ended.seconds < 10.0, "{args:?} took {:.1} s", ended.seconds);
    }
}

#[test]
fn a_schema_version_of_another_type_is_named_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(committed(CPU_RUN).join("results.json")).unwrap()).unwrap();
    for (version, shown) in [(serde_json::json!("1"), r#"schema_version "1" (a string)"#), (serde_json::json!(-2), "schema_version -2")] {
        v["schema_version"] = version;
        let path = dir.path().join("results.json");
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let ended = run_bounded(&mut mora(&[os("report"), path.as_os_str()]), Duration::from_secs(20));
        assert_eq!(ended.code, Some(1), "{ended:?}");
        assert!(ended.stderr.contains(shown) && !ended.stderr.contains("None"), "{}", ended.stderr);
        assert!(ended.stderr.contains("is not one this mora reads (the number 1, 2 or 3)"), "{}", ended.stderr);
    }
}

/// The files in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn report_out_writes_only_into_a_new_folder_or_a_reports_own() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    fx.bench(&["--scenario", "single", "--workers", "1", "--quiet"]).assert().success();
    let run = fx.run_folder();
    let results = fx.path().join("results");
    let report = |out: &Path| {
        run_bounded(
            &mut mora(&[os("report"), run.as_os_str(), committed(CPU_RUN).as_os_str(), os("--out"), out.as_os_str()]),
            Duration::from_secs(60),
        )
    };

    // A folder of someone else's files: nothing in it is replaced.
    let theirs = fx.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("report.md"), "my notes").unwrap();
    let ended = report(&theirs);
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.stderr.contains("holds 1 file that a report did not write: pass another --out"), "{}", ended.stderr);
    assert_eq!(std::fs::read_to_string(theirs.join("report.md")).unwrap(), "my notes");
    assert_eq!(names(&theirs), ["report.md"]);

    // The folder that holds the runs: never beside them.
    let before = names(&results);
    let ended = report(&results);
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.stderr.contains("holds run folders, and a report never goes beside runs"), "{}", ended.stderr);
    assert_eq!(names(&results), before, "nothing written beside the runs");

    // A run's own folder.
    let ended = report(&run);
    assert!(ended.stderr.contains("holds a run's results.json, which a report never overwrites"), "{}", ended.stderr);

    // A new folder, an empty one, and a report's own (its marker) again.
    for out in [fx.path().join("new/merged"), {
        let empty = fx.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        empty
    }] {
        for _ in 0..2 {
            let ended = report(&out);
            assert_eq!(ended.code, Some(0), "{} {ended:?}", out.display());
        }
        assert!(names(&out).contains(&".mora-report".to_string()) && out.join("report.html").is_file(), "{:?}", names(&out));
    }
    // A marker is a report's: removing it makes the folder someone else's.
    let merged = fx.path().join("new/merged");
    std::fs::remove_file(merged.join(".mora-report")).unwrap();
    assert_eq!(report(&merged).code, Some(1));
}

#[test]
fn a_format_written_to_out_is_not_printed_as_well() {
    let dir = tempfile::tempdir().unwrap();
    let run = committed(CPU_RUN);
    for (format, printed) in
        [("html", false), ("markdown", false), ("csv", false), ("json", false), ("profile", false), ("table", true), ("profile-yaml", true)]
    {
        let out = dir.path().join(format);
        let ended = run_bounded(
            &mut mora(&[os("report"), run.as_os_str(), os("--format"), os(format), os("--out"), out.as_os_str()]),
            Duration::from_secs(60),
        );
        assert_eq!(ended.code, Some(0), "{format}: {ended:?}");
        assert_eq!(!ended.stdout.is_empty(), printed, "{format}: {} bytes on stdout", ended.stdout.len());
        assert!(ended.stderr.contains("report.html"), "{format}: the files are named: {}", ended.stderr);
    }
}

// Case 5: messages that named the wrong thing. Each names the real file, the real cause and the
// real position, and the tests check that the old wrong words are gone.

/// `mora ARGS..` to its end (bounded), for its exit code and output.
fn mora_ended(args: &[&std::ffi::OsStr]) -> Ended {
    run_bounded(&mut mora(args), Duration::from_secs(60))
}

#[test]
fn a_folder_fifo_or_device_as_a_model_is_named_for_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("model.onnx");
    std::fs::create_dir(&folder).unwrap();
    let pipe = dir.path().join("pipe.onnx");
    fifo(&pipe);
    for (path, is) in [(folder.as_path(), "is a folder"), (pipe.as_path(), "is a FIFO"), (Path::new("/dev/null"), "is a device")] {
        let ended = mora_ended(&[os("bench"), os("--model"), path.as_os_str(), os("--dry-run")]);
        assert_eq!(ended.code, Some(1), "{ended:?}");
        assert!(
            ended.stderr.contains(&format!("{} {is}", path.display())) && ended.stderr.contains(", not an ONNX file"),
            "{}",
            ended.stderr
        );
        assert!(!ended.stderr.contains("no such file"), "{}", ended.stderr);
    }
    // The same for a models.yaml entry whose `path:` is a folder: `mora models` and `--check` say so.
    let config = dir.path().join("models.yaml");
    std::fs::write(&config, "schema: 1\nmodels:\n  - id: mine\n    type: vision\n    source: {kind: local}\n    path: model.onnx\n")
        .unwrap();
    let listed = mora_ended(&[os("models"), os("--config"), config.as_os_str()]);
    assert_eq!(listed.code, Some(0), "{listed:?}");
    let said = format!("{} is a folder, not an ONNX file: point `path:` of model `mine` ({}:3)", folder.display(), config.display());
    assert!(listed.stdout.replace('\n', " ").contains(&said), "{}", listed.stdout);
    assert!(!listed.stdout.contains("put your ONNX file"), "{}", listed.stdout);
}

#[test]
fn a_missing_tokenizer_is_blamed_not_the_model_file() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .entry("  - id: own\n    type: embedding\n    source: {kind: local}\n    path: models/tiny-text/model.onnx\n    tokenizer: {kind: file, path: nope/tokenizer.json}\n")
        .write();
    let listed = mora_ended(&[os("models"), os("--config"), fx.config().as_os_str()]);
    let text = listed.stdout.replace('\n', " ");
    assert!(
        text.contains("nope/tokenizer.json is missing: the tokenizer of model `own`; fix `tokenizer:` of model `own`"),
        "{}",
        listed.stdout
    );
    assert!(!text.contains("put your ONNX file"), "{}", listed.stdout);
    let checked = mora_ended(&[os("models"), os("--config"), fx.config().as_os_str(), os("--check")]);
    assert!(checked.stderr.contains("warning: ") && checked.stderr.contains("the tokenizer of model `own`"), "{checked:?}");
}

#[test]
fn a_single_file_model_is_not_missing_the_data_file_an_old_manifest_lists() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    // An earlier export kept its weights in model.onnx.data; the model there now is a single file.
    let manifest = r#"{"weights": "real", "files": [{"path": "model.onnx"}, {"path": "model.onnx.data"}, {"path": "tokenizer.json"}]}"#;
    std::fs::write(fx.path().join("models/tiny-text/manifest.json"), manifest).unwrap();
    let listed = mora_ended(&[os("models"), os("--config"), fx.config().as_os_str()]);
    assert!(!listed.stdout.contains("MISSING") && !listed.stdout.contains("model.onnx.data"), "{}", listed.stdout);
    let checked = mora_ended(&[os("models"), os("--config"), fx.config().as_os_str(), os("--check"), os("--strict")]);
    assert_eq!((checked.code, checked.stderr.as_str()), (Some(0), ""), "{checked:?}");
}

#[test]
fn models_check_warns_of_missing_model_files_and_strict_makes_it_an_error() {
    let fx = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .entry("  - id: gone\n    type: vision\n    source: {kind: local}\n    path: gone.onnx\n")
        .write();
    let check = |strict: bool| {
        let mut args = vec![os("models"), os("--config"), fx.config().into_os_string().leak(), os("--check")];
        if strict {
            args.push(os("--strict"));
        }
        mora_ended(&args)
    };
    let gone = format!("{} is missing", fx.path().join("gone.onnx").display());
    let warned = check(false);
    assert_eq!(warned.code, Some(0), "{warned:?}");
    assert!(warned.stderr.contains(&format!("warning: {gone}")), "{}", warned.stderr);
    let failed = check(true);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(failed.stderr.contains(&format!("error: {gone}")), "{}", failed.stderr);
}

#[test]
fn control_characters_and_bytes_that_are_not_utf8_are_placed_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.yaml");
    for (bytes, said) in [
        (&b"schema: 1\nmodels:\n  - id: a\n    type: vis\x00ion\n"[..], ":4:14: control character U+0000 is not allowed in YAML"),
        (&b"schema: 1\nmodels:\n  - id: a\n    type: vis\xff\xfeion\n"[..], ":4:14: byte 0xff is not UTF-8 text"),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let ended = mora_ended(&[os("models"), os("--config"), path.as_os_str(), os("--check")]);
        assert_eq!(ended.code, Some(1), "{ended:?}");
        assert!(ended.stderr.contains(&format!("{}{said}", path.display())), "{}", ended.stderr);
        assert!(
            !ended.stderr.contains(":1:1:") && !ended.stderr.contains("index") && !ended.stderr.contains("position"),
            "{}",
            ended.stderr
        );
    }
}

#[test]
fn a_config_given_with_config_is_not_told_to_pass_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let ended = mora_ended(&[os("models"), os("--config"), path.as_os_str()]);
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.stderr.contains(&format!("cannot read the model config {}", path.display())), "{}", ended.stderr);
    assert!(ended.stderr.contains("No such file") && !ended.stderr.contains("pass --config"), "{}", ended.stderr);
}

#[test]
fn bad_and_duplicate_ids_are_placed_at_their_lines_in_any_style() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.yaml");
    let entry = "type: vision, weights: real, source: {kind: local}, path: a.onnx";
    for (yaml, said) in [
        (format!("schema: 1\nmodels:\n  - {{id: ok, {entry}}}\n  - {{id: \"A\\tb\", {entry}}}\n"), ":4: model id `A\tb` must start"),
        (format!("schema: 1\nmodels:\n  -\n    id: \"x y\"\n    {}\n", entry.replace(", ", "\n    ")), ":4: model id `x y` must start"),
        (
            format!("schema: 1\nmodels:\n  - {{id: a, {entry}}}\n  # a comment\n  - {{id: a, {entry}}}\n"),
            ":5: model id `a` appears twice (first at line 3)",
        ),
    ] {
        std::fs::write(&path, yaml).unwrap();
        let ended = mora_ended(&[os("models"), os("--config"), path.as_os_str(), os("--check")]);
        assert_eq!(ended.code, Some(1), "{ended:?}");
        assert!(ended.stderr.contains(&format!("{}{said}", path.display())), "{}", ended.stderr);
    }
}

#[test]
fn simulate_help_names_the_trace_headers_it_reads() {
    let ended = mora_ended(&[os("simulate"), os("--help")]);
    let help = ended.stdout.replace('\n', " ");
    assert!(help.contains("`time_s,model`") && help.contains("`time_ms,model`"), "{help}");
    // The byte order mark and `time,model` themselves: `simulate::trace::tests::the_headers_simulate_help_documents_*`.
}
