//! Which provider ran each node of a session, as ONNX Runtime records it (1.24+): a provider that
//! leaves nodes to the CPU fallback has its figures read as a mix, never as its own.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char};

use ort::AsPointer;
use ort::session::Session;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The session option that makes ONNX Runtime keep the assignment.
pub(crate) const RECORD_KEY: &str = "session.record_ep_graph_assignment_info";

/// Nodes per provider (ONNX Runtime's names) after partitioning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodePlacement {
    pub nodes: BTreeMap<String, usize>,
}

impl NodePlacement {
    pub fn total(&self) -> usize {
        self.nodes.values().sum()
    }

    /// The nodes `ort_name` took.
    pub fn on(&self, ort_name: &str) -> usize {
        self.nodes.get(ort_name).copied().unwrap_or(0)
    }

    /// "309 of 315 nodes on OpenVINOExecutionProvider, 6 on CPUExecutionProvider".
    pub fn describe(&self, ort_name: &str) -> String {
        let others: Vec<String> = self.nodes.iter().filter(|(n, _)| *n != ort_name).map(|(n, c)| format!("{c} on {n}")).collect();
        let own = format!("{} of {} nodes on {ort_name}", self.on(ort_name), self.total());
        if others.is_empty() { own } else { format!("{own}, {}", others.join(", ")) }
    }

    /// Reads the assignment of a session created with [`RECORD_KEY`] set; `None` where the runtime
    /// does not record it (older than 1.24, or the option was refused).
    pub fn of(session: &Session) -> Option<NodePlacement> {
        let api = ort::api();
        let mut subgraphs: *const *const ort::sys::OrtEpAssignedSubgraph = std::ptr::null();
        let mut count = 0usize;
        // SAFETY: the session is alive for the call; ONNX Runtime fills both out-parameters with an
        // array it owns (valid while the session lives).
        let status = unsafe { (api.Session_GetEpGraphAssignmentInfo)(session.ptr(), &mut subgraphs, &mut count) };
        if !ok(status) || (count > 0 && subgraphs.is_null()) {
            return None;
        }
        let mut placement = NodePlacement::default();
        for i in 0..count {
            // SAFETY: `i < count` indexes the array ONNX Runtime returned.
            let sub = unsafe { *subgraphs.add(i) };
            let mut name: *const c_char = std::ptr::null();
            // SAFETY: `sub` is one of the session's subgraphs; the name is a NUL-terminated string it owns.
            if !ok(unsafe { (api.EpAssignedSubgraph_GetEpName)(sub, &mut name) }) || name.is_null() {
                return None;
            }
            // SAFETY: non-null and NUL-terminated, alive while the session is.
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
            let mut nodes: *const *const ort::sys::OrtEpAssignedNode = std::ptr::null();
            let mut n = 0usize;
            // SAFETY: as above; the node array is the session's.
            if !ok(unsafe { (api.EpAssignedSubgraph_GetNodes)(sub, &mut nodes, &mut n) }) {
                return None;
            }
            *placement.nodes.entry(name).or_default() += n;
        }
        Some(placement)
    }
}

/// Whether a status is success, releasing it otherwise.
fn ok(status: ort::sys::OrtStatusPtr) -> bool {
    if status.0.is_null() {
        return true;
    }
    // SAFETY: a non-null status is ours to release, once.
    unsafe { (ort::api().ReleaseStatus)(status.0) };
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_offload_is_described_with_the_fallbacks_share() {
        let p = NodePlacement { nodes: [("OpenVINOExecutionProvider".to_string(), 309), ("CPUExecutionProvider".to_string(), 6)].into() };
        assert_eq!(p.total(), 315);
        assert_eq!(p.describe("OpenVINOExecutionProvider"), "309 of 315 nodes on OpenVINOExecutionProvider, 6 on CPUExecutionProvider");
        assert_eq!(p.on("CUDAExecutionProvider"), 0);
    }
}
