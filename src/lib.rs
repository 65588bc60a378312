//! mora: ModelMora's model lifecycle benchmark.
//!
//! Data flow: `cli -> config -> plan -> runner -> worker (scenario + probes) -> results -> advice -> report`.
//! The runner (parent) starts one worker process per trial; the worker loads the model through ONNX
//! Runtime, measures with the probes, and reports on a descriptor of its own.

#[cfg(not(target_os = "linux"))]
compile_error!("mora measures through Linux interfaces (/proc, cgroups, process groups, prctl): build and run it on Linux");

pub mod advice;
pub mod catalog;
pub(crate) mod cgroup;
pub mod cli;
pub mod commands;
pub mod config;
pub(crate) mod fault;
pub(crate) mod fleet;
pub(crate) mod hub;
pub mod inputs;
pub(crate) mod levers;
pub(crate) mod limits;
pub mod loaded_model;
pub mod onnx_graph;
pub mod onnx_writer;
pub(crate) mod phase;
pub(crate) mod plan;
pub(crate) mod preflight;
pub mod probe;
pub(crate) mod profile;
pub mod protocol;
pub mod provider;
pub(crate) mod replay;
pub mod report;
pub(crate) mod resolve;
pub mod results;
pub(crate) mod runner;
pub mod runtime;
pub(crate) mod scenario;
pub(crate) mod simulate;
pub mod stats;
pub(crate) mod supervise;
pub(crate) mod trial;
pub mod units;
pub(crate) mod warnings;
pub(crate) mod worker;
