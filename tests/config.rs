//! The config loader and the command-line numbers under hostile input: ranges, duplicates, bounded
//! reading, a replayed corpus of every input that ever broke the loader, and a seeded fuzz test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Fixture, Rng, mora};
use mora::config::Config;
use predicates::prelude::*;

/// Loading any config, however hostile, takes well under this (the 100,000 nested brackets of issue
/// 14 took 50 s in a debug build).
const FAST: Duration = Duration::from_secs(2);

#[test]
fn runs_0_and_other_flags_out_of_range_are_usage_errors() {
    for (flag, value, range) in [
        ("--runs", "0", "1..=100000"),
        ("--warmup-runs", "10001", "0..=10000"),
        ("--intra-threads", "100000", "0..=1024"),
        ("--gpu-mem-limit-mb", "18446744073709551615", "1..=16777216"),
        ("--device-id", "4294967295", "0..=1023"),
        ("--cycles", "1", "2..=1000"),
    ] {
        mora().args(["bench", flag, value]).assert().code(2).stderr(
            predicate::str::contains(format!("invalid value '{value}' for '{flag} <"))
                .and(predicate::str::contains(format!("{value} is not in {range}"))),
        );
    }
}

#[test]
fn a_model_named_twice_in_models_is_an_error() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").vision("tiny-vision", 8).write();
    fx.bench(&["--models", "tiny-text,tiny-vision,tiny-text"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--models names `tiny-text` twice: each model runs once per scenario; name it once"));
}

#[test]
fn the_concurrent_scenario_with_one_model_is_an_error_before_the_run() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").vision("tiny-vision", 8).write();
    fx.bench(&["--scenario", "concurrent", "--models", "tiny-vision"]).assert().code(1).stderr(predicate::str::contains(
        "--scenario concurrent needs two or more models, and only `tiny-vision` is selected: name two or more with --models A,B",
    ));
    assert!(!fx.path().join("results").exists(), "nothing ran, nothing was written");
}

#[test]
fn a_timeout_that_overflowed_an_instant_is_a_config_error() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").with_defaults("{trial_timeout_s: 18446744073709551615}").write();
    let expected = "models.yaml:2:29: defaults.trial_timeout_s: 18446744073709551615 is out of range: use 1 to 604800";
    mora().arg("models").arg("--config").arg(fx.config()).assert().code(1).stderr(predicate::str::contains(expected));
    fx.bench(&["--scenario", "single"]).assert().code(1).stderr(predicate::str::contains(expected));
}

#[test]
fn models_check_prints_nothing_for_a_valid_config_and_the_error_for_a_bad_one() {
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    mora().arg("models").arg("--config").arg(fx.config()).arg("--check").assert().code(0).stdout("").stderr("");
    let text = std::fs::read_to_string(fx.config()).unwrap().replace("sequence_length: 32", "sequence_length: 32\n    suite: all");
    std::fs::write(fx.config(), text).unwrap();
    let expected = format!(
        "Error: {}:8:12: models[0].suite: `suite: all` is not a suite a model can belong to: write `suite: default` or `suite: optional`",
        fx.config().display()
    );
    mora()
        .arg("models")
        .arg("--config")
        .arg(fx.config())
        .arg("--check")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(expected));
    mora().args(["models", "--schema", "--check"]).assert().code(2);
}

#[test]
fn a_config_that_is_not_a_small_regular_file_is_refused_fast() {
    let start = Instant::now();
    mora()
        .args(["models", "--config", "/dev/zero"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(1)
        .stderr("Error: /dev/zero is a device, pipe or socket, not a regular file: --config takes a models.yaml file\n");
    let fx = Fixture::new().text("tiny-text", 100, 16, "real").write();
    // Like /dev/zero but a regular file: 5 MiB of one endless line.
    let big = fx.path().join("big.yaml");
    std::fs::write(&big, vec![b'a'; 5 << 20]).unwrap();
    mora()
        .arg("models")
        .arg("--config")
        .arg(&big)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("big.yaml is larger than 4 MiB: a models.yaml is a few KB; is this the right file?"));
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    files
}

/// Every input that ever broke the loader fails fast, with an error naming the file and the reason.
#[test]
fn the_corpus_of_inputs_that_broke_the_loader_is_refused_fast() {
    let files = corpus();
    assert!(files.len() >= 15, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
        let start = Instant::now();
        let e = format!("{:#}", Config::load(&path).expect_err(&path.display().to_string()));
        assert!(start.elapsed() < FAST, "{}: {:?}", path.display(), start.elapsed());
        assert!(e.starts_with(&path.display().to_string()) && e.contains(expected), "{}: {e}", path.display());
    }
}

/// What the mutator splices in: YAML syntax, numbers at the edges of every integer type, keys that
/// carry numbers, paths that climb.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "    ",
    "'",
    "\"",
    "\\",
    "#",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "? ",
    "|\n",
    ">-\n",
    "\t",
    "~",
    "null",
    "0",
    "-1",
    "1e309",
    ".nan",
    "0x7f",
    "255",
    "256",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "..",
    "../",
    "/",
    "id: ",
    "inputs: {x: [",
    "trial_timeout_s: ",
    "batch_size: ",
    "sequence_length: ",
    "intra_threads: ",
    "gpu_mem_limit_mb: ",
    "kind: hub",
    "kind: local",
    "\u{feff}",
    "é",
    "\u{0}",
    "---\n",
    "...\n",
];

