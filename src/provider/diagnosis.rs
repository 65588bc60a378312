//! Can a provider run here, and if not, which piece stops it: the checks `mora doctor` lists and
//! `--provider auto` decides on. Most providers are diagnosed by [`standard`]: find the library each
//! source names, then let a throwaway worker register it, list its devices and create a session with
//! the warm-up model, so a crash or a hang of a provider never lands in mora's own process.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::placement::NodePlacement;
use super::plugin::{FoundLibrary, OfferedDevice};
use super::setup::ProviderSetup;
use super::{Backend, Source};
use crate::runtime::{FoundBy, RuntimeLibrary};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    /// This stops the provider.
    Failed(String),
    /// Not needed, or not tried, and why.
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub outcome: Outcome,
}

impl Check {
    pub fn ok(what: &str, detail: String) -> Check {
        Check { what: what.into(), outcome: Outcome::Ok(detail) }
    }
    pub fn failed(what: &str, detail: String) -> Check {
        Check { what: what.into(), outcome: Outcome::Failed(detail) }
    }
    pub fn skipped(what: &str, detail: String) -> Check {
        Check { what: what.into(), outcome: Outcome::Skipped(detail) }
    }
    pub fn failed_here(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
    pub fn detail(&self) -> &str {
        match &self.outcome {
            Outcome::Ok(d) | Outcome::Failed(d) | Outcome::Skipped(d) => d,
        }
    }
}

/// A provider's checks, and the first piece that stops it (with the fix) or `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    pub checks: Vec<Check>,
    pub blocker: Option<String>,
    /// What a run should say about it: the library used, the GPU the probes read.
    pub notes: Vec<String>,
    /// Whether a real session was tried (doctor's `--no-cuda-session` skips it).
    pub session_checked: bool,
}

impl Diagnosis {
    /// The blocker is the first failed check.
    pub fn from_checks(checks: Vec<Check>) -> Diagnosis {
        let blocker = first_failure(&checks);
        Diagnosis { checks, blocker, notes: vec![], session_checked: false }
    }
}

/// "what: detail" of the first check that failed.
fn first_failure(checks: &[Check]) -> Option<String> {
    checks.iter().find(|c| c.failed_here()).map(|c| format!("{}: {}", c.what, c.detail()))
}

/// What the probe worker found: registration, devices and a session with the warm-up model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub runtime_version: String,
    /// For a plugin: whether ONNX Runtime registered its library.
    #[serde(default)]
    pub registered: Option<Result<(), String>>,
    /// For a plugin: the devices it offers.
    #[serde(default)]
    pub devices: Option<Vec<OfferedDevice>>,
    /// The session, with where its nodes went (where the runtime records it), or ONNX Runtime's error.
    pub session: Result<Option<NodePlacement>, String>,
}

impl ProbeReport {
    /// A probe that could not run at all (the worker did not start, died or did not answer).
    pub fn failed(why: String) -> ProbeReport {
        ProbeReport { runtime_version: String::new(), registered: None, devices: None, session: Err(why) }
    }
}

/// What a diagnosis may use: the run's runtime, where to look for libraries, and the probe worker.
pub struct DiagnoseContext<'a> {
    pub runtime: &'a RuntimeLibrary,
    /// Folders whose `.venv` may hold provider wheels.
    pub roots: &'a [PathBuf],
    /// `--ep-lib` for this provider.
    pub ep_lib: Option<&'a Path>,
    /// Create a real session (in a throwaway worker); `mora doctor --no-cuda-session` says no.
    pub with_session: bool,
    /// Runs the probe worker for a setup (a closure, so tests need no worker).
    pub probe: &'a dyn Fn(&ProviderSetup) -> ProbeReport,
}

