//! Real, deterministic inputs for a model's graph inputs: token ids from the model's tokenizer.json at
//! the configured sequence length, image-shaped tensors from a fixed seed. Built once, before any
//! timing, from the names, types and shapes the session declares. A model's [`ModelType`] (from
//! models.yaml, or guessed from its graph) decides which it gets.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits;

/// The passage every text model reads: plain English, repeated until it fills the sequence length.
pub const PASSAGE: &str = "ModelMora keeps many models ready to answer requests. When a request arrives for a model \
that is not loaded, the server must decide whether to load it on demand or to have warmed it up in advance, \
how much memory to reserve for each worker, and whether unloading a model inside a long-running process gives \
its memory back or whether only ending the process does. These measurements answer those questions with \
figures taken on the machine that will serve the models.";

/// What the model does, which decides the inputs mora builds for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
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

/// How to size a model's inputs; from models.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSettings {
    pub batch_size: usize,
    pub sequence_length: usize,
    pub image_size: usize,
    /// Fixed shapes by input name, for dimensions mora cannot infer.
    #[serde(default)]
    pub shapes: BTreeMap<String, Vec<i64>>,
    pub tokenizer: Option<PathBuf>,
    /// Seeds the float inputs, so every run of the same model gets the same tensors.
    pub seed: u64,
    /// Without a tokenizer, feed seeded random token ids (below the vocabulary where the graph
    /// shows it, else below 1000) instead of refusing: for a bare model file, said in the results.
    #[serde(default)]
    pub random_tokens: bool,
}

/// What was fed to one input, recorded with the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputDescription {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
    pub fill: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
}

/// Input data for one model, ready to be turned into ONNX Runtime values for each session.
#[derive(Debug, Clone)]
pub(crate) struct ModelInputs {
    tensors: Vec<(String, Vec<i64>, Data)>,
    pub described: Vec<InputDescription>,
}

/// The name, element type and declared shape (-1 where dynamic) of one graph input.
#[derive(Debug, Clone)]
pub(crate) struct GraphInput {
    pub name: String,
    pub elem: TensorElementType,
    pub shape: Vec<i64>,
    /// The embedding table this input indexes and its rows, where the model file shows it
    /// (`onnx_graph`): token ids must stay below it.
    pub vocabulary: Option<(String, u64)>,
}

impl GraphInput {
    pub(crate) fn from_outlets(outlets: &[ort::value::Outlet]) -> Result<Vec<GraphInput>> {
        outlets
            .iter()
            .map(|o| match o.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    Ok(GraphInput { name: o.name().to_string(), elem: *ty, shape: shape.to_vec(), vocabulary: None })
                }
                other => bail!("input `{}` is a {other:?}, not a tensor: mora feeds tensor inputs only", o.name()),
            })
            .collect()
    }
}

