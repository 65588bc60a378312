//! mora: ModelMora's model lifecycle benchmark.
//!
//! Data flow: `cli -> config -> plan -> runner -> worker (scenario + probes) -> results -> advice -> report`.
//! The runner (parent) starts one worker process per trial; the worker loads the model through ONNX
//! Runtime, measures with the probes, and reports on a descriptor of its own.

#[cfg(not(target_os = "linux"))]
compile_error!("mora measures through Linux interfaces (/proc, cgroups, process groups, prctl): build and run it on Linux");

pub mod advice;
pub mod catalog;
pub mod cgroup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod fault;
pub mod fleet;
pub mod hub;
pub mod inputs;
pub mod levers;
pub mod limits;
pub mod loaded_model;
pub mod onnx_graph;
pub mod onnx_writer;
pub mod phase;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod protocol;
pub mod replay;
pub mod report;
pub mod resolve;
pub mod results;
pub mod runner;
pub mod runtime;
pub mod scenario;
pub mod simulate;
pub mod stats;
pub mod supervise;
pub mod trial;
pub mod units;
pub mod warnings;
pub mod worker;