/// Each of the backend's sources in turn: find its library, then probe it; the first that works is
/// the setup's. The blocker, when none works, names each source's failure.
pub fn standard(backend: &dyn Backend, ctx: &DiagnoseContext, setup: &mut ProviderSetup) -> Diagnosis {
    let mut failures = Vec::new();
    let mut checks = Vec::new();
    for source in backend.sources() {
        let mut attempt = setup.clone();
        attempt.plugin = None;
        attempt.runtime = None;
        let mut d = Diagnosis::default();
        let label = match source {
            Source::BuiltIn => {
                let has = ctx.runtime.has_provider(backend.ort_name());
                let what = format!("{} in the runtime build", backend.ort_name());
                d.checks.push(if has {
                    Check::ok(&what, format!("ONNX Runtime {}", ctx.runtime.version))
                } else {
                    Check::failed(&what, format!("no: {} ({}) does not have it", ctx.runtime.path.display(), ctx.runtime.version))
                });
                "built in".to_string()
            }
            Source::Plugin(spec) => {
                let found = match ctx.ep_lib {
                    Some(path) if path.is_file() => {
                        Ok(FoundLibrary { path: path.to_path_buf(), version: None, found_by: "--ep-lib".into() })
                    }
                    Some(path) => Err(format!("--ep-lib {}: no such file", path.display())),
                    None => spec.locate(ctx.roots),
                };
                match found {
                    Ok(lib) => {
                        d.checks.push(Check::ok("plugin library", describe_library(&lib)));
                        attempt.plugin = Some(lib);
                    }
                    Err(why) => d.checks.push(Check::failed("plugin library", why)),
                }
                format!("plugin {}", spec.package)
            }
            Source::OwnRuntime(spec) => {
                match spec.locate(ctx.roots).and_then(|lib| {
                    RuntimeLibrary::inspect(&lib.path, FoundBy::ProviderBuild).map_err(|e| format!("{e:#}")).map(|r| (lib, r))
                }) {
                    Ok((lib, runtime)) => {
                        d.checks.push(Check::ok("runtime build", describe_library(&lib)));
                        if !runtime.has_provider(backend.ort_name()) {
                            d.checks
                                .push(Check::failed("runtime build", format!("{} lacks {}", runtime.path.display(), backend.ort_name())));
                        }
                        attempt.runtime = Some(runtime);
                    }
                    Err(why) => d.checks.push(Check::failed("runtime build", why)),
                }
                format!("runtime build {}", spec.package)
            }
        };
        let found = !d.checks.iter().any(Check::failed_here);
        if found && ctx.with_session {
            session_probe(backend, ctx, &attempt, &mut d);
        }
        let failed = first_failure(&d.checks);
        for c in &mut d.checks {
            c.what = format!("[{label}] {}", c.what);
        }
        checks.extend(d.checks);
        match failed {
            None => {
                *setup = attempt;
                let mut diagnosis = Diagnosis { checks, blocker: None, notes: d.notes, session_checked: ctx.with_session };
                diagnosis.notes.insert(0, format!("from the {label}"));
                for f in failures {
                    diagnosis.notes.push(format!("not used: {f}"));
                }
                return diagnosis;
            }
            Some(why) => failures.push(format!("{label}: {why}")),
        }
    }
    Diagnosis { checks, blocker: Some(failures.join("; ")), notes: vec![], session_checked: ctx.with_session }
}

/// Probes `setup` in a worker and adds its findings to `d`: registration, devices, the session and
/// where its nodes went.
pub fn session_probe(backend: &dyn Backend, ctx: &DiagnoseContext, setup: &ProviderSetup, d: &mut Diagnosis) {
    let report = (ctx.probe)(setup);
    d.session_checked = true;
    if let Some(registered) = &report.registered {
        d.checks.push(match registered {
            Ok(()) => Check::ok("registered", format!("with ONNX Runtime {}", report.runtime_version)),
            Err(e) => Check::failed("registered", e.clone()),
        });
        if registered.is_err() {
            return;
        }
    }
    if let Some(devices) = &report.devices {
        if devices.is_empty() {
            let hint = backend.no_device_hint().map(|h| format!(" ({h})")).unwrap_or_default();
            d.checks.push(Check::failed("devices", format!("it offers no device on this machine{hint}")));
            return;
        }
        let list: Vec<String> = devices.iter().map(|x| format!("{} {} {}", x.vendor, x.kind, x.device_id)).collect();
        d.checks.push(Check::ok("devices", list.join(", ")));
    }
    match &report.session {
        Ok(placement) => {
            let nodes = placement.as_ref().map(|p| format!(": {}", p.describe(backend.ort_name()))).unwrap_or_default();
            d.checks.push(Check::ok("session with the warm-up model", format!("created{nodes}")));
            if let Some(p) = placement.as_ref().filter(|p| p.total() > 0 && p.on(backend.ort_name()) == 0) {
                d.checks.push(Check::failed(
                    "placement",
                    format!("no node of the warm-up model ran on it ({})", p.describe(backend.ort_name())),
                ));
            }
        }
        Err(e) => d.checks.push(Check::failed("session with the warm-up model", e.clone())),
    }
}

