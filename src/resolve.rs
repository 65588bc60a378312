//! Which providers run here, and with which options: models.yaml's options with the command-line
//! flags over them, each provider's diagnosis (the cheap checks in this process, a session in a
//! throwaway probe worker), and the library or GPU each one's trials use. The commands and the worker
//! entry resolve providers through it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::cli::ProviderFlags;
use crate::config::{CpuOptions, ProviderSettings};
use crate::protocol::WorkerMessage;
use crate::provider::diagnosis::{DiagnoseContext, Diagnosis, ProbeReport};
use crate::provider::options::check_option;
use crate::provider::{BACKENDS, Provider, ProviderRequest, ProviderSetup};
use crate::results::ProviderStatus;
use crate::runtime::RuntimeLibrary;
use crate::supervise::{self, Flow};

/// A provider's options: models.yaml's, then the command-line flags over them.
pub(crate) fn setup_for(provider: Provider, settings: &ProviderSettings, flags: &ProviderFlags) -> Result<ProviderSetup> {
    let cpu = CpuOptions {
        arena: flags.cpu_arena.unwrap_or(settings.cpu.arena),
        intra_threads: flags.intra_threads.or(settings.cpu.intra_threads),
    };
    let mut setup = ProviderSetup::new(provider);
    setup.cpu = cpu;
    setup.options = settings.options_of(provider);
    flags.apply_to(&mut setup)?;
    Ok(setup)
}

/// A provider's diagnosis with the run's runtime and the probe worker.
pub(crate) fn diagnose(runtime: &RuntimeLibrary, setup: &mut ProviderSetup, flags: &ProviderFlags, with_session: bool) -> Diagnosis {
    let roots = crate::runtime::search_roots(None);
    let ep_lib = flags.ep_lib_for(setup.provider);
    let probe = |s: &ProviderSetup| probe_in_worker(runtime, s);
    let ctx = DiagnoseContext { runtime, roots: &roots, ep_lib: ep_lib.as_deref(), with_session, probe: &probe };
    setup.provider.backend().diagnose(&ctx, setup)
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
        ProviderRequest::Auto => BACKENDS.iter().filter(|b| b.in_auto()).map(|b| Provider::named(b.name())).collect(),
        ProviderRequest::Explicit(list) => list.clone(),
    };
    let mut setups = Vec::new();
    let mut statuses = Vec::new();
    for provider in wanted {
        let mut setup = setup_for(provider, settings, flags)?;
        let diagnosis = diagnose(runtime, &mut setup, flags, true);
        let notes = (!diagnosis.notes.is_empty()).then(|| diagnosis.notes.join("; "));
        match diagnosis.blocker {
            None => {
                statuses.push(ProviderStatus { provider, ran: true, skipped_because: None, libraries: notes, gpu: None });
                setups.push(setup);
            }
            Some(why) if matches!(request, ProviderRequest::Auto) => {
                statuses.push(ProviderStatus { provider, ran: false, skipped_because: Some(why), libraries: None, gpu: None });
            }
            Some(why) => bail!("--provider {provider} cannot run here: {why}. `mora doctor` lists every check"),
        }
    }
    Ok((setups, statuses))
}

/// Registers, lists devices and creates a session with the warm-up model in a throwaway worker.
pub(crate) fn probe_in_worker(runtime: &RuntimeLibrary, setup: &ProviderSetup) -> ProbeReport {
    let Ok(json) = serde_json::to_string(setup) else { return ProbeReport::failed("the setup could not be written".into()) };
    let args = vec!["--probe-provider".to_string(), json, "--ort-lib".into(), runtime.path.display().to_string()];
    let mut report = ProbeReport::failed("the probe worker did not answer".into());
    let mut worker = match supervise::spawn(&args, &[]) {
        Ok(w) => w,
        Err(e) => return ProbeReport::failed(format!("the probe worker did not start: {e:#}")),
    };
    worker.supervise(Instant::now() + Duration::from_secs(300), |_, message| match message {
        WorkerMessage::ProviderProbe { report: r } => {
            report = *r;
            Flow::Stop
        }
        _ => Flow::Continue,
    });
    let (exit, tail) = worker.reap();
    if let (Err(e), Some(sig)) = (&report.session, exit.signal()) {
        report.session = Err(format!("{e} (the probe worker died of {}: {tail})", supervise::signal_name(sig)));
    }
    report
}

