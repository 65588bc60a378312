//! NVIDIA's CUDA provider, built into the `onnxruntime-gpu` runtime: its options, its piece-by-piece
//! diagnosis ([`checks`]) and the NVML GPU its memory figures are read from.

pub mod checks;

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ort::ep::{self, ArenaExtendStrategy};
use ort::session::builder::SessionBuilder;

use super::diagnosis::{Check, DiagnoseContext, Diagnosis};
use super::memory::DeviceProbe;
use super::options::{OptionKind, OptionSpec, Options};
use super::setup::{NvmlDevice, ProviderSetup, unbuilt};
use super::{Backend, MemoryKind, Source};
use crate::config::{ArenaStrategy, ConvAlgoSearch, CudaOptions};
use crate::protocol::WorkerMessage;
use crate::runtime::RuntimeLibrary;
use crate::supervise::{self, Flow};
use checks::{CudaDiagnosis, CudaError};

pub(super) struct Cuda;

/// NVIDIA GPU memory, read per process and per device with NVML.
pub(crate) const NVIDIA_GPU: MemoryKind = MemoryKind::Device { name: "GPU memory", short: "VRAM", probe: DeviceProbe::Nvml };

static OPTIONS: &[OptionSpec] = &[
    OptionSpec { key: "device_id", kind: OptionKind::Int { min: 0, max: 1023 }, help: "the CUDA device" },
    OptionSpec { key: "gpu_mem_limit", kind: OptionKind::Int { min: 1 << 20, max: 1 << 44 }, help: "the CUDA arena's limit in bytes" },
    OptionSpec {
        key: "arena_extend_strategy",
        kind: OptionKind::Choice(&["kNextPowerOfTwo", "kSameAsRequested"]),
        help: "how the CUDA arena grows",
    },
    OptionSpec {
        key: "cudnn_conv_algo_search",
        kind: OptionKind::Choice(&["EXHAUSTIVE", "HEURISTIC", "DEFAULT"]),
        help: "cuDNN's convolution algorithm search",
    },
];

impl Backend for Cuda {
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["gpu"]
    }
    fn ort_name(&self) -> &'static str {
        "CUDAExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "NVIDIA CUDA and cuDNN kernels, in the onnxruntime-gpu build"
    }
    fn sources(&self) -> &'static [Source] {
        &[Source::BuiltIn]
    }
    fn memory(&self, _: &Options) -> MemoryKind {
        NVIDIA_GPU
    }
    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }
    fn memory_note(&self) -> Option<&'static str> {
        Some(
            "VRAM figures are what ONNX Runtime's CUDA arena reserved, which grows in steps (next power of two unless --arena-strategy same-as-requested): a model's own weights can be much smaller",
        )
    }
    fn diagnose(&self, ctx: &DiagnoseContext, setup: &mut ProviderSetup) -> Diagnosis {
        let d = diagnose_cuda(ctx.runtime, device_id(&setup.options), ctx.with_session);
        let mut diagnosis = to_diagnosis(&d, ctx.runtime);
        if diagnosis.blocker.is_none() {
            let matched = match_nvml_device(&d);
            diagnosis.notes.push(describe_nvml_match(device_id(&setup.options), &matched));
            setup.nvml_device = matched.ok();
        }
        diagnosis.notes.push(format!("CUDA libraries from {}", checks::describe_source(&d.preloaded_from)));
        diagnosis
    }
    fn prepare(&self, setup: &ProviderSetup, library: &RuntimeLibrary) {
        checks::preload_pip_wheels(setup.library(library));
    }
    fn append(&self, builder: SessionBuilder, setup: &ProviderSetup, _: &ort::environment::Environment) -> Result<SessionBuilder> {
        let cuda = cuda_dispatch(&setup.options)?;
        // CUDA first and required; CPU after it takes the nodes CUDA has no kernel for.
        Ok(builder.with_execution_providers([cuda.build().error_on_failure(), super::cpu::cpu_dispatch(setup)]).map_err(unbuilt)?)
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}

