//! Fixtures for the integration tests: small ONNX models built with mora's own writer, a word-level
//! tokenizer.json, a models.yaml in a temporary folder, and helpers to run `mora` and read results.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use mora::onnx_writer::{Attr, Dim, ElemType, ModelBuilder, named};

/// A text-embedding-shaped model: Gather(embedding, input_ids) masked by attention_mask, plus a
/// token-type embedding, then a MatMul. `vocab x hidden` floats of weights set its size.
pub fn text_model(vocab: i64, hidden: i64) -> Vec<u8> {
    let emb: Vec<f32> = (0..vocab * hidden).map(|i| ((i % 97) as f32 - 48.0) / 97.0).collect();
    let types: Vec<f32> = (0..2 * hidden).map(|i| (i % 5) as f32 / 10.0).collect();
    let w: Vec<f32> = (0..hidden * hidden).map(|i| ((i % 13) as f32 - 6.0) / 13.0).collect();
    let bs = [named("batch"), named("sequence")];
    let mut b = ModelBuilder::new(17);
    b.input("input_ids", ElemType::Int64, &bs)
        .input("attention_mask", ElemType::Int64, &bs)
        .input("token_type_ids", ElemType::Int64, &bs)
        .output("last_hidden_state", ElemType::Float, &[named("batch"), named("sequence"), Dim::Fixed(hidden)])
        .initializer_f32("embedding", &[vocab, hidden], &emb)
        .initializer_f32("type_embedding", &[2, hidden], &types)
        .initializer_f32("w", &[hidden, hidden], &w)
        .node("Gather", &["embedding", "input_ids"], &["tokens"], &[])
        .node("Gather", &["type_embedding", "token_type_ids"], &["segments"], &[])
        .node("Add", &["tokens", "segments"], &["summed"], &[]);
    masked_by_attention(&mut b, "summed", "masked").node("MatMul", &["masked", "w"], &["last_hidden_state"], &[]);
    b.build()
}

/// `out` = `x` [batch, sequence, hidden] times attention_mask: padding positions zeroed, as the
/// text-shaped fixtures do before their last MatMul.
fn masked_by_attention<'b>(b: &'b mut ModelBuilder, x: &str, out: &str) -> &'b mut ModelBuilder {
    b.initializer_i64("last_axis", &[1], &[-1])
        .node("Cast", &["attention_mask"], &["mask_f"], &[Attr::Int("to", 1)])
        .node("Unsqueeze", &["mask_f", "last_axis"], &["mask3"], &[])
        .node("Mul", &[x, "mask3"], &[out], &[])
}

/// A language-model-shaped graph: token embedding, then logits over the vocabulary, [batch, sequence,
/// vocab], as large as a real model's logits.
pub fn lm_model(vocab: i64, hidden: i64) -> Vec<u8> {
    let emb: Vec<f32> = (0..vocab * hidden).map(|i| ((i % 89) as f32 - 44.0) / 89.0).collect();
    let head: Vec<f32> = (0..hidden * vocab).map(|i| ((i % 31) as f32 - 15.0) / 31.0).collect();
    let bs = [named("batch"), named("sequence")];
    let mut b = ModelBuilder::new(17);
    b.input("input_ids", ElemType::Int64, &bs)
        .input("attention_mask", ElemType::Int64, &bs)
        .output("logits", ElemType::Float, &[named("batch"), named("sequence"), Dim::Fixed(vocab)])
        .initializer_f32("embedding", &[vocab, hidden], &emb)
        .initializer_f32("lm_head", &[hidden, vocab], &head)
        .node("Gather", &["embedding", "input_ids"], &["tokens"], &[]);
    masked_by_attention(&mut b, "tokens", "masked").node("MatMul", &["masked", "lm_head"], &["logits"], &[]);
    b.build()
}

/// A vision-shaped model: pixel_values [batch, 3, H, W] -> global average pool -> MatMul [3, width].
pub fn vision_model(width: i64) -> Vec<u8> {
    let w: Vec<f32> = (0..3 * width).map(|i| (i % 7) as f32 / 7.0).collect();
    let mut b = ModelBuilder::new(17);
    b.input("pixel_values", ElemType::Float, &[named("batch"), Dim::Fixed(3), named("height"), named("width")])
        .output("features", ElemType::Float, &[named("batch"), Dim::Fixed(width)])
        .initializer_f32("w", &[3, width], &w)
        .node("GlobalAveragePool", &["pixel_values"], &["pooled"], &[])
        .node("Flatten", &["pooled"], &["flat"], &[Attr::Int("axis", 1)])
        .node("MatMul", &["flat", "w"], &["features"], &[]);
    b.build()
}

