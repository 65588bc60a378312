//! A minimal ONNX model writer: just enough protobuf to build small graphs in memory.
//!
//! mora uses it for the tiny model that initialises an execution provider before any real model is
//! measured (so the provider's one-time costs are reported apart), and the tests use it to build
//! fixtures of any size without Python. Field numbers follow onnx/onnx.proto.

/// ONNX tensor element types used here (TensorProto.DataType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    Float = 1,
    Int64 = 7,
}

/// One dimension of a graph input or output.
#[derive(Debug, Clone)]
pub enum Dim {
    Fixed(i64),
    Named(String),
}

pub fn named(name: &str) -> Dim {
    Dim::Named(name.to_string())
}

#[derive(Debug, Clone)]
pub enum Attr {
    Int(&'static str, i64),
}

/// Builds an ONNX ModelProto, one node or tensor at a time.
pub struct ModelBuilder {
    opset: i64,
    ir_version: u64,
    nodes: Vec<Vec<u8>>,
    initializers: Vec<Vec<u8>>,
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
}

impl ModelBuilder {
    pub fn new(opset: i64) -> Self {
        ModelBuilder { opset, ir_version: 8, nodes: vec![], initializers: vec![], inputs: vec![], outputs: vec![] }
    }

    /// The file's IR version (8 by default), e.g. a newer one than ONNX Runtime reads, as a newer
    /// `onnx` package saves.
    pub fn ir_version(&mut self, v: u64) -> &mut Self {
        self.ir_version = v;
        self
    }

    pub fn input(&mut self, name: &str, elem: ElemType, dims: &[Dim]) -> &mut Self {
        self.inputs.push(value_info(name, elem, dims));
        self
    }

    pub fn output(&mut self, name: &str, elem: ElemType, dims: &[Dim]) -> &mut Self {
        self.outputs.push(value_info(name, elem, dims));
        self
    }

    pub fn initializer_f32(&mut self, name: &str, dims: &[i64], data: &[f32]) -> &mut Self {
        assert_eq!(dims.iter().product::<i64>() as usize, data.len(), "initializer {name}: dims and data disagree");
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor(name, ElemType::Float, dims, &raw));
        self
    }

    pub fn initializer_i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> &mut Self {
        assert_eq!(dims.iter().product::<i64>() as usize, data.len(), "initializer {name}: dims and data disagree");
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor(name, ElemType::Int64, dims, &raw));
        self
    }

    /// A float initializer whose data lives in another file, at `offset` of `location`, as large
    /// exports keep their weights (model.onnx + model.onnx.data).
    pub fn initializer_external(&mut self, name: &str, dims: &[i64], location: &str, offset: u64) -> &mut Self {
        let mut t = Vec::new();
        for d in dims {
            put_varint_field(&mut t, 1, *d as u64);
        }
        put_varint_field(&mut t, 2, ElemType::Float as u64);
        put_bytes(&mut t, 8, name.as_bytes());
        let length = dims.iter().product::<i64>() * 4;
        for (key, value) in [("location", location.to_string()), ("offset", offset.to_string()), ("length", length.to_string())] {
            let mut entry = Vec::new();
            put_bytes(&mut entry, 1, key.as_bytes());
            put_bytes(&mut entry, 2, value.as_bytes());
            put_bytes(&mut t, 13, &entry);
        }
        put_varint_field(&mut t, 14, 1); // data_location: EXTERNAL
        self.initializers.push(t);
        self
    }

    pub fn node(&mut self, op_type: &str, inputs: &[&str], outputs: &[&str], attrs: &[Attr]) -> &mut Self {
        let mut node = Vec::new();
        for input in inputs {
            put_bytes(&mut node, 1, input.as_bytes());
        }
        for output in outputs {
            put_bytes(&mut node, 2, output.as_bytes());
        }
        put_bytes(&mut node, 3, format!("{op_type}_{}", self.nodes.len()).as_bytes());
        put_bytes(&mut node, 4, op_type.as_bytes());
        for attr in attrs {
            put_bytes(&mut node, 5, &attribute(attr));
        }
        self.nodes.push(node);
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut graph = Vec::new();
        for node in &self.nodes {
            put_bytes(&mut graph, 1, node);
        }
        put_bytes(&mut graph, 2, b"mora");
        for init in &self.initializers {
            put_bytes(&mut graph, 5, init);
        }
        for input in &self.inputs {
            put_bytes(&mut graph, 11, input);
        }
        for output in &self.outputs {
            put_bytes(&mut graph, 12, output);
        }
        let mut opset = Vec::new();
        put_bytes(&mut opset, 1, b"");
        put_varint_field(&mut opset, 2, self.opset as u64);

        let mut model = Vec::new();
        put_varint_field(&mut model, 1, self.ir_version); // 8 unless told: opsets up to 18
        put_bytes(&mut model, 2, b"mora");
        put_bytes(&mut model, 7, &graph);
        put_bytes(&mut model, 8, &opset);
        model
    }
}