impl ModelInputs {
    pub(crate) fn build(graph: &[GraphInput], settings: &InputSettings) -> Result<ModelInputs> {
        if let Some(unknown) = settings.shapes.keys().find(|name| !graph.iter().any(|g| &g.name == *name)) {
            let names: Vec<&str> = graph.iter().map(|g| g.name.as_str()).collect();
            bail!(
                "models.yaml `inputs:` gives a shape for `{unknown}`, which the graph does not have: its inputs are {}; fix the name or remove it",
                names.join(", ")
            );
        }
        let mut tokens: Option<Vec<i64>> = None;
        let mut tensors = Vec::new();
        let mut described = Vec::new();
        for input in graph {
            let shape = resolve_shape(input, settings)?;
            let count = limits::element_count(&shape).filter(|n| *n <= limits::INPUT_ELEMENTS).ok_or_else(|| {
                anyhow!(
                    "input `{}` would be {shape:?}, more than 2^30 elements (4 GiB of float32): lower batch_size, sequence_length or image_size, or give its shape in `inputs:`",
                    input.name
                )
            })? as usize;
            // An integer input that indexes an embedding table is token ids, whatever its name.
            let role = match Role::of(&input.name, input.elem) {
                Role::OtherInt if input.vocabulary.is_some() => Role::TokenIds,
                role => role,
            };
            let (values, fill): (Vec<f64>, String) = match role {
                Role::TokenIds if settings.tokenizer.is_none() && settings.random_tokens => {
                    let below = input.vocabulary.as_ref().map_or(1000, |(_, rows)| (*rows).clamp(1, 1000));
                    (
                        seeded_normal(settings.seed ^ hash(&input.name), count)
                            .iter()
                            .map(|v| (v.abs() * 1e6) as u64 % below)
                            .map(|v| v as f64)
                            .collect(),
                        format!("seeded random token ids below {below} (no tokenizer)"),
                    )
                }
                Role::TokenIds => {
                    let tokenizer = settings.tokenizer.as_deref().ok_or_else(|| {
                        anyhow!(
                            "input `{}` takes token ids but the model has no tokenizer: add a `tokenizer:` block to its models.yaml entry",
                            input.name
                        )
                    })?;
                    let seq = *shape.last().unwrap_or(&1) as usize;
                    if tokens.as_ref().is_none_or(|t| t.len() != seq) {
                        tokens = Some(tokenize(tokenizer, seq)?);
                    }
                    let row = tokens.as_ref().expect("tokenized above");
                    if let Some((table, rows)) = &input.vocabulary {
                        let highest = row.iter().copied().max().unwrap_or(0);
                        if u64::try_from(highest).is_ok_and(|id| id >= *rows) {
                            bail!(
                                "the tokenizer {} gives token id {highest}, but `{}` indexes `{table}`, which has {rows} rows: the tokenizer is not this model's; give the model's own in models.yaml `tokenizer:`",
                                tokenizer.display(),
                                input.name
                            );
                        }
                    }
                    (
                        row.iter().cycle().take(count).map(|&t| t as f64).collect(),
                        format!("{seq} tokens of a fixed passage ({})", file_name(tokenizer)),
                    )
                }
                Role::AttentionMask => (vec![1.0; count], "ones (no padding)".into()),
                Role::TokenTypeIds => (vec![0.0; count], "zeros (one segment)".into()),
                Role::PositionIds => {
                    let seq = *shape.last().unwrap_or(&1) as usize;
                    ((0..count).map(|i| (i % seq) as f64).collect(), "0..sequence_length".into())
                }
                Role::Timestep => (vec![500.0; count], "500 (a mid-schedule diffusion step)".into()),
                Role::Float => (seeded_normal(settings.seed ^ hash(&input.name), count), format!("seeded N(0, 1), seed {}", settings.seed)),
                Role::OtherInt => (vec![0.0; count], "zeros".into()),
            };
            let data = match input.elem {
                TensorElementType::Float32 => Data::F32(values.iter().map(|&v| v as f32).collect()),
                TensorElementType::Int64 => Data::I64(values.iter().map(|&v| v as i64).collect()),
                TensorElementType::Int32 => Data::I32(values.iter().map(|&v| v as i32).collect()),
                other => bail!("input `{}` has element type {other:?}; mora fills float32, int64 and int32 inputs", input.name),
            };
            described.push(InputDescription {
                name: input.name.clone(),
                dtype: format!("{:?}", input.elem).to_lowercase(),
                shape: shape.clone(),
                fill,
            });
            tensors.push((input.name.clone(), shape, data));
        }
        Ok(ModelInputs { tensors, described })
    }