/// A word-level tokenizer.json over the words of mora's passage (lower-cased), ids below `vocab`.
pub fn tokenizer_json() -> String {
    let mut words: Vec<String> =
        mora::inputs::PASSAGE.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect();
    words.sort();
    words.dedup();
    let mut vocab = vec![("[UNK]".to_string(), 0usize), ("[CLS]".into(), 1), ("[SEP]".into(), 2)];
    vocab.extend(words.into_iter().enumerate().map(|(i, w)| (w, i + 3)));
    let vocab_json: Vec<String> = vocab.iter().map(|(w, i)| format!("\"{w}\": {i}")).collect();
    format!(
        r#"{{"version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [{{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}}],
  "normalizer": {{"type": "Lowercase"}},
  "pre_tokenizer": {{"type": "Whitespace"}},
  "post_processor": {{"type": "TemplateProcessing", "single": [{{"SpecialToken": {{"id": "[CLS]", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"SpecialToken": {{"id": "[SEP]", "type_id": 0}}}}],
     "pair": [{{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"Sequence": {{"id": "B", "type_id": 1}}}}],
     "special_tokens": {{"[CLS]": {{"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]}}, "[SEP]": {{"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}}}}},
  "decoder": null,
  "model": {{"type": "WordLevel", "vocab": {{{}}}, "unk_token": "[UNK]"}}}}"#,
        vocab_json.join(", ")
    )
}

/// A temporary folder with a models.yaml and the models written into it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    entries: Vec<String>,
    pub defaults: String,
}

impl Fixture {
    pub fn new() -> Fixture {
        // Under target/ rather than /tmp: the cold scenario needs a filesystem that honours fadvise.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        Fixture {
            dir: tempfile::tempdir_in(base).unwrap(),
            entries: vec![],
            defaults: "{runs: 5, warmup_runs: 2, trial_timeout_s: 120}".into(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("models.yaml")
    }

    /// Writes a model (and a tokenizer) into models/<id>/ and its models.yaml entry.
    fn add(mut self, id: &str, model: Vec<u8>, with_tokenizer: bool, entry: String) -> Fixture {
        let folder = self.dir.path().join("models").join(id);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("model.onnx"), model).unwrap();
        if with_tokenizer {
            std::fs::write(folder.join("tokenizer.json"), tokenizer_json()).unwrap();
        }
        self.entries.push(entry);
        self
    }

    /// Adds a text-embedding model with its tokenizer.
    pub fn text(self, id: &str, vocab: i64, hidden: i64, weights: &str) -> Fixture {
        let entry = format!(
            "  - id: {id}\n    type: embedding\n    weights: {weights}\n    sequence_length: 32\n    source: {{kind: onnx-file, package: fixture==1, file: model.onnx}}\n    tokenizer: {{kind: tokenizer-json, package: fixture==1, file: tokenizer.json}}\n"
        );
        self.add(id, text_model(vocab, hidden), true, entry)
    }

    /// Adds a text-generation model (logits output) with its tokenizer.
    pub fn lm(self, id: &str, vocab: i64, hidden: i64) -> Fixture {
        let entry = format!(
            "  - id: {id}\n    type: text-generation\n    weights: random\n    sequence_length: 128\n    source: {{kind: onnx-file, package: fixture==1, file: model.onnx}}\n    tokenizer: {{kind: tokenizer-json, package: fixture==1, file: tokenizer.json}}\n"
        );
        self.add(id, lm_model(vocab, hidden), true, entry)
    }

    /// Adds a vision model.
    pub fn vision(self, id: &str, width: i64) -> Fixture {
        let entry = format!(
            "  - id: {id}\n    type: vision\n    weights: real\n    image_size: 64\n    source: {{kind: onnx-file, package: fixture==1, file: model.onnx}}\n"
        );
        self.add(id, vision_model(width), false, entry)
    }

    /// Adds a raw models.yaml entry (for models that are missing or fetched from a hub).
    pub fn entry(mut self, yaml: &str) -> Fixture {
        self.entries.push(yaml.to_string());
        self
    }