/// `--ep-lib NAME=PATH`, split.
pub(crate) fn parse_ep_lib(s: &str) -> Result<(Provider, PathBuf)> {
    let Some((name, path)) = s.split_once('=') else {
        bail!("--ep-lib {s:?}: write it as NAME=PATH, e.g. openvino=/opt/ov/libonnxruntime_providers_openvino_plugin.so")
    };
    if name.trim().is_empty() || path.trim().is_empty() {
        bail!("--ep-lib {s:?}: the name and the path must not be empty");
    }
    Ok((Provider::named(name), PathBuf::from(path.trim())))
}

impl ProviderFlags {
    /// The library `--ep-lib` gives for `provider`.
    pub(crate) fn ep_lib_for(&self, provider: Provider) -> Option<PathBuf> {
        self.ep_lib.iter().filter_map(|s| parse_ep_lib(s).ok()).find(|(p, _)| *p == provider).map(|(_, path)| path)
    }

    /// The providers `--ep-lib` names, which `--provider` then accepts even where mora does not know them.
    pub(crate) fn ep_lib_providers(&self) -> Result<Vec<Provider>> {
        self.ep_lib.iter().map(|s| parse_ep_lib(s).map(|(p, _)| p)).collect()
    }

    /// The typed CUDA flags and `--ep-option PROVIDER.KEY=VALUE`, over models.yaml's options.
    pub(crate) fn apply_to(&self, setup: &mut ProviderSetup) -> Result<()> {
        let backend = setup.provider.backend();
        if backend.options().iter().any(|o| o.key == "device_id") {
            if let Some(id) = self.device_id {
                setup.options.insert("device_id".into(), id.to_string());
            }
        }
        if setup.provider.memory().uses_nvml() && backend.options().iter().any(|o| o.key == "gpu_mem_limit") {
            if let Some(mb) = self.gpu_mem_limit_mb {
                crate::provider::cuda::set_mem_limit_mb(&mut setup.options, mb);
            }
            if let Some(s) = self.arena_strategy {
                crate::provider::cuda::set_arena(&mut setup.options, s);
            }
            if let Some(s) = self.cudnn_conv_algo_search {
                crate::provider::cuda::set_conv_search(&mut setup.options, s);
            }
        }
        for flag in &self.ep_option {
            let (name, key, value) = crate::provider::options::parse_flag(flag)?;
            if Provider::named(&name) != setup.provider {
                continue;
            }
            let value = check_option(setup.provider.name(), backend.options(), setup.provider.is_known(), &key, &value)
                .map_err(|e| anyhow::anyhow!("--ep-option {flag}: {e}"))?;
            setup.options.insert(key, value);
        }
        Ok(())
    }

