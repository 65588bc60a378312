//! Reads what an ONNX file declares without reading its weights: the graph's inputs, the shapes of its
//! initializers, the external data files they live in, and its Gather nodes (to find the vocabulary
//! of a token embedding). A protobuf walk that seeks over tensor data, so a 3 GB model costs a few
//! hundred KB of reads; the parent uses it to check a model against models.yaml before any worker
//! starts. Field numbers follow onnx/onnx.proto, as in `onnx_writer`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

use ort::value::TensorElementType;

use crate::inputs::GraphInput;

/// What a graph declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphSummary {
    /// The graph's inputs that are not initializers: name, ONNX element type and dims (-1 where
    /// symbolic), in the graph's order.
    pub inputs: Vec<(String, i64, Vec<i64>)>,
    /// Initializer name -> dims.
    pub initializers: BTreeMap<String, Vec<i64>>,
    /// The external data files the initializers name, relative to the model's folder, in order.
    pub external_data: Vec<String>,
    /// (data, indices) of every Gather node of the main graph.
    pub gathers: Vec<(String, String)>,
    /// Nodes of the main graph: fewer after graph optimisation fuses them.
    pub nodes: usize,
    /// The graph's output names.
    pub outputs: Vec<String>,
    /// ModelProto.ir_version: the file format's version, which an ONNX Runtime reads up to a maximum.
    pub ir_version: Option<u64>,
    /// The operator sets the model imports: (domain, "" for the default one, version).
    pub opsets: Vec<(String, u64)>,
}

/// Names longer than this are not names: the file is not what it claims to be.
const MAX_NAME: u64 = 64 * crate::units::KIB;

impl GraphSummary {
    pub fn read(path: &Path) -> io::Result<GraphSummary> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        GraphSummary::from_reader(file, len)
    }

    /// Reads a ModelProto of `len` bytes.
    pub(crate) fn from_reader<R: Read + Seek>(r: R, len: u64) -> io::Result<GraphSummary> {
        let mut walker = Walker { r: BufReader::new(r), pos: 0 };
        let mut summary = GraphSummary::default();
        walker.message(len, &mut |w, field, value| match (field, value) {
            (1, Value::Varint(v)) => {
                summary.ir_version = Some(v);
                Ok(())
            }
            (7, Value::Bytes(end)) => graph(w, end, &mut summary),
            // OperatorSetIdProto: domain (1), version (2).
            (8, Value::Bytes(end)) => {
                let (mut domain, mut version) = (String::new(), 0);
                w.message(end, &mut |w, field, value| {
                    match (field, value) {
                        (1, Value::Bytes(end)) => domain = w.string(end)?,
                        (2, Value::Varint(v)) => version = v,
                        _ => {}
                    }
                    Ok(())
                })?;
                summary.opsets.push((domain, version));
                Ok(())
            }
            _ => Ok(()),
        })?;
        // Before IR version 4 the inputs list the initializers too.
        summary.inputs.retain(|(name, ..)| !summary.initializers.contains_key(name));
        Ok(summary)
    }

    /// The inputs as the session would declare them; `None` where an element type is not one
    /// ONNX Runtime feeds.
    pub(crate) fn graph_inputs(&self) -> Option<Vec<GraphInput>> {
        self.inputs
            .iter()
            .map(|(name, elem, shape)| {
                Some(GraphInput { name: name.clone(), elem: element_type(*elem)?, shape: shape.clone(), vocabulary: self.vocabulary(name) })
            })
            .collect()
    }

    /// What kind of model the graph looks like, for a model given without a models.yaml entry.
    pub(crate) fn likely_type(&self) -> crate::inputs::ModelType {
        self.guess_type().0
    }

    /// [`Self::likely_type`] with the reason, in words: an image input makes it vision
    /// (image-generation beside a latent one), integer inputs are token ids (text generation with a
    /// `logits` output, else embedding), and a model of float inputs alone (an MLP's features) is
    /// no text model whatever its output is called: it is benched as an embedding model, its inputs
    /// seeded N(0, 1).
    pub(crate) fn guess_type(&self) -> (crate::inputs::ModelType, String) {
        use crate::inputs::ModelType;
        let image = self.inputs.iter().find(|(_, _, dims)| dims.len() == 4);
        let latent = self.inputs.iter().find(|(name, _, _)| name.contains("sample") || name.contains("latent"));
        // ONNX element types INT32 (6) and INT64 (7).
        let ids = self.inputs.iter().find(|(_, elem, _)| matches!(elem, 6 | 7));
        let logits = self.outputs.iter().find(|o| o.contains("logits"));
        match (image, latent, ids, logits) {
            (Some((i, ..)), Some((l, ..)), ..) => (ModelType::ImageGeneration, format!("a 4-D input `{i}` and a latent input `{l}`")),
            (Some((i, _, dims)), None, ..) => (ModelType::Vision, format!("a 4-D input `{i}` {dims:?}, an image")),
            (None, _, Some((n, ..)), Some(o)) => {
                (ModelType::TextGeneration, format!("an integer input `{n}` (token ids) and an output `{o}`"))
            }
            (None, _, Some((n, ..)), None) => (ModelType::Embedding, format!("an integer input `{n}` (token ids) and no `logits` output")),
            (None, _, None, _) => {
                let names: Vec<&str> = self.inputs.iter().map(|(n, ..)| n.as_str()).collect();
                (ModelType::Embedding, format!("float inputs only ({}), no image and no token ids", names.join(", ")))
            }
        }
    }

    /// The embedding table that `input` indexes directly (a rank-2 initializer gathered by it), and
    /// its number of rows: token ids at or above it are out of the model's vocabulary.
    pub(crate) fn vocabulary(&self, input: &str) -> Option<(String, u64)> {
        self.gathers.iter().filter(|(_, indices)| indices == input).find_map(|(data, _)| match self.initializers.get(data)?.as_slice() {
            [rows, _] => Some((data.clone(), u64::try_from(*rows).ok()?)),
            _ => None,
        })
    }
}

