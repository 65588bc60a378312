//! models.yaml's `providers:` section: the CPU options every session takes, CUDA's typed options, and
//! every other provider's options by its name, each key checked against what its backend declares.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::provider::options::{OptionKind, Options, check_option};
use crate::provider::{BACKENDS, Backend, Provider};

/// Execution provider options from models.yaml; command-line flags override them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProviderSettings {
    pub cpu: CpuOptions,
    /// Each provider's own options by mora's name for it (`cuda`'s from its typed section).
    #[serde(flatten)]
    pub providers: BTreeMap<String, Options>,
}

impl ProviderSettings {
    /// The options models.yaml gives `provider` (none where it says nothing of it).
    pub(crate) fn options_of(&self, provider: Provider) -> Options {
        self.providers.get(provider.name()).cloned().unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for ProviderSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SettingsVisitor)
    }
}

struct SettingsVisitor;

impl<'de> Visitor<'de> for SettingsVisitor {
    type Value = ProviderSettings;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a map of provider names ({}) to their options", crate::provider::known_names())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProviderSettings, A::Error> {
        let mut settings = ProviderSettings::default();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom(format!("providers.{name} is given twice")));
            }
            match name.as_str() {
                "cpu" => settings.cpu = map.next_value()?,
                // CUDA's section is typed (ranges, kebab-case choices), as it was before the others.
                "cuda" => {
                    let cuda: CudaOptions = map.next_value()?;
                    settings.providers.insert(name, crate::provider::cuda::options_from(&cuda));
                }
                other => {
                    let Some(backend) = crate::provider::known(other) else {
                        return Err(de::Error::custom(format!(
                            "providers: unknown provider `{other}`: use one of {}",
                            crate::provider::known_names()
                        )));
                    };
                    let options = map.next_value_seed(OptionsSeed(backend))?;
                    settings.providers.insert(backend.name().to_string(), options);
                }
            }
        }
        Ok(settings)
    }
}

/// One provider's options, each checked against its backend as it is read (so an error has the line).
struct OptionsSeed(&'static dyn Backend);

impl<'de> DeserializeSeed<'de> for OptionsSeed {
    type Value = Options;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Options, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OptionsSeed {
    type Value = Options;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the {} provider's options, as key: value", self.0.name())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Options, A::Error> {
        let mut options = Options::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Scalar>()?.0;
            let value = check_option(self.0.name(), self.0.options(), true, &key, &value)
                .map_err(|e| de::Error::custom(format!("providers.{}.{e}", self.0.name())))?;
            if options.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("providers.{}.{key} is given twice", self.0.name())));
            }
        }
        Ok(options)
    }
}

/// A YAML scalar as text: ONNX Runtime takes every option as a string.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, a number or true/false")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ProviderSettings {
    fn schema_name() -> Cow<'static, str> {
        "ProviderSettings".into()
    }
    /// `cpu` and `cuda` typed; every other backend's declared options, from the backend table.
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = serde_json::Map::new();
        properties.insert("cpu".into(), generator.subschema_for::<CpuOptions>().to_value());
        properties.insert("cuda".into(), generator.subschema_for::<CudaOptions>().to_value());
        for b in BACKENDS.iter().filter(|b| !matches!(b.name(), "cpu" | "cuda")) {
            let mut props = serde_json::Map::new();
            for o in b.options() {
                let kind = match o.kind {
                    OptionKind::Int { min, max } => json_schema!({"type": "integer", "minimum": min, "maximum": max}),
                    OptionKind::Bool { .. } => json_schema!({"type": "boolean"}),
                    OptionKind::Choice(words) => json_schema!({"type": "string", "enum": words}),
                    OptionKind::Path | OptionKind::Text => json_schema!({"type": "string", "minLength": 1}),
                };
                let mut kind = kind.to_value();
                kind["description"] = o.help.into();
                props.insert(o.key.into(), kind);
            }
            properties.insert(
                b.name().into(),
                serde_json::json!({"type": "object", "description": b.summary(), "properties": props, "additionalProperties": false}),
            );
        }
        json_schema!({"type": "object", "properties": properties, "additionalProperties": false})
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CpuOptions {
    /// ONNX Runtime's CPU memory arena (on by default in ONNX Runtime itself).
    pub arena: bool,
    /// Intra-op threads; `None` lets ONNX Runtime choose (one per physical core).
    #[serde(deserialize_with = "super::ranged::intra_threads::deserialize")]
    #[schemars(schema_with = "super::ranged::intra_threads::schema")]
    pub intra_threads: Option<usize>,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions { arena: true, intra_threads: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CudaOptions {
    /// The CUDA device to run on.
    #[serde(deserialize_with = "super::ranged::device_id::deserialize")]
    #[schemars(schema_with = "super::ranged::device_id::schema")]
    pub device_id: u32,
    /// The CUDA arena's limit in MiB; `None` is ONNX Runtime's default (no limit).
    #[serde(deserialize_with = "super::ranged::gpu_mem_limit_mb::deserialize")]
    #[schemars(schema_with = "super::ranged::gpu_mem_limit_mb::schema")]
    pub gpu_mem_limit_mb: Option<u64>,
    /// How the CUDA arena grows.
    pub arena_extend_strategy: Option<ArenaStrategy>,
    /// cuDNN's convolution algorithm search.
    pub cudnn_conv_algo_search: Option<ConvAlgoSearch>,
}

impl CudaOptions {
    /// The arena limit in bytes, as ONNX Runtime takes it (saturating: the MiB are range-checked
    /// where they are read, but a `CudaOptions` can be built in code too).
    pub(crate) fn gpu_mem_limit_bytes(&self) -> Option<u64> {
        self.gpu_mem_limit_mb.map(|mb| mb.saturating_mul(crate::units::MIB))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ArenaStrategy {
    NextPowerOfTwo,
    SameAsRequested,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConvAlgoSearch {
    Exhaustive,
    Heuristic,
    Default,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits;

    #[test]
    fn the_gpu_memory_limit_in_bytes_cannot_overflow() {
        let cuda = |mb| CudaOptions { gpu_mem_limit_mb: Some(mb), ..CudaOptions::default() };
        assert_eq!(cuda(2048).gpu_mem_limit_bytes(), Some(2048 << 20));
        assert_eq!(cuda(*limits::GPU_MEM_LIMIT_MB.end()).gpu_mem_limit_bytes(), Some(1 << 44));
        assert_eq!(cuda(u64::MAX).gpu_mem_limit_bytes(), Some(u64::MAX));
        assert_eq!(CudaOptions::default().gpu_mem_limit_bytes(), None);
    }
}
