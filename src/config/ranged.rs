//! serde hooks that check each number against its limit as it is read, so an error carries
//! serde_yaml's line, column and key path. `deserialize_with` takes a function path: one module per
//! limit, whose `schema` puts the same bounds in models.schema.json (`schemars(schema_with)`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

use crate::limits;

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

#[cfg(test)]
mod tests {
    use super::super::tests::{VALID, error_of, parse};
    use crate::config::{CpuOptions, CudaOptions};

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
}