/// The tiny model that initialises a provider: y = relu(x · W), x of shape [1, 16].
pub(crate) fn warmup_model() -> Vec<u8> {
    let weights: Vec<f32> = (0..256).map(|i| ((i % 17) as f32 - 8.0) / 16.0).collect();
    let mut b = ModelBuilder::new(17);
    b.input("x", ElemType::Float, &[Dim::Fixed(1), Dim::Fixed(16)])
        .output("y", ElemType::Float, &[Dim::Fixed(1), Dim::Fixed(16)])
        .initializer_f32("w", &[16, 16], &weights)
        .node("MatMul", &["x", "w"], &["xw"], &[])
        .node("Relu", &["xw"], &["y"], &[]);
    b.build()
}

fn value_info(name: &str, elem: ElemType, dims: &[Dim]) -> Vec<u8> {
    let mut shape = Vec::new();
    for dim in dims {
        let mut d = Vec::new();
        match dim {
            Dim::Fixed(v) => put_varint_field(&mut d, 1, *v as u64),
            Dim::Named(n) => put_bytes(&mut d, 2, n.as_bytes()),
        }
        put_bytes(&mut shape, 1, &d);
    }
    let mut tensor_type = Vec::new();
    put_varint_field(&mut tensor_type, 1, elem as u64);
    put_bytes(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    put_bytes(&mut type_proto, 1, &tensor_type);
    let mut info = Vec::new();
    put_bytes(&mut info, 1, name.as_bytes());
    put_bytes(&mut info, 2, &type_proto);
    info
}

fn tensor(name: &str, elem: ElemType, dims: &[i64], raw: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    for d in dims {
        put_varint_field(&mut t, 1, *d as u64);
    }
    put_varint_field(&mut t, 2, elem as u64);
    put_bytes(&mut t, 8, name.as_bytes());
    put_bytes(&mut t, 9, raw);
    t
}

fn attribute(attr: &Attr) -> Vec<u8> {
    let mut a = Vec::new();
    match attr {
        Attr::Int(name, v) => {
            put_bytes(&mut a, 1, name.as_bytes());
            put_varint_field(&mut a, 3, *v as u64);
            put_varint_field(&mut a, 20, 2); // AttributeType INT
        }
    }
    a
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(buf, u64::from(field) << 3);
    put_varint(buf, v);
}

fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(buf, (u64::from(field) << 3) | 2);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_encode_like_protobuf() {
        let mut b = Vec::new();
        put_varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        let mut b = Vec::new();
        put_varint(&mut b, (-1i64) as u64);
        assert_eq!(b.len(), 10, "negative int64 takes ten bytes");
    }

    #[test]
    fn warmup_model_is_small_and_starts_with_ir_version() {
        let m = warmup_model();
        assert_eq!(&m[..2], &[0x08, 0x08], "field 1 (ir_version) = 8");
        assert!(m.len() > 1024 && m.len() < 4096, "{} bytes", m.len());
    }
}