/// The CUDA provider with `options` (its keys as [`OPTIONS`] declares them).
pub(crate) fn cuda_dispatch(options: &Options) -> Result<ep::CUDA> {
    let mut cuda = ep::CUDA::default().with_device_id(device_id(options) as i32);
    if let Some(bytes) = options.get("gpu_mem_limit") {
        let Ok(bytes) = bytes.parse::<u64>() else { bail!("gpu_mem_limit {bytes:?} is not a number of bytes") };
        cuda = cuda.with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    match options.get("arena_extend_strategy").map(String::as_str) {
        Some("kSameAsRequested") => cuda = cuda.with_arena_extend_strategy(ArenaExtendStrategy::SameAsRequested),
        Some("kNextPowerOfTwo") => cuda = cuda.with_arena_extend_strategy(ArenaExtendStrategy::NextPowerOfTwo),
        Some(other) => bail!("arena_extend_strategy {other:?} is not kNextPowerOfTwo or kSameAsRequested"),
        None => {}
    }
    match options.get("cudnn_conv_algo_search").map(String::as_str) {
        Some("EXHAUSTIVE") => cuda = cuda.with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Exhaustive),
        Some("HEURISTIC") => cuda = cuda.with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Heuristic),
        Some("DEFAULT") => cuda = cuda.with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Default),
        Some(other) => bail!("cudnn_conv_algo_search {other:?} is not EXHAUSTIVE, HEURISTIC or DEFAULT"),
        None => {}
    }
    Ok(cuda)
}

