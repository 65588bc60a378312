//! results.json's JSON Schema (`mora report --schema`, committed as schema/results.schema.json),
//! generated from the results types: what this mora reads as results schema 2. A schema 1 file
//! (mora 0.1) is read through a migration ([`super::store`]) and does not validate against it.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use super::{ResultsFile, SCHEMA_VERSION};

/// Where validators find the schema by name; nothing is served there.
const ID: &str = "https://modelmora.example/mora/results.schema.json";

pub(crate) fn results_schema() -> Value {
    let mut schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<ResultsFile>();
    schema.insert("$id".into(), ID.into());
    schema.to_value()
}

/// `schema_version`: the one version the schema describes.
pub(super) fn version(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "const": SCHEMA_VERSION})
}
