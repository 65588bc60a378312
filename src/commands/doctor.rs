//! `mora doctor`: the runtime library, its providers, CUDA piece by piece, NVML and the machine.

use anyhow::Result;

use super::output::outln;
use crate::cli::DoctorArgs;
use crate::config::ProviderSettings;
use crate::probe::{HostInfo, gpu};
use crate::report::num;
use crate::report::table::{Style, Terminal, wrap};
use crate::runtime::{self, Provider, RuntimeLibrary, cuda};

pub(crate) fn run(args: DoctorArgs) -> Result<i32> {
    // Each line folded between words at the terminal's width (COLUMNS when piped), as the tables are.
    let width = Terminal::stdout(Style::Full).width;
    let say = |line: String| outln!("{}", wrap(&line, width, 4));
    let host = HostInfo::current();
    say(format!("mora {}", env!("CARGO_PKG_VERSION")))?;
    say(format!("Host: {} ({}, {})", host.hostname, host.os.as_deref().unwrap_or("unknown OS"), host.arch))?;
    say(format!("Kernel: {}", host.kernel.as_deref().unwrap_or("unknown")))?;
    say(format!(
        "CPU: {} ({} logical cores, {} physical)",
        host.cpu_model.as_deref().unwrap_or("unknown"),
        host.logical_cores,
        host.physical_cores.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
    ))?;
    say(format!("RAM: {} MB", num(host.ram_total_mb, 0)))?;
    match gpu::nvml() {
        Ok(_) => {
            let gpus = gpu::gpus();
            say(format!("NVML: available, {} GPU(s)", gpus.len()))?;
            for g in gpus {
                say(format!(
                    "  GPU {}: {} ({} MB, driver {}, CUDA {})",
                    g.index,
                    g.name,
                    num(g.memory_total_mb, 0),
                    g.driver_version.as_deref().unwrap_or("?"),
                    g.driver_cuda_version.as_deref().unwrap_or("?")
                ))?;
            }
        }
        Err(reason) => say(format!("NVML: {reason} (no NVIDIA GPU figures on this machine)"))?,
    }

    let library = RuntimeLibrary::locate(args.runtime.ort_lib.as_deref(), &runtime::search_roots(None))?;
    say(format!("ONNX Runtime: {} at {} (found by {:?})", library.version, library.path.display(), library.found_by))?;
    say(format!("  providers in this build: {}", library.providers.join(", ")))?;

    let setup = crate::resolve::setup_for(Provider::Cuda, &ProviderSettings::default(), &Default::default());
    let d = crate::resolve::diagnose_cuda(&library, &setup, !args.no_cuda_session);
    say("CUDA:".into())?;
    say(format!("  CUDA provider in the runtime build: {}", yes_no(d.runtime_has_cuda)))?;
    say(format!(
        "  libonnxruntime_providers_cuda.so: {}",
        d.provider_library.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "absent".into())
    ))?;
    if let Some(driver) = &d.driver {
        match driver {
            Ok(version) => say(format!("  NVIDIA driver: {version}"))?,
            Err(e) => say(format!("  NVIDIA driver: {e}"))?,
        }
    }
    if let Some(devices) = &d.devices {
        match devices {
            Ok(n) => say(format!("  CUDA devices: {n}"))?,
            Err(e) => say(format!("  CUDA devices: none ({e})"))?,
        }
    }
    if matches!(d.devices, Some(Ok(n)) if n > 0) {
        let matched = crate::resolve::match_nvml_device(&d);
        let read = if matched.is_ok() { " (its memory is what the probes read)" } else { "" };
        say(format!("  {}{read}", crate::resolve::describe_nvml_match(setup.cuda.device_id, &matched)))?;
    }
    if !d.libraries.is_empty() {
        say(format!("  CUDA / cuDNN libraries ({}):", cuda::describe_source(&d.preloaded_from)))?;
        for l in &d.libraries {
            match &l.found_in {
                Some(place) => say(format!("    {}: {place}", l.name))?,
                None if l.on_demand => {
                    say(format!("    {}: missing, needed only by some operators ({})", l.name, l.error.as_deref().unwrap_or("not found")))?
                }
                None => say(format!("    {}: MISSING ({})", l.name, l.error.as_deref().unwrap_or("not found")))?,
            }
        }
    }
    if let Some(session) = &d.session {
        say(format!(
            "  CUDA session with the warm-up model: {}",
            session.as_ref().map(|_| "created".to_string()).unwrap_or_else(|e| format!("FAILED: {e}"))
        ))?;
    }
    match d.blocker(&library) {
        None if d.session.is_some() => say("=> `--provider cuda` works here.".into())?,
        None => say("=> CUDA looks usable (session check skipped).".into())?,
        Some(why) => say(format!("=> `--provider cuda` cannot run here: {why}\n   `--provider auto` runs CPU only."))?,
    }
    Ok(0)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