/// The CUDA device an options map asks for (0 when it does not say).
pub(crate) fn device_id(options: &Options) -> u32 {
    options.get("device_id").and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// models.yaml's typed `cuda:` section (and its flags) as the provider's options.
pub(crate) fn options_from(cuda: &CudaOptions) -> Options {
    let mut o = Options::new();
    o.insert("device_id".into(), cuda.device_id.to_string());
    if let Some(bytes) = cuda.gpu_mem_limit_bytes() {
        o.insert("gpu_mem_limit".into(), bytes.to_string());
    }
    if let Some(s) = cuda.arena_extend_strategy {
        set_arena(&mut o, s);
    }
    if let Some(s) = cuda.cudnn_conv_algo_search {
        set_conv_search(&mut o, s);
    }
    o
}

pub(crate) fn set_arena(options: &mut Options, s: ArenaStrategy) {
    let name = match s {
        ArenaStrategy::NextPowerOfTwo => "kNextPowerOfTwo",
        ArenaStrategy::SameAsRequested => "kSameAsRequested",
    };
    options.insert("arena_extend_strategy".into(), name.into());
}

pub(crate) fn set_conv_search(options: &mut Options, s: ConvAlgoSearch) {
    options.insert("cudnn_conv_algo_search".into(), format!("{s:?}").to_uppercase());
}

/// The arena's limit in MiB, where one is set.
pub(crate) fn set_mem_limit_mb(options: &mut Options, mb: u64) {
    options.insert("gpu_mem_limit".into(), mb.saturating_mul(crate::units::MIB).to_string());
}

pub(crate) fn arena_strategy(options: &Options) -> Option<&str> {
    options.get("arena_extend_strategy").map(String::as_str)
}

/// CUDA's checks as doctor lists them, and the first that stops it.
fn to_diagnosis(d: &CudaDiagnosis, runtime: &RuntimeLibrary) -> Diagnosis {
    let mut c = vec![if d.runtime_has_cuda {
        Check::ok("CUDA provider in the runtime build", "yes".into())
    } else {
        Check::failed("CUDA provider in the runtime build", "no".into())
    }];
    c.push(match &d.provider_library {
        Some(p) => Check::ok("libonnxruntime_providers_cuda.so", p.display().to_string()),
        None => Check::failed("libonnxruntime_providers_cuda.so", "absent".into()),
    });
    if let Some(driver) = &d.driver {
        c.push(match driver {
            Ok(v) => Check::ok("NVIDIA driver", v.clone()),
            Err(e) => Check::failed("NVIDIA driver", e.to_string()),
        });
    }
    if let Some(devices) = &d.devices {
        c.push(match devices {
            Ok(n) if *n > 0 => Check::ok("CUDA devices", n.to_string()),
            Ok(_) => Check::failed("CUDA devices", "none".into()),
            Err(e) => Check::failed("CUDA devices", format!("none ({e})")),
        });
    }
    for l in &d.libraries {
        c.push(match (&l.found_in, l.on_demand) {
            (Some(place), _) => Check::ok(&l.name, place.clone()),
            (None, true) => {
                Check::skipped(&l.name, format!("missing, needed only by some operators ({})", l.error.as_deref().unwrap_or("not found")))
            }
            (None, false) => Check::failed(&l.name, format!("MISSING ({})", l.error.as_deref().unwrap_or("not found"))),
        });
    }
    if let Some(session) = &d.session {
        c.push(match session {
            Ok(()) => Check::ok("CUDA session with the warm-up model", "created".into()),
            Err(e) => Check::failed("CUDA session with the warm-up model", e.to_string()),
        });
    }
    let mut diagnosis = Diagnosis::from_checks(c);
    diagnosis.blocker = d.blocker(runtime);
    diagnosis.session_checked = d.session.is_some();
    diagnosis
}

/// The NVML device that is the CUDA device the trials use, found by the PCI bus id the probe worker
/// read from the driver.
pub(crate) fn match_nvml_device(diagnosis: &CudaDiagnosis) -> Result<NvmlDevice> {
    let bus_id = match &diagnosis.pci_bus_id {
        Some(Ok(id)) => id,
        Some(Err(e)) => bail!("the CUDA device's PCI bus id could not be read ({e})"),
        None => bail!("the CUDA device's PCI bus id was not read"),
    };
    let index = crate::probe::gpu::index_by_pci_bus_id(bus_id)?;
    Ok(NvmlDevice { index, pci_bus_id: bus_id.clone() })
}

/// Which GPU the probes read for CUDA device `device_id`, or why they read none, in words.
pub(crate) fn describe_nvml_match(device_id: u32, matched: &Result<NvmlDevice>) -> String {
    match matched {
        Ok(d) => format!("CUDA device {device_id} is NVML GPU {} (PCI {}): its memory is what the probes read", d.index, d.pci_bus_id),
        Err(why) => format!("CUDA device {device_id}: no GPU memory figures: {why:#}"),
    }
}

/// The CUDA checks: the cheap ones here, the rest (driver, libraries, a real session) in a
/// throwaway worker so a CUDA crash or its memory never lands in this process.
pub(crate) fn diagnose_cuda(runtime: &RuntimeLibrary, device_id: u32, with_session: bool) -> CudaDiagnosis {
    let quick = checks::static_checks(runtime);
    if quick.blocker(runtime).is_some() || !with_session {
        return quick;
    }
    let args = vec![
        "--probe-cuda".to_string(),
        "--ort-lib".into(),
        runtime.path.display().to_string(),
        "--device-id".into(),
        device_id.to_string(),
    ];
    let mut diagnosis = quick.clone();
    diagnosis.session = Some(Err(CudaError::ProbeSilent));
    let Ok(mut worker) = supervise::spawn(&args, &[]) else { return diagnosis };
    worker.supervise(Instant::now() + Duration::from_secs(180), |_, message| match message {
        WorkerMessage::CudaProbe { diagnosis: d } => {
            diagnosis = *d;
            Flow::Stop
        }
        _ => Flow::Continue,
    });
    let (exit, tail) = worker.reap();
    if let (Some(Err(e)), Some(sig)) = (&diagnosis.session, exit.signal()) {
        let error = Box::new(e.clone());
        diagnosis.session = Some(Err(CudaError::ProbeDied { error, signal: supervise::signal_name(sig), stderr_tail: tail }));
    }
    diagnosis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_options_become_the_names_onnx_runtime_takes() {
        let o = options_from(&CudaOptions {
            device_id: 1,
            gpu_mem_limit_mb: Some(2048),
            arena_extend_strategy: Some(ArenaStrategy::SameAsRequested),
            cudnn_conv_algo_search: Some(ConvAlgoSearch::Heuristic),
        });
        assert_eq!(o["device_id"], "1");
        assert_eq!(o["gpu_mem_limit"], (2048u64 << 20).to_string());
        assert_eq!(o["arena_extend_strategy"], "kSameAsRequested");
        assert_eq!(o["cudnn_conv_algo_search"], "HEURISTIC");
        assert_eq!(device_id(&o), 1);
        for spec in OPTIONS {
            assert_eq!(spec.check(&o[spec.key]).unwrap(), o[spec.key], "{} as recorded is what the option takes", spec.key);
        }
        assert!(cuda_dispatch(&o).is_ok());
        let mut bad = o.clone();
        bad.insert("arena_extend_strategy".into(), "sometimes".into());
        assert!(cuda_dispatch(&bad).is_err());
    }
}