enum Value {
    Varint(u64),
    /// A length-delimited field, ending at this offset.
    Bytes(u64),
}

struct Walker<R> {
    r: BufReader<R>,
    pos: u64,
}

type Fields<'a, R> = dyn FnMut(&mut Walker<R>, u64, Value) -> io::Result<()> + 'a;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not an ONNX file: {what}"))
}

impl<R: Read + Seek> Walker<R> {
    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            self.r.read_exact(&mut byte)?;
            self.pos += 1;
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("a varint longer than 10 bytes"))
    }

    fn skip_to(&mut self, end: u64) -> io::Result<()> {
        let n = end.checked_sub(self.pos).and_then(|n| i64::try_from(n).ok()).ok_or_else(|| invalid("a field runs past its message"))?;
        self.r.seek_relative(n)?;
        self.pos = end;
        Ok(())
    }

    /// Calls `f` with each field of the message that ends at `end`; what `f` leaves unread of a
    /// length-delimited field is skipped (seeked over, for tensor data).
    fn message(&mut self, end: u64, f: &mut Fields<R>) -> io::Result<()> {
        while self.pos < end {
            let key = self.varint()?;
            let field = key >> 3;
            match key & 7 {
                0 => {
                    let v = self.varint()?;
                    f(self, field, Value::Varint(v))?;
                }
                1 => self.skip_to(self.pos + 8)?,
                5 => self.skip_to(self.pos + 4)?,
                2 => {
                    let len = self.varint()?;
                    let field_end =
                        self.pos.checked_add(len).filter(|e| *e <= end).ok_or_else(|| invalid("a field runs past its message"))?;
                    f(self, field, Value::Bytes(field_end))?;
                    self.skip_to(field_end)?;
                }
                _ => return Err(invalid("a protobuf wire type ONNX does not use")),
            }
        }
        if self.pos == end { Ok(()) } else { Err(invalid("a field runs past its message")) }
    }

    fn string(&mut self, end: u64) -> io::Result<String> {
        let len = end.checked_sub(self.pos).filter(|n| *n <= MAX_NAME).ok_or_else(|| invalid("a name longer than 64 KiB"))?;
        let mut bytes = vec![0; len as usize];
        self.r.read_exact(&mut bytes)?;
        self.pos = end;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A repeated int64 field: one value, or a packed run of them.
    fn int64s(&mut self, value: Value, into: &mut Vec<i64>) -> io::Result<()> {
        match value {
            Value::Varint(v) => into.push(v as i64),
            Value::Bytes(end) => {
                while self.pos < end {
                    into.push(self.varint()? as i64);
                }
            }
        }
        Ok(())
    }
}