    /// ONNX Runtime values for one session; created once and reused by every run.
    pub(crate) fn values(&self) -> Result<Vec<(String, DynValue)>> {
        self.tensors
            .iter()
            .map(|(name, shape, data)| {
                let value = match data {
                    Data::F32(v) => Tensor::from_array((shape.clone(), v.clone())).map(|t| t.into_dyn()),
                    Data::I64(v) => Tensor::from_array((shape.clone(), v.clone())).map(|t| t.into_dyn()),
                    Data::I32(v) => Tensor::from_array((shape.clone(), v.clone())).map(|t| t.into_dyn()),
                };
                value.map(|v| (name.clone(), v)).with_context(|| format!("cannot create input `{name}`"))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    TokenIds,
    AttentionMask,
    TokenTypeIds,
    PositionIds,
    Timestep,
    Float,
    OtherInt,
}

impl Role {
    fn of(name: &str, elem: TensorElementType) -> Role {
        let n = name.to_ascii_lowercase();
        let is_int = matches!(elem, TensorElementType::Int64 | TensorElementType::Int32);
        if n.contains("timestep") || n == "t" {
            Role::Timestep
        } else if !is_int {
            Role::Float
        } else if n.contains("attention_mask") || n.ends_with("mask") {
            Role::AttentionMask
        } else if n.contains("token_type") {
            Role::TokenTypeIds
        } else if n.contains("position") {
            Role::PositionIds
        } else if n.contains("input_ids") || n == "ids" || n.ends_with("_ids") || n == "input" {
            Role::TokenIds
        } else {
            Role::OtherInt
        }
    }
}

/// Fills the graph's dynamic dimensions (-1) from the settings; an explicit shape wins.
fn resolve_shape(input: &GraphInput, s: &InputSettings) -> Result<Vec<i64>> {
    if let Some(shape) = s.shapes.get(&input.name) {
        let compatible = shape.len() == input.shape.len() && shape.iter().zip(&input.shape).all(|(want, has)| *has < 0 || want == has);
        if !compatible {
            bail!("the shape {:?} given for input `{}` does not fit the graph's {:?} (-1 = any)", shape, input.name, input.shape);
        }
        return Ok(shape.clone());
    }
    let rank = input.shape.len();
    let is_int = matches!(input.elem, TensorElementType::Int64 | TensorElementType::Int32);
    let mut shape = input.shape.clone();
    for (i, dim) in shape.iter_mut().enumerate() {
        if *dim >= 0 {
            continue;
        }
        *dim = match (rank, i, is_int) {
            (_, 0, _) => s.batch_size as i64,
            (2, 1, true) => s.sequence_length as i64,
            (4, 1, false) => 3,
            (4, 2 | 3, false) => s.image_size as i64,
            _ => bail!(
                "input `{}` has dimension {i} of {:?} unknown, and mora cannot tell its size: give it in models.yaml, e.g. `inputs: {{{}: [...]}}`",
                input.name,
                input.shape,
                input.name
            ),
        };
    }
    Ok(shape)
}

/// Token ids for exactly `seq` tokens of the passage, special tokens included.
fn tokenize(path: &Path, seq: usize) -> Result<Vec<i64>> {
    let bytes = crate::limits::read_file(path, crate::limits::TOKENIZER_FILE).context("cannot load the tokenizer")?;
    let mut tokenizer = tokenizers::Tokenizer::from_bytes(bytes)
        .map_err(anyhow::Error::from_boxed)
        .with_context(|| format!("cannot load tokenizer {}", path.display()))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(tokenizers::TruncationParams { max_length: seq, ..Default::default() }))
        .map_err(anyhow::Error::from_boxed)
        .with_context(|| format!("tokenizer {}", path.display()))?;
    let mut text = PASSAGE.to_string();
    loop {
        let encoding = tokenizer
            .encode(text.as_str(), true)
            .map_err(anyhow::Error::from_boxed)
            .with_context(|| format!("tokenizer {}", path.display()))?;
        let ids = encoding.get_ids();
        // Truncation keeps the special tokens; a passage too short for `seq` is repeated until it fills it.
        if ids.len() >= seq || text.len() > seq * 64 {
            if ids.is_empty() {
                bail!("tokenizer {} produced no tokens for the passage", path.display());
            }
            let mut out: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
            while out.len() < seq {
                out.push(out[out.len() % ids.len()]);
            }
            return Ok(out);
        }
        // Doubling keeps the work linear in `seq`: appending one passage at a time re-encoded a
        // growing text, quadratic in the length.
        text = format!("{text} {text}");
    }
}

/// Where a model's `type:` contradicts its graph, what is wrong and the fix (the caller names the
/// model): a text type on a graph that takes an image and no token ids, or an image type on a graph
/// that takes token ids and no image without a tokenizer to make them. An image type with token ids
/// and a tokenizer is fine: CLIP's and Stable Diffusion's text towers are listed with their family.
pub(crate) fn type_contradiction(declared: ModelType, has_tokenizer: bool, graph: &[GraphInput]) -> Option<String> {
    let image = graph.iter().find(|g| is_image(g));
    let token = graph.iter().find(|g| Role::of(&g.name, g.elem) == Role::TokenIds);
    match (declared, image, token) {
        (ModelType::Embedding | ModelType::TextGeneration, Some(image), None) => Some(format!(
            "declared `type: {declared}`, but its graph takes an image (`{}` {:?}) and no token ids: set `type: vision`{}",
            image.name,
            image.shape,
            if has_tokenizer { " and remove `tokenizer:` (nothing reads it)" } else { "" }
        )),
        (ModelType::Vision | ModelType::ImageGeneration, None, Some(token)) if !has_tokenizer => Some(format!(
            "declared `type: {declared}`, but its graph takes token ids (`{}`) and no image, and the entry has no `tokenizer:`: add the model's tokenizer, or set `type: embedding` if it is a text model",
            token.name
        )),
        _ => None,
    }
}

/// A float [batch, 3, height, width] input (channels open counts: mora fills them with 3).
fn is_image(g: &GraphInput) -> bool {
    let float = matches!(
        g.elem,
        TensorElementType::Float32 | TensorElementType::Float16 | TensorElementType::Float64 | TensorElementType::Bfloat16
    );
    float && g.shape.len() == 4 && matches!(g.shape[1], 3 | -1)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Standard normal samples from a fixed seed (SplitMix64 + Box-Muller): the same tensors every run.
fn seeded_normal(seed: u64, count: usize) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            let (u1, u2) = (next(), next());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

fn hash(s: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike std's RandomState.
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> InputSettings {
        InputSettings {
            batch_size: 2,
            sequence_length: 16,
            image_size: 32,
            shapes: BTreeMap::new(),
            tokenizer: None,
            seed: 7,
            random_tokens: false,
        }
    }

    fn input(name: &str, elem: TensorElementType, shape: &[i64]) -> GraphInput {
        GraphInput { name: name.into(), elem, shape: shape.to_vec(), vocabulary: None }
    }

    fn tokenizer_file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        // A word-level vocabulary of the passage's words: ids 0..=80 or so.
        let mut words: Vec<String> =
            PASSAGE.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        words.sort();
        words.dedup();
        let vocab: Vec<String> =
            std::iter::once("[UNK]".to_string()).chain(words).enumerate().map(|(i, w)| format!("\"{w}\": {i}")).collect();
        let json = format!(
            r#"{{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": {{"type": "Lowercase"}},
              "pre_tokenizer": {{"type": "Whitespace"}}, "post_processor": null, "decoder": null,
              "model": {{"type": "WordLevel", "vocab": {{{}}}, "unk_token": "[UNK]"}}}}"#,
            vocab.join(", ")
        );
        std::fs::write(&path, json).unwrap();
        (dir, path)
    }