fn mutate(seed: &str, rng: &mut Rng) -> Vec<u8> {
    common::mutate_bytes(seed.as_bytes(), TOKENS, rng)
}

/// A fuzz test that stays: a few thousand seeded mutations of the committed models.yaml, the corpus
/// and the fixtures' config, parsed as text, and one in ten loaded from a file as raw bytes (invalid
/// UTF-8 included). The loader never panics, never hangs, and every error names the file.
#[test]
fn the_config_loader_survives_seeded_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = Fixture::new().text("tiny-text", 100, 16, "real").vision("tiny-vision", 8).write();
    let mut seeds = vec![std::fs::read_to_string(root.join("models.yaml")).unwrap(), std::fs::read_to_string(fixture.config()).unwrap()];
    seeds.extend(corpus().iter().map(|p| std::fs::read_to_string(p).unwrap()));
    let name = Path::new("fuzz/models.yaml");
    let file = fixture.path().join("fuzz.yaml");
    let mut rng = Rng(0x6d6f_7261);
    let started = Instant::now();
    let (mut accepted, mut errors) = (0, 0);
    for case in 0..3000 {
        // Half the cases mutate the real models.yaml, a quarter the fixtures' config, a quarter the corpus.
        let seed = match rng.below(4) {
            0 | 1 => &seeds[0],
            2 => &seeds[1],
            _ => &seeds[2 + rng.below(seeds.len() - 2)],
        };
        let bytes = mutate(seed, &mut rng);
        let from_file = case % 10 == 0;
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(|| {
            let loaded = if from_file {
                std::fs::write(&file, &bytes).unwrap();
                Config::load(&file)
            } else {
                Config::parse(&String::from_utf8_lossy(&bytes), name)
            };
            loaded.map(|_| ()).map_err(|e| format!("{e:#}"))
        });
        let kept = || {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("config-fuzz-case-{case}.yaml"));
            std::fs::write(&path, &bytes).unwrap();
            path.display().to_string()
        };
        let named = if from_file { file.display().to_string() } else { name.display().to_string() };
        match outcome {
            Err(_) => panic!("case {case} panicked; the input is in {}", kept()),
            Ok(Err(e)) => {
                assert!(e.starts_with(&named), "case {case}: the error does not name the file: {e}; input in {}", kept());
                errors += 1;
            }
            Ok(Ok(())) => accepted += 1,
        }
        assert!(start.elapsed() < FAST, "case {case} took {:?}; the input is in {}", start.elapsed(), kept());
    }
    eprintln!("3000 cases in {:?}: {accepted} accepted, {errors} refused", started.elapsed());
}

/// Indentation and other structure mistakes, one file each in tests/fixtures/yaml/: mora's error names
/// the file and the line PyYAML names for the same file (pyyaml-lines.tsv, written by
/// scripts/yaml_error_lines.py from PyYAML itself), and says the fix the file's `# fix:` line gives.
/// Where PyYAML loads the file (a key valid as YAML but at the wrong level), its line is that of the
/// key or value the mistake moved, by PyYAML's composer.
#[test]
fn yaml_mistakes_name_the_line_pyyaml_names_and_the_fix() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml");
    let table = std::fs::read_to_string(dir.join("pyyaml-lines.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    let listed: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(listed, files, "pyyaml-lines.tsv is out of date: run scripts/yaml_error_lines.py");
    assert!(rows.len() >= 8, "{rows:?}");
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let path = dir.join(row[0]);
            let text = std::fs::read_to_string(&path).unwrap();
            let fix = text.lines().find_map(|l| l.strip_prefix("# fix: ")).expect("a `# fix:` line");
            let e = match Config::load(&path) {
                Ok(_) => "accepted".to_string(),
                Err(e) => format!("{e:#}"),
            };
            let at = format!("{}:{}:", path.display(), row[2]);
            (!(e.starts_with(&at) && e.contains(fix))).then(|| format!("{}: PyYAML's line {}, fix `{fix}`\n  got {e}", row[0], row[2]))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
