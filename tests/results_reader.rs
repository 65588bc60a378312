//! The results reader, fuzzed: seeded mutations of real results files (schema 1 and 2), structural
//! and byte by byte, read, judged and rendered in every format. A results file from anywhere (an old
//! mora, a hand edit, a truncated copy) gives a report or an error naming the file: never a panic.
//! Every input that ever broke it is kept in tests/corpus/results/ and replayed.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, Rng};
use mora::report::{self, Format};
use serde_json::{Value, json};

/// Reads, judges and renders a results file the way `mora report` does; an error names the file.
fn report_on(path: &Path) -> Result<(), String> {
    let mut results = mora::results::read(path).map_err(|e| format!("{e:#}"))?;
    mora::advice::judge(&mut results);
    let runs = vec![("run".to_string(), results.clone())];
    for format in [Format::Table, Format::Markdown, Format::Csv, Format::Json, Format::Profile] {
        report::render(&results, &runs, format).map_err(|e| format!("{e:#}"))?;
    }
    mora::report::chart::all(&results);
    Ok(())
}

/// Values the structural mutator puts in place of a node: every JSON type, and numbers at the edges.
fn replacement(rng: &mut Rng) -> Value {
    let choices = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(-1e308),
        json!(4294967296u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.5),
        json!(""),
        json!("ok"),
        json!("single"),
        json!("cuda"),
        json!([]),
        json!([1.0, -2.0]),
        json!({}),
        json!({"status": "crashed"}),
        json!({"scenario": "single", "workers": [], "summary": {}}),
    ];
    choices[rng.below(choices.len())].clone()
}

/// Every node's path in a JSON document (object keys and array indices).
fn paths(value: &Value, at: &mut Vec<Vec<String>>, prefix: Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = prefix.clone();
                p.push(k.clone());
                at.push(p.clone());
                paths(v, at, p);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(i.to_string());
                at.push(p.clone());
                paths(v, at, p);
            }
        }
        _ => {}
    }
}

fn pointer(path: &[String]) -> String {
    path.iter().map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1"))).collect()
}

/// A few structural edits: replace a node, remove a key or an item, empty an array, repeat an item.
fn mutate_tree(seed: &Value, rng: &mut Rng) -> Value {
    let mut doc = seed.clone();
    for _ in 0..1 + rng.below(3) {
        let mut all = Vec::new();
        paths(&doc, &mut all, vec![]);
        if all.is_empty() {
            break;
        }
        let path = all[rng.below(all.len())].clone();
        let (parent, last) = path.split_at(path.len() - 1);
        let Some(parent) = doc.pointer_mut(&pointer(parent)) else { continue };
        match (rng.below(4), parent) {
            (0, Value::Object(map)) => drop(map.remove(&last[0])),
            (0, Value::Array(items)) => {
                let i: usize = last[0].parse().unwrap();
                items.remove(i);
            }
            (1, Value::Array(items)) => {
                let i: usize = last[0].parse().unwrap();
                let item = items[i].clone();
                items.push(item);
            }
            (2, Value::Array(items)) => items.clear(),
            (_, parent) => {
                if let Some(node) = parent.pointer_mut(&pointer(last)) {
                    *node = replacement(rng);
                }
            }
        }
    }
    doc
}

/// A small schema 1 file: the first GPU run's trials of two models (every scenario, CPU and CUDA).
fn schema_1_seed() -> Value {
    let path = common::fixture_run("20261127T114236Z-h200").join("results.json");
    let mut run: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let keep = |t: &Value| {
        ["minilm-l6", "vit-s-focus"].contains(&t["models"][0].as_str().unwrap_or("")) && t["models"].as_array().unwrap().len() == 1
    };
    let trials: Vec<Value> = run["trials"].as_array().unwrap().iter().filter(|t| keep(t)).cloned().collect();
    run["trials"] = Value::Array(trials);
    run
}

/// A schema 2 file made here: every scenario on two fixture models.
fn schema_2_seed() -> Value {
    let fx = Fixture::new().text("text-a", 500, 16, "real").vision("vision-b", 8).write();
    fx.bench(&["--scenario", "single,cold,leak,isolation,concurrent,rotation", "--workers", "2", "--repeats", "2", "--cycles", "2"])
        .assert()
        .success();
    fx.results()
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/results");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_results_file_that_ever_broke_the_reader_gives_a_report_or_a_named_error() {
    let files = corpus();
    assert!(!files.is_empty());
    for path in files {
        match std::panic::catch_unwind(|| report_on(&path)) {
            Err(_) => panic!("{} panics", path.display()),
            Ok(Err(e)) => assert!(e.contains(&path.display().to_string()), "{}: {e}", path.display()),
            Ok(Ok(())) => {}
        }
    }
}

#[test]
fn the_results_reader_survives_seeded_mutations() {
    let seeds = [schema_1_seed(), schema_2_seed()];
    let texts: Vec<Vec<u8>> = seeds.iter().map(|s| serde_json::to_vec_pretty(s).unwrap()).collect();
    const TOKENS: &[&str] = &["{", "}", "[", "]", ",", ":", "\"", "null", "-1", "1e999", "18446744073709551616", "\u{0}", "\\u0000", "NaN"];
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let file = dir.path().join("results.json");
    let mut rng = Rng(0x7265_7375);
    let (mut read, mut refused) = (0, 0);
    for case in 0..1500 {
        let which = rng.below(seeds.len());
        // Three in four structural (they get past the JSON parser), one in four byte-level.
        let bytes = if rng.below(4) > 0 {
            serde_json::to_vec(&mutate_tree(&seeds[which], &mut rng)).unwrap()
        } else {
            common::mutate_bytes(&texts[which], TOKENS, &mut rng)
        };
        std::fs::write(&file, &bytes).unwrap();
        match std::panic::catch_unwind(|| report_on(&file)) {
            Err(_) => {
                let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("results-fuzz-case-{case}.json"));
                std::fs::write(&kept, &bytes).unwrap();
                panic!("case {case} panicked; the input is in {}: add it to tests/corpus/results/ once fixed", kept.display());
            }
            Ok(Err(e)) => {
                assert!(e.contains(&file.display().to_string()), "case {case}: the error does not name the file: {e}");
                refused += 1;
            }
            Ok(Ok(())) => read += 1,
        }
    }
    // Both paths were exercised: mutations the reader accepts and renders, and ones it refuses.
    assert!(read > 100 && refused > 100, "read {read}, refused {refused}");
}