    #[test]
    fn a_shape_for_an_input_the_graph_lacks_is_an_error() {
        let mut s = settings();
        s.shapes.insert("pixel_value".into(), vec![1, 3, 32, 32]);
        let graph =
            [input("pixel_values", TensorElementType::Float32, &[-1, 3, -1, -1]), input("mask", TensorElementType::Int64, &[-1, -1])];
        let e = ModelInputs::build(&graph, &s).unwrap_err().to_string();
        assert_eq!(
            e,
            "models.yaml `inputs:` gives a shape for `pixel_value`, which the graph does not have: its inputs are pixel_values, mask; fix the name or remove it"
        );
    }

    #[test]
    fn an_input_too_large_to_build_is_an_error_not_an_overflow() {
        let mut s = settings();
        s.batch_size = 4096;
        s.image_size = 8192;
        let graph = [input("pixel_values", TensorElementType::Float32, &[-1, 3, -1, -1])];
        let e = ModelInputs::build(&graph, &s).unwrap_err().to_string();
        assert!(e.starts_with("input `pixel_values` would be [4096, 3, 8192, 8192], more than 2^30 elements"), "{e}");
        // Fixed dimensions of a hostile graph whose product overflows a u64.
        let graph = [input("x", TensorElementType::Float32, &[i64::MAX, i64::MAX, 4])];
        assert!(ModelInputs::build(&graph, &s).unwrap_err().to_string().contains("more than 2^30 elements"));
    }