    pub fn with_defaults(mut self, defaults: &str) -> Fixture {
        self.defaults = defaults.to_string();
        self
    }

    pub fn write(self) -> Fixture {
        let text = format!("schema: 1\ndefaults: {}\nmodels:\n{}", self.defaults, self.entries.join(""));
        std::fs::write(self.config(), text).unwrap();
        self
    }

    /// `mora bench --config <fixture> --out <fixture>/results` plus `args`.
    /// `mora bench` on the fixture, on CPU unless `args` name providers: the fixtures' figures are
    /// CPU's, and `auto` would add every provider this machine has (tests/providers.rs runs those).
    pub fn bench(&self, args: &[&str]) -> Command {
        let mut cmd = mora();
        cmd.arg("bench").arg("--config").arg(self.config()).arg("--out").arg(self.path().join("results")).args(args);
        if !args.iter().any(|a| *a == "--provider" || a.starts_with("--provider=")) {
            cmd.args(["--provider", "cpu"]);
        }
        cmd
    }

    /// The results.json of the only run folder.
    pub fn results(&self) -> serde_json::Value {
        let path = self.run_folder().join("results.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    }

    pub fn run_folder(&self) -> PathBuf {
        let runs = run_folders(&self.path().join("results"));
        assert_eq!(runs.len(), 1, "one run folder expected: {runs:?}");
        runs[0].clone()
    }
}

pub fn mora() -> Command {
    let mut cmd = Command::cargo_bin("mora").unwrap();
    cmd.env_remove("MORA_FAULT").env_remove("ORT_DYLIB_PATH");
    cmd
}

/// The trial with this id in a results.json.
pub fn trial<'a>(results: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    results["trials"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("no trial {id} in {results:#}"))
}

/// SplitMix64: a seeded generator, so every run of the test sees the same cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

/// A few byte-level edits of `seed`: splice in one of `tokens` (sometimes many times over), cut a
/// span, repeat a span, truncate, or change one byte. What the seeded fuzz tests feed the readers.
pub fn mutate_bytes(seed: &[u8], tokens: &[&str], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        let len = 1 + rng.below(24);
        let end = (at + len).min(bytes.len());
        match rng.below(6) {
            0 | 1 => {
                let token = tokens[rng.below(tokens.len())].as_bytes();
                let times = if rng.below(8) == 0 { 1 + rng.below(200) } else { 1 };
                bytes.splice(at..at, token.repeat(times));
            }
            2 => drop(bytes.drain(at..end)),
            3 => {
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            4 => bytes.truncate(at),
            _ => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = b' ' + rng.below(95) as u8;
                }
            }
        }
    }
    bytes
}

/// The run folders under `out`, sorted: `latest` (a link to the newest) left out.
pub fn run_folders(out: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.symlink_metadata().unwrap().file_type().is_symlink())
        .collect();
    runs.sort();
    runs
}

/// tests/fixtures/runs/: copies of published runs that the tests read, so that results/ (what README
/// shows) can be refreshed without breaking a test, and a fixture changed without changing README.
pub fn fixture_runs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs")
}

/// One fixture run's folder, by the published run's name.
pub fn fixture_run(name: &str) -> PathBuf {
    let dir = fixture_runs().join(name);
    assert!(
        dir.join("results.json").is_file(),
        "{}: no results.json: copy the files the test reads from results/{name}/ (tests/fixtures/runs/README.md)",
        dir.display()
    );
    dir
}

/// Where the "every run" tests look: tests/fixtures/runs/, then results/ when that folder is there
/// (the published runs must still read, render and validate, but the tests pass without them).
pub fn run_roots() -> Vec<PathBuf> {
    let published = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    [fixture_runs(), published].into_iter().filter(|root| root.is_dir()).collect()
}

/// The run folders with a results.json under the run roots, fixtures first, less any whose results.json is
/// byte for byte one already listed (a published run and its fixture), which would only be read twice.
pub fn fixture_and_published_runs() -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut runs = Vec::new();
    for root in run_roots() {
        for run in run_folders(&root) {
            let Ok(bytes) = std::fs::read(run.join("results.json")) else { continue };
            if seen.insert(bytes) {
                runs.push(run);
            }
        }
    }
    runs
}
