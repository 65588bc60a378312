//! `mora doctor`: the machine, NVML, the runtime library, and every provider mora knows with each
//! check that decides whether it runs here (a real session in a throwaway worker).

use anyhow::Result;

use super::output::outln;
use crate::cli::DoctorArgs;
use crate::config::ProviderSettings;
use crate::probe::{HostInfo, gpu};
use crate::provider::diagnosis::Outcome;
use crate::provider::{BACKENDS, Provider};
use crate::report::num;
use crate::report::table::{Style, Terminal, wrap};
use crate::runtime::{self, RuntimeLibrary};

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

    let config_settings = match &args.config {
        Some(path) => crate::config::Config::load(path)?.providers,
        None => ProviderSettings::default(),
    };
    for backend in BACKENDS {
        let provider = Provider::named(backend.name());
        let mut setup = crate::resolve::setup_for(provider, &config_settings, &args.options)?;
        let d = crate::resolve::diagnose(&library, &mut setup, &args.options, !args.no_cuda_session);
        say(String::new())?;
        say(format!("{provider}: {} ({})", backend.summary(), backend.ort_name()))?;
        say(format!("  memory: {}", setup.memory().describe()))?;
        if !backend.options().is_empty() {
            let keys: Vec<&str> = backend.options().iter().map(|o| o.key).collect();
            say(format!("  options (--ep-option {provider}.KEY=VALUE): {}", keys.join(", ")))?;
        }
        for c in &d.checks {
            let mark = match c.outcome {
                Outcome::Ok(_) => "ok",
                Outcome::Failed(_) => "FAILED",
                Outcome::Skipped(_) => "skipped",
            };
            say(format!("  {}: {mark}: {}", c.what, c.detail()))?;
        }
        for note in &d.notes {
            say(format!("  {note}"))?;
        }
        let auto = if backend.in_auto() { "" } else { " (not in --provider auto: name it)" };
        match &d.blocker {
            None if d.session_checked => say(format!("  => `--provider {provider}` works here{auto}."))?,
            None => say(format!("  => {provider} looks usable (session check skipped){auto}."))?,
            Some(why) => say(format!("  => `--provider {provider}` cannot run here: {why}"))?,
        }
    }
    Ok(0)
}