    #[test]
    fn token_ids_beyond_the_embedding_table_are_an_error() {
        let (_dir, path) = tokenizer_file();
        let mut s = settings();
        s.tokenizer = Some(path);
        let mut ids = input("input_ids", TensorElementType::Int64, &[-1, -1]);
        ids.vocabulary = Some(("embedding".into(), 1000));
        assert!(ModelInputs::build(&[ids.clone()], &s).is_ok());
        ids.vocabulary = Some(("embedding".into(), 10));
        let e = ModelInputs::build(&[ids], &s).unwrap_err().to_string();
        assert!(e.contains("but `input_ids` indexes `embedding`, which has 10 rows: the tokenizer is not this model's"), "{e}");
    }

    #[test]
    fn long_sequences_tokenize_in_linear_time() {
        let (_dir, path) = tokenizer_file();
        // Beyond the limit models.yaml allows, to show the growth: re-encoding one more passage at a
        // time took 29 s here in a debug build; doubling the text takes under a second.
        let start = std::time::Instant::now();
        assert_eq!(tokenize(&path, 30_000).unwrap().len(), 30_000);
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{:?}", start.elapsed());
    }

    #[test]
    fn a_type_that_contradicts_the_graph_is_named_with_its_fix() {
        use ModelType::*;
        use TensorElementType::*;
        let image = [input("pixel_values", Float32, &[-1, 3, 224, 224])];
        let text = [input("input_ids", Int64, &[-1, -1]), input("attention_mask", Int64, &[-1, -1])];
        let latent = [input("latent_sample", Float32, &[1, 4, 64, 64])];
        let e = type_contradiction(Embedding, true, &image).unwrap();
        assert_eq!(
            e,
            "declared `type: embedding`, but its graph takes an image (`pixel_values` [-1, 3, 224, 224]) and no token ids: set `type: vision` and remove `tokenizer:` (nothing reads it)"
        );
        assert!(type_contradiction(TextGeneration, false, &image).unwrap().ends_with("set `type: vision`"));
        let e = type_contradiction(Vision, false, &text).unwrap();
        assert!(e.starts_with("declared `type: vision`, but its graph takes token ids (`input_ids`) and no image"), "{e}");
        // What fits, and the families the default suite lists on purpose (CLIP's text tower as vision).
        for (declared, tokenizer, graph) in [
            (Embedding, true, &text[..]),
            (TextGeneration, true, &text[..]),
            (Vision, false, &image[..]),
            (Vision, true, &text[..]),
            (ImageGeneration, true, &text[..]),
            (ImageGeneration, false, &latent[..]),
            (Embedding, true, &[][..]),
        ] {
            assert_eq!(type_contradiction(declared, tokenizer, graph), None, "{declared} {tokenizer} {graph:?}");
        }
    }

    #[test]
    fn roles_follow_names_and_types() {
        use TensorElementType::*;
        assert_eq!(Role::of("input_ids", Int64), Role::TokenIds);
        assert_eq!(Role::of("attention_mask", Int64), Role::AttentionMask);
        assert_eq!(Role::of("token_type_ids", Int64), Role::TokenTypeIds);
        assert_eq!(Role::of("position_ids", Int64), Role::PositionIds);
        assert_eq!(Role::of("pixel_values", Float32), Role::Float);
        assert_eq!(Role::of("timestep", Int64), Role::Timestep);
        assert_eq!(Role::of("timestep", Float32), Role::Timestep);
        assert_eq!(Role::of("flags", Int64), Role::OtherInt);
    }