fn describe_library(lib: &FoundLibrary) -> String {
    let version = lib.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default();
    format!("{} (from {}{version})", lib.path.display(), lib.found_by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Provider;

    fn runtime(dir: &Path) -> RuntimeLibrary {
        RuntimeLibrary {
            path: dir.join("libonnxruntime.so.1.31.1"),
            version: "1.31.1".into(),
            found_by: FoundBy::Flag,
            providers: vec!["CPUExecutionProvider".into()],
        }
    }

    fn install_plugin(root: &Path) {
        let sp = root.join(".venv/lib/python3.11/site-packages");
        std::fs::create_dir_all(sp.join("onnxruntime_ep_webgpu")).unwrap();
        std::fs::create_dir_all(sp.join("onnxruntime_ep_webgpu-0.4.0.dist-info")).unwrap();
        std::fs::write(sp.join("onnxruntime_ep_webgpu/libonnxruntime_providers_webgpu.so"), b"").unwrap();
    }

    #[test]
    fn a_missing_wheel_is_named_with_its_install_command_and_nothing_is_probed() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(dir.path());
        let roots = [dir.path().to_path_buf()];
        let probe = |_: &ProviderSetup| -> ProbeReport { panic!("nothing to probe without a library") };
        let ctx = DiagnoseContext { runtime: &rt, roots: &roots, ep_lib: None, with_session: true, probe: &probe };
        let webgpu = Provider::named("webgpu");
        let mut setup = ProviderSetup::new(webgpu);
        let d = webgpu.backend().diagnose(&ctx, &mut setup);
        let why = d.blocker.unwrap();
        assert!(why.contains("onnxruntime-ep-webgpu is not installed") && why.contains("scripts/setup.sh"), "{why}");
    }

    #[test]
    fn a_plugin_that_offers_no_device_is_skipped_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        install_plugin(dir.path());
        let rt = runtime(dir.path());
        let roots = [dir.path().to_path_buf()];
        let probe = |s: &ProviderSetup| {
            assert!(s.plugin.as_ref().is_some_and(|p| p.version.as_deref() == Some("0.4.0")), "the probe gets the library found");
            ProbeReport {
                runtime_version: "1.31.1".into(),
                registered: Some(Ok(())),
                devices: Some(vec![]),
                session: Err("not tried".into()),
            }
        };
        let ctx = DiagnoseContext { runtime: &rt, roots: &roots, ep_lib: None, with_session: true, probe: &probe };
        let webgpu = Provider::named("webgpu");
        let mut setup = ProviderSetup::new(webgpu);
        let d = webgpu.backend().diagnose(&ctx, &mut setup);
        assert!(d.blocker.as_deref().is_some_and(|b| b.contains("offers no device")), "{d:?}");
        assert!(setup.plugin.is_none(), "a setup that cannot run keeps no library");
    }

    #[test]
    fn a_working_plugin_says_where_its_nodes_went() {
        let dir = tempfile::tempdir().unwrap();
        install_plugin(dir.path());
        let rt = runtime(dir.path());
        let roots = [dir.path().to_path_buf()];
        let probe = |_: &ProviderSetup| ProbeReport {
            runtime_version: "1.31.1".into(),
            registered: Some(Ok(())),
            devices: Some(vec![OfferedDevice { kind: "GPU".into(), vendor: "AMD".into(), device_id: 0 }]),
            session: Ok(Some(NodePlacement { nodes: [("WebGpuExecutionProvider".to_string(), 2)].into() })),
        };
        let ctx = DiagnoseContext { runtime: &rt, roots: &roots, ep_lib: None, with_session: true, probe: &probe };
        let webgpu = Provider::named("webgpu");
        let mut setup = ProviderSetup::new(webgpu);
        let d = webgpu.backend().diagnose(&ctx, &mut setup);
        assert_eq!(d.blocker, None, "{d:?}");
        assert!(d.checks.iter().any(|c| c.detail().contains("2 of 2 nodes on WebGpuExecutionProvider")), "{d:?}");
        assert!(setup.plugin.is_some());
    }
}