/// GraphProto: node (1), initializer (5), input (11).
fn graph<R: Read + Seek>(w: &mut Walker<R>, end: u64, s: &mut GraphSummary) -> io::Result<()> {
    w.message(end, &mut |w, field, value| {
        let Value::Bytes(end) = value else { return Ok(()) };
        match field {
            1 => {
                s.nodes += 1;
                let (op, inputs) = node(w, end)?;
                if let (true, [data, indices, ..]) = (op == "Gather", inputs.as_slice()) {
                    s.gathers.push((data.clone(), indices.clone()));
                }
            }
            5 => {
                let (name, dims, location) = tensor(w, end)?;
                if let Some(location) = location.filter(|l| !s.external_data.contains(l)) {
                    s.external_data.push(location);
                }
                s.initializers.insert(name, dims);
            }
            11 => s.inputs.push(value_info(w, end)?),
            12 => s.outputs.push(value_info(w, end)?.0),
            _ => {}
        }
        Ok(())
    })
}

/// NodeProto: input (1), op_type (4).
fn node<R: Read + Seek>(w: &mut Walker<R>, end: u64) -> io::Result<(String, Vec<String>)> {
    let (mut op, mut inputs) = (String::new(), Vec::new());
    w.message(end, &mut |w, field, value| {
        match (field, value) {
            (1, Value::Bytes(end)) => inputs.push(w.string(end)?),
            (4, Value::Bytes(end)) => op = w.string(end)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((op, inputs))
}

/// TensorProto: dims (1), name (8), external_data (13) entries of key (1) and value (2).
fn tensor<R: Read + Seek>(w: &mut Walker<R>, end: u64) -> io::Result<(String, Vec<i64>, Option<String>)> {
    let (mut name, mut dims, mut location) = (String::new(), Vec::new(), None);
    w.message(end, &mut |w, field, value| {
        match (field, value) {
            (1, value) => w.int64s(value, &mut dims)?,
            (8, Value::Bytes(end)) => name = w.string(end)?,
            (13, Value::Bytes(end)) => {
                let (mut key, mut val) = (String::new(), String::new());
                w.message(end, &mut |w, field, value| {
                    match (field, value) {
                        (1, Value::Bytes(end)) => key = w.string(end)?,
                        (2, Value::Bytes(end)) => val = w.string(end)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                if key == "location" {
                    location = Some(val);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((name, dims, location))
}

/// ValueInfoProto: name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1), shape (2) ->
/// dim (1) -> dim_value (1) or dim_param (2).
fn value_info<R: Read + Seek>(w: &mut Walker<R>, end: u64) -> io::Result<(String, i64, Vec<i64>)> {
    let (mut name, mut elem, mut shape) = (String::new(), 0i64, Vec::new());
    w.message(end, &mut |w, field, value| match (field, value) {
        (1, Value::Bytes(end)) => {
            name = w.string(end)?;
            Ok(())
        }
        (2, Value::Bytes(end)) => w.message(end, &mut |w, field, value| match (field, value) {
            (1, Value::Bytes(end)) => w.message(end, &mut |w, field, value| match (field, value) {
                (1, Value::Varint(v)) => {
                    elem = v as i64;
                    Ok(())
                }
                (2, Value::Bytes(end)) => w.message(end, &mut |w, field, value| match (field, value) {
                    (1, Value::Bytes(end)) => {
                        let mut dim = -1;
                        w.message(end, &mut |_, field, value| {
                            if let (1, Value::Varint(v)) = (field, value) {
                                dim = v as i64;
                            }
                            Ok(())
                        })?;
                        shape.push(dim);
                        Ok(())
                    }
                    _ => Ok(()),
                }),
                _ => Ok(()),
            }),
            _ => Ok(()),
        }),
        _ => Ok(()),
    })?;
    Ok((name, elem, shape))
}

/// TensorProto.DataType -> the element type ONNX Runtime reports for it.
fn element_type(code: i64) -> Option<TensorElementType> {
    use TensorElementType::*;
    Some(match code {
        1 => Float32,
        2 => Uint8,
        3 => Int8,
        4 => Uint16,
        5 => Int16,
        6 => Int32,
        7 => Int64,
        8 => String,
        9 => Bool,
        10 => Float16,
        11 => Float64,
        12 => Uint32,
        13 => Uint64,
        16 => Bfloat16,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_writer::{Dim, ElemType, ModelBuilder, named, warmup_model};

    fn read_bytes(bytes: &[u8]) -> io::Result<GraphSummary> {
        GraphSummary::from_reader(io::Cursor::new(bytes), bytes.len() as u64)
    }

    #[test]
    fn reads_inputs_initializers_and_gathers_of_a_written_model() {
        let mut b = ModelBuilder::new(17);
        b.input("input_ids", ElemType::Int64, &[named("batch"), Dim::Fixed(7)])
            .output("y", ElemType::Float, &[named("batch"), Dim::Fixed(7), Dim::Fixed(4)])
            .initializer_f32("embedding", &[300, 4], &vec![0.5; 1200])
            .node("Gather", &["embedding", "input_ids"], &["y"], &[]);
        let s = read_bytes(&b.build()).unwrap();
        assert_eq!(s.inputs, [("input_ids".to_string(), 7, vec![-1, 7])]);
        assert_eq!(s.initializers["embedding"], [300, 4]);
        assert_eq!(s.gathers, [("embedding".to_string(), "input_ids".to_string())]);
        assert_eq!(s.vocabulary("input_ids"), Some(("embedding".to_string(), 300)));
        assert_eq!(s.vocabulary("attention_mask"), None);
        assert!(s.external_data.is_empty());
        let inputs = s.graph_inputs().unwrap();
        assert_eq!((inputs[0].elem, inputs[0].shape.as_slice()), (TensorElementType::Int64, [-1, 7].as_slice()));
        assert_eq!(read_bytes(&warmup_model()).unwrap().inputs, [("x".to_string(), 1, vec![1, 16])]);
    }

    #[test]
    fn names_the_external_data_files() {
        let mut b = ModelBuilder::new(17);
        b.input("x", ElemType::Float, &[Dim::Fixed(1), Dim::Fixed(4)])
            .output("y", ElemType::Float, &[Dim::Fixed(1), Dim::Fixed(4)])
            .initializer_external("w", &[4, 4], "model.onnx.data", 0)
            .initializer_external("w2", &[4, 4], "model.onnx.data", 64)
            .initializer_external("w3", &[4, 4], "other.bin", 0)
            .node("MatMul", &["x", "w"], &["y"], &[]);
        let s = read_bytes(&b.build()).unwrap();
        assert_eq!(s.external_data, ["model.onnx.data", "other.bin"]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"x",
            b"\x3a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\x3a\x05ab",
        ] {
            let _ = read_bytes(bytes);
        }
        assert!(read_bytes(b"\x3a\x05ab").is_err(), "a field longer than the file");
        assert_eq!(read_bytes(b"").unwrap(), GraphSummary::default(), "an empty message is a valid (empty) protobuf");
        // Every truncation and every single-byte change of a real model: errors or summaries, never a panic.
        let model = warmup_model();
        for cut in 0..model.len() {
            let _ = read_bytes(&model[..cut]);
        }
        for at in (0..model.len()).step_by(7) {
            let mut m = model.clone();
            m[at] ^= 0xa5;
            let _ = read_bytes(&m);
        }
    }
}