    #[test]
    fn dynamic_dims_are_filled_from_settings() {
        use TensorElementType::*;
        let s = settings();
        assert_eq!(resolve_shape(&input("input_ids", Int64, &[-1, -1]), &s).unwrap(), [2, 16]);
        assert_eq!(resolve_shape(&input("pixel_values", Float32, &[-1, 3, -1, -1]), &s).unwrap(), [2, 3, 32, 32]);
        assert_eq!(resolve_shape(&input("input_image", Float32, &[-1, 3, 224, 224]), &s).unwrap(), [2, 3, 224, 224]);
        assert_eq!(resolve_shape(&input("timestep", Int64, &[-1]), &s).unwrap(), [2]);
        let e = resolve_shape(&input("encoder_hidden_states", Float32, &[-1, -1, 768]), &s).unwrap_err().to_string();
        assert!(e.contains("encoder_hidden_states") && e.contains("inputs:"), "{e}");
    }

    #[test]
    fn explicit_shapes_win_and_are_checked() {
        use TensorElementType::*;
        let mut s = settings();
        s.shapes.insert("sample".into(), vec![1, 4, 64, 64]);
        assert_eq!(resolve_shape(&input("sample", Float32, &[-1, 4, -1, -1]), &s).unwrap(), [1, 4, 64, 64]);
        s.shapes.insert("sample".into(), vec![1, 8, 64, 64]);
        assert!(resolve_shape(&input("sample", Float32, &[-1, 4, -1, -1]), &s).is_err());
    }

    #[test]
    fn token_ids_need_a_tokenizer() {
        let graph = [input("input_ids", TensorElementType::Int64, &[-1, -1])];
        let e = ModelInputs::build(&graph, &settings()).unwrap_err().to_string();
        assert!(e.contains("no tokenizer"), "{e}");
    }

    #[test]
    fn a_bare_model_gets_seeded_token_ids_below_its_vocabulary_when_asked() {
        let mut graph = [input("input_ids", TensorElementType::Int64, &[-1, -1])];
        graph[0].vocabulary = Some(("embedding".into(), 50));
        let random = InputSettings { random_tokens: true, ..settings() };
        let a = ModelInputs::build(&graph, &random).unwrap();
        assert_eq!(a.described[0].fill, "seeded random token ids below 50 (no tokenizer)");
        let Data::I64(ids) = &a.tensors[0].2 else { panic!("int64 ids") };
        assert!(ids.iter().all(|&i| (0..50).contains(&i)) && ids.iter().any(|&i| i != ids[0]), "{ids:?}");
        assert_eq!(ModelInputs::build(&graph, &random).unwrap().tensors, a.tensors, "the same ids every time");
    }

    #[test]
    fn float_inputs_are_deterministic_and_normal() {
        let graph = [input("pixel_values", TensorElementType::Float32, &[-1, 3, -1, -1])];
        let a = ModelInputs::build(&graph, &settings()).unwrap();
        let b = ModelInputs::build(&graph, &settings()).unwrap();
        assert_eq!(a.tensors, b.tensors);
        let Data::F32(v) = &a.tensors[0].2 else { panic!() };
        assert_eq!(v.len(), 2 * 3 * 32 * 32);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.1, "mean {mean} var {var}");
        assert_eq!(a.described[0].shape, [2, 3, 32, 32]);
    }

    #[test]
    fn unsupported_element_types_are_named() {
        let graph = [input("half", TensorElementType::Float16, &[1, 4])];
        let e = ModelInputs::build(&graph, &settings()).unwrap_err().to_string();
        assert!(e.contains("`half`") && e.contains("Float16"), "{e}");
    }
}
