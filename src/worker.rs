//! The child side of every trial: `mora worker --spec JSON` runs one trial in a fresh process and
//! reports on descriptor 3. A crash here costs one trial, never the run.

use anyhow::Result;

use crate::phase::Phase;
use crate::probe::Probe;
use crate::protocol::{Channel, TrialSpec, WorkerMessage};
use crate::provider::ProviderSetup;
use crate::provider::cuda::checks as cuda;
use crate::provider::diagnosis::ProbeReport;
use crate::provider::placement::NodePlacement;
use crate::results::{Measurements, Scenario};
use crate::runtime::RuntimeLibrary;
use crate::scenario::{self, TrialContext};

/// Runs the trial described by `spec_json`; returns the process exit code.
pub(crate) fn main(spec_json: &str) -> i32 {
    let mut channel = Channel::open();
    let spec: TrialSpec = match serde_json::from_str(spec_json) {
        Ok(spec) => spec,
        Err(e) => {
            channel.send(&WorkerMessage::Failed { phase: Phase::Start, error: format!("bad trial spec: {e}"), runtime_log: vec![] });
            return 2;
        }
    };
    let mut log = Vec::new();
    match run(&spec, &mut channel, &mut log) {
        Ok(()) => 0,
        Err(e) => {
            let phase = channel.current_phase().clone();
            channel.send(&WorkerMessage::Failed { phase, error: format!("{e:#}"), runtime_log: log });
            1
        }
    }
}

fn run(spec: &TrialSpec, channel: &mut Channel, log: &mut Vec<crate::runtime::RuntimeLogLine>) -> Result<()> {
    let probe = Probe { gpu_index: spec.provider.gpu_index() };
    if probe.gpu_index.is_some() {
        // NVML's own memory belongs to no phase: initialise it before the first reading.
        let _ = crate::probe::gpu::nvml();
    }
    channel.phase(Phase::ProviderInit);
    crate::fault::inject(&Phase::ProviderInit);
    let (runtime, provider_baseline) = scenario::init_provider(&spec.runtime, &spec.provider, &probe)?;
    let mut worker = TrialContext { spec, runtime, probe, channel, warnings: Vec::new(), provider_baseline };
    let result = match spec.scenario {
        Scenario::Single => scenario::single::run(&mut worker).map(|r| Measurements::Single(Box::new(r))),
        Scenario::Cold => scenario::cold::run(&mut worker).map(|r| Measurements::Cold(Box::new(r))),
        Scenario::Leak => scenario::leak::run(&mut worker).map(|r| Measurements::Leak(Box::new(r))),
        Scenario::Concurrent => scenario::concurrent::run(&mut worker).map(|r| Measurements::Concurrent(Box::new(r))),
        Scenario::Rotation => scenario::rotation::run(&mut worker).map(|r| Measurements::Rotation(Box::new(r))),
        Scenario::Levers => scenario::levers::run(&mut worker).map(|r| Measurements::Levers(Box::new(r))),
        Scenario::MemoryLevers => scenario::memory_levers::run(&mut worker).map(|r| Measurements::MemoryLevers(Box::new(r))),
        Scenario::Idle => scenario::idle::run(&mut worker).map(|r| Measurements::Idle(Box::new(r))),
        Scenario::Shapes => scenario::shapes::run(&mut worker).map(|r| Measurements::Shapes(Box::new(r))),
        Scenario::Soak => scenario::soak::run(&mut worker).map(|r| Measurements::Soak(Box::new(r))),
        Scenario::Isolation | Scenario::MemoryLimit => {
            scenario::isolation::serve::run(&mut worker).map(|()| unreachable!("serve only returns by error"))
        }
    };
    match result {
        Ok(measurements) => {
            worker.phase(Phase::Report);
            let runtime_log = worker.runtime.take_log();
            let message = WorkerMessage::Done {
                measurements: Box::new(measurements),
                providers_registered: spec.provider.registered_names(),
                runtime_log,
                warnings: std::mem::take(&mut worker.warnings),
            };
            worker.channel.send(&message);
            Ok(())
        }
        Err(e) => {
            *log = worker.runtime.take_log();
            Err(e)
        }
    }
}

/// `mora worker --probe-cuda`: every CUDA check, including a real CUDA session, in this process.
pub(crate) fn probe_cuda(library: &RuntimeLibrary, setup: &ProviderSetup) -> i32 {
    let mut channel = Channel::open();
    let diagnosis = cuda::probe(library, crate::provider::cuda::device_id(&setup.options), || {
        let probe = Probe { gpu_index: None };
        scenario::init_provider(library, setup, &probe).map(|_| ()).map_err(|e| cuda::CudaError::Session { message: format!("{e:#}") })
    });
    channel.send(&WorkerMessage::CudaProbe { diagnosis: Box::new(diagnosis) });
    0
}

/// `mora worker --probe-provider`: registers the provider, lists its devices and creates a session
/// with the warm-up model in this process, reporting each step.
pub(crate) fn probe_provider(library: &RuntimeLibrary, setup: &ProviderSetup) -> i32 {
    let mut channel = Channel::open();
    let report = provider_report(library, setup);
    channel.send(&WorkerMessage::ProviderProbe { report: Box::new(report) });
    0
}

fn provider_report(library: &RuntimeLibrary, setup: &ProviderSetup) -> ProbeReport {
    let library = setup.library(library);
    setup.provider.backend().prepare(setup, library);
    let runtime = match crate::runtime::Runtime::init(library.clone()) {
        Ok(r) => r,
        Err(e) => return ProbeReport::failed(format!("{e:#}")),
    };
    let mut report = ProbeReport { runtime_version: library.version.clone(), registered: None, devices: None, session: Err(String::new()) };
    if setup.plugin.is_some() {
        let registered = crate::provider::plugin::register(&runtime.env, setup).map_err(|e| format!("{e:#}"));
        let failed = registered.is_err();
        report.registered = Some(registered);
        if failed {
            report.session = Err("not tried: the library did not register".into());
            return report;
        }
        let devices = crate::provider::plugin::offered(&runtime.env, setup.provider.ort_name());
        let none = devices.is_empty();
        report.devices = Some(devices);
        if none {
            report.session = Err("not tried: no device".into());
            return report;
        }
    }
    report.session = setup
        .session_from_memory(&runtime.env, &crate::onnx_writer::warmup_model())
        .map(|s| NodePlacement::of(&s))
        .map_err(|e| format!("{e:#}"));
    report
}