    /// `--ep-option`s that name a provider mora does not know and no `--ep-lib` gives: a typo.
    pub(crate) fn check_names(&self) -> Result<()> {
        let extra = self.ep_lib_providers()?;
        for flag in &self.ep_option {
            let (name, _, _) = crate::provider::options::parse_flag(flag)?;
            let p = Provider::named(&name);
            if !p.is_known() && !extra.contains(&p) {
                bail!("--ep-option {flag}: unknown provider `{name}`: use one of {}", crate::provider::known_names());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    const YAML: &str = "schema: 1
providers:
  cpu: {arena: false, intra_threads: 2}
  cuda: {device_id: 1, gpu_mem_limit_mb: 4096, arena_extend_strategy: same-as-requested}
  openvino: {device_type: CPU, cache_dir: /tmp/ov-cache}
models:
  - {id: m, type: vision, weights: real, path: m.onnx, source: {kind: local}}
";

    #[test]
    fn provider_options_come_from_models_yaml() {
        let config = Config::parse(YAML, Path::new("models.yaml")).unwrap();
        let cuda = setup_for(Provider::named("cuda"), &config.providers, &ProviderFlags::default()).unwrap();
        assert_eq!(cuda.options["device_id"], "1");
        assert_eq!(cuda.options["gpu_mem_limit"], (4096u64 << 20).to_string());
        assert_eq!(cuda.options["arena_extend_strategy"], "kSameAsRequested");
        assert!(!cuda.cpu.arena);
        assert_eq!(cuda.cpu.intra_threads, Some(2));
        let ov = setup_for(Provider::named("openvino"), &config.providers, &ProviderFlags::default()).unwrap();
        assert_eq!((ov.options["device_type"].as_str(), ov.options["cache_dir"].as_str()), ("CPU", "/tmp/ov-cache"));
        assert!(!ov.cpu.arena, "the CPU options hold for every provider's fallback");
    }

    #[test]
    fn flags_override_models_yaml() {
        let config = Config::parse(YAML, Path::new("models.yaml")).unwrap();
        let flags = ProviderFlags {
            device_id: Some(0),
            gpu_mem_limit_mb: Some(512),
            cpu_arena: Some(true),
            ep_option: vec!["openvino.cache_dir=/var/cache/ov".into(), "openvino.num_of_threads=2".into()],
            ..Default::default()
        };
        let cuda = setup_for(Provider::named("cuda"), &config.providers, &flags).unwrap();
        assert_eq!((cuda.options["device_id"].as_str(), cuda.cpu.arena), ("0", true));
        assert_eq!(cuda.options["gpu_mem_limit"], (512u64 << 20).to_string());
        assert_eq!(cuda.options["arena_extend_strategy"], "kSameAsRequested", "unflagged options stay");
        let ov = setup_for(Provider::named("openvino"), &config.providers, &flags).unwrap();
        assert_eq!((ov.options["cache_dir"].as_str(), ov.options["num_of_threads"].as_str()), ("/var/cache/ov", "2"));
        assert!(!ov.options.contains_key("gpu_mem_limit"), "CUDA's flags stay CUDA's");
        let bad = ProviderFlags { ep_option: vec!["openvino.cache=/x".into()], ..Default::default() };
        let e = setup_for(Provider::named("openvino"), &config.providers, &bad).unwrap_err().to_string();
        assert!(e.contains("--ep-option openvino.cache=/x") && e.contains("has no option `cache`"), "{e}");
        let typo = ProviderFlags { ep_option: vec!["openvno.cache_dir=/x".into()], ..Default::default() };
        assert!(typo.check_names().unwrap_err().to_string().contains("unknown provider `openvno`"));
    }

    #[test]
    fn ep_lib_names_a_library_for_a_provider_mora_may_not_know() {
        let flags = ProviderFlags { ep_lib: vec!["my-npu=/opt/npu/libnpu_ep.so".into()], ..Default::default() };
        let mine = Provider::named("my-npu");
        assert_eq!(flags.ep_lib_providers().unwrap(), [mine]);
        assert_eq!(flags.ep_lib_for(mine), Some(PathBuf::from("/opt/npu/libnpu_ep.so")));
        assert!(parse_ep_lib("no-path").is_err());
    }

    #[test]
    fn an_unknown_provider_option_is_a_config_error() {
        let e = Config::parse(&YAML.replace("device_id: 1", "device: 1"), Path::new("models.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `device`"), "{e:#}");
        let e = Config::parse(&YAML.replace("cache_dir:", "cache:"), Path::new("models.yaml")).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("5:") && e.contains("has no option `cache`"), "{e}");
        let e = Config::parse(&YAML.replace("openvino:", "openvno:"), Path::new("models.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("unknown provider `openvno`"), "{e:#}");
    }
}
