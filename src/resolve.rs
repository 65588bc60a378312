//! Which providers run here, and with which options: models.yaml's options with the command-line
//! flags over them, the CUDA checks (the cheap ones in this process, the rest in a throwaway probe
//! worker), and which NVML GPU the probes read for the CUDA device. The commands and the worker entry
//! resolve providers through it.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::cli::ProviderFlags;
use crate::config::{CpuOptions, CudaOptions, ProviderSettings};
use crate::protocol::WorkerMessage;
use crate::results::ProviderStatus;
use crate::runtime::cuda::{self, CudaDiagnosis, CudaError};
use crate::runtime::providers::{NvmlDevice, ProviderRequest, ProviderSetup};
use crate::runtime::{Provider, RuntimeLibrary};
use crate::supervise::{self, Flow};

/// A provider's options: models.yaml's, then the command-line flags over them.
pub(crate) fn setup_for(provider: Provider, settings: &ProviderSettings, flags: &ProviderFlags) -> ProviderSetup {
    let cpu = CpuOptions {
        arena: flags.cpu_arena.unwrap_or(settings.cpu.arena),
        intra_threads: flags.intra_threads.or(settings.cpu.intra_threads),
    };
    let cuda = CudaOptions {
        device_id: flags.device_id.unwrap_or(settings.cuda.device_id),
        gpu_mem_limit_mb: flags.gpu_mem_limit_mb.or(settings.cuda.gpu_mem_limit_mb),
        arena_extend_strategy: flags.arena_strategy.or(settings.cuda.arena_extend_strategy),
        cudnn_conv_algo_search: flags.cudnn_conv_algo_search.or(settings.cuda.cudnn_conv_algo_search),
    };
    ProviderSetup { provider, cpu, cuda, nvml_device: None }
}

/// Which providers run. `auto` keeps what works and says why the rest was skipped; an explicit
/// provider that cannot run is an error naming the missing piece.
pub(crate) fn resolve_providers(
    request: &ProviderRequest,
    runtime: &RuntimeLibrary,
    settings: &ProviderSettings,
    flags: &ProviderFlags,
) -> Result<(Vec<ProviderSetup>, Vec<ProviderStatus>)> {
    let wanted: Vec<Provider> = match request {
        ProviderRequest::Auto => Provider::ALL.to_vec(),
        ProviderRequest::Explicit(list) => list.clone(),
    };
    let mut setups = Vec::new();
    let mut statuses = Vec::new();
    for provider in wanted {
        let mut setup = setup_for(provider, settings, flags);
        let mut gpu = None;
        let (blocker, libraries) = match provider {
            Provider::Cpu => (None, None),
            Provider::Cuda => {
                let diagnosis = diagnose_cuda(runtime, &setup, true);
                let blocker = diagnosis.blocker(runtime);
                if blocker.is_none() {
                    let matched = match_nvml_device(&diagnosis);
                    gpu = Some(describe_nvml_match(setup.cuda.device_id, &matched));
                    setup.nvml_device = matched.ok();
                }
                (blocker, Some(cuda::describe_source(&diagnosis.preloaded_from)))
            }
        };
        match blocker {
            None => {
                statuses.push(ProviderStatus { provider, ran: true, skipped_because: None, cuda_libraries: libraries, gpu });
                setups.push(setup);
            }
            Some(why) if matches!(request, ProviderRequest::Auto) => {
                statuses.push(ProviderStatus { provider, ran: false, skipped_because: Some(why), cuda_libraries: None, gpu: None });
            }
            Some(why) => bail!("--provider {provider}: CUDA cannot run here: {why}"),
        }
    }
    Ok((setups, statuses))
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
        Ok(d) => format!("CUDA device {device_id} is NVML GPU {} (PCI {})", d.index, d.pci_bus_id),
        Err(why) => format!("CUDA device {device_id}: no GPU memory figures: {why:#}"),
    }
}

/// The CUDA checks: the cheap ones here, the rest (driver, libraries, a real session) in a
/// throwaway worker so a CUDA crash or its memory never lands in this process.
pub(crate) fn diagnose_cuda(runtime: &RuntimeLibrary, setup: &ProviderSetup, with_session: bool) -> CudaDiagnosis {
    let quick = cuda::static_checks(runtime);
    if quick.blocker(runtime).is_some() || !with_session {
        return quick;
    }
    let mut args = vec!["--probe-cuda".to_string(), "--ort-lib".into(), runtime.path.display().to_string()];
    args.extend(["--device-id".into(), setup.cuda.device_id.to_string()]);
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
    use crate::config::{ArenaStrategy, Config};
    use std::path::Path;

    const YAML: &str = "schema: 1
providers:
  cpu: {arena: false, intra_threads: 2}
  cuda: {device_id: 1, gpu_mem_limit_mb: 4096, arena_extend_strategy: same-as-requested}
models:
  - {id: m, type: vision, weights: real, path: m.onnx, source: {kind: local}}
";

    #[test]
    fn provider_options_come_from_models_yaml() {
        let config = Config::parse(YAML, Path::new("models.yaml")).unwrap();
        let cuda = setup_for(Provider::Cuda, &config.providers, &ProviderFlags::default());
        assert_eq!(cuda.cuda.device_id, 1);
        assert_eq!(cuda.cuda.gpu_mem_limit_mb, Some(4096));
        assert_eq!(cuda.cuda.arena_extend_strategy, Some(ArenaStrategy::SameAsRequested));
        assert!(!cuda.cpu.arena);
        assert_eq!(cuda.cpu.intra_threads, Some(2));
        assert_eq!(cuda.options()["gpu_mem_limit"], (4096u64 << 20).to_string());
    }

    #[test]
    fn flags_override_models_yaml() {
        let config = Config::parse(YAML, Path::new("models.yaml")).unwrap();
        let flags = ProviderFlags { device_id: Some(0), gpu_mem_limit_mb: Some(512), cpu_arena: Some(true), ..Default::default() };
        let cuda = setup_for(Provider::Cuda, &config.providers, &flags);
        assert_eq!((cuda.cuda.device_id, cuda.cuda.gpu_mem_limit_mb, cuda.cpu.arena), (0, Some(512), true));
        assert_eq!(cuda.cuda.arena_extend_strategy, Some(ArenaStrategy::SameAsRequested), "unflagged options stay");
    }

    #[test]
    fn an_unknown_provider_option_is_a_config_error() {
        let e = Config::parse(&YAML.replace("device_id: 1", "device: 1"), Path::new("models.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `device`"), "{e:#}");
    }
}
