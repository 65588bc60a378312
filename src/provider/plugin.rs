//! Providers that are not compiled into the runtime mora loads: plugin libraries shipped in Python
//! wheels (ONNX Runtime 1.22+ registers them with `RegisterExecutionProviderLibrary` and lists their
//! devices with `GetEpDevices`), and whole runtime builds of their own. Finding them in the project's
//! `.venv`, reading their version, and, in the worker, registering and appending them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ort::session::builder::SessionBuilder;
use serde::{Deserialize, Serialize};

use super::setup::{ProviderSetup, unbuilt};

/// A plugin provider's wheel and the library in it.
#[derive(Debug, PartialEq, Eq)]
pub struct PluginSpec {
    /// The PyPI package (pinned in scripts/requirements-providers.txt).
    pub package: &'static str,
    /// Its folder in site-packages.
    pub folder: &'static str,
    /// The library file in that folder.
    pub library: &'static str,
    /// How to install it.
    pub install: &'static str,
}

/// A runtime build with the provider compiled in, installed into a folder of its own.
#[derive(Debug, PartialEq, Eq)]
pub struct RuntimeSpec {
    /// The PyPI package (pinned in scripts/requirements-*.txt).
    pub package: &'static str,
    /// Its folder under the project's `.venv` (`pip install --target`).
    pub target: &'static str,
    /// How to install it.
    pub install: &'static str,
}

/// A library found for a provider, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FoundLibrary {
    pub path: PathBuf,
    /// The wheel's version from its dist-info, where it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `--ep-lib`, or the wheel it was found in.
    pub found_by: String,
}

/// The site-packages folders of the project's `.venv` under each root.
fn site_packages(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in roots {
        let lib = root.join(".venv/lib");
        let Ok(entries) = std::fs::read_dir(&lib) else { continue };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("python3") {
                let sp = e.path().join("site-packages");
                if sp.is_dir() && !out.contains(&sp) {
                    out.push(sp);
                }
            }
        }
    }
    out
}

/// The version a wheel installed into `site_packages` declares (`<package>-<version>.dist-info`).
pub(crate) fn wheel_version(site_packages: &Path, package: &str) -> Option<String> {
    let prefix = format!("{}-", package.replace('-', "_"));
    std::fs::read_dir(site_packages).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let rest = name.strip_prefix(&prefix)?.strip_suffix(".dist-info")?;
        Some(rest.to_string())
    })
}

impl PluginSpec {
    /// The plugin's library in the first `.venv` that has the wheel, or what was looked for.
    pub fn locate(&self, roots: &[PathBuf]) -> Result<FoundLibrary, String> {
        let sps = site_packages(roots);
        for sp in &sps {
            let path = sp.join(self.folder).join(self.library);
            if path.is_file() {
                return Ok(FoundLibrary {
                    path,
                    version: wheel_version(sp, self.package),
                    found_by: format!("the {} wheel", self.package),
                });
            }
        }
        Err(format!(
            "{} is not installed ({} not found in {}): {}",
            self.package,
            self.library,
            if sps.is_empty() {
                "any .venv".to_string()
            } else {
                sps.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            },
            self.install
        ))
    }
}

impl RuntimeSpec {
    /// The runtime library of this build under the first root that has it.
    pub fn locate(&self, roots: &[PathBuf]) -> Result<FoundLibrary, String> {
        for root in roots {
            let target = root.join(".venv").join(self.target);
            let capi = target.join("onnxruntime/capi");
            let Ok(entries) = std::fs::read_dir(&capi) else { continue };
            let mut libs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so.")))
                .collect();
            libs.sort();
            if let Some(path) = libs.pop() {
                return Ok(FoundLibrary {
                    path,
                    version: wheel_version(&target, self.package),
                    found_by: format!("the {} wheel", self.package),
                });
            }
        }
        Err(format!(
            "{} is not installed (no onnxruntime/capi/libonnxruntime.so.* under .venv/{}): {}",
            self.package, self.target, self.install
        ))
    }
}

/// The devices a provider offers on this machine, as ONNX Runtime lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OfferedDevice {
    /// CPU, GPU or NPU.
    pub kind: String,
    /// The hardware's vendor.
    pub vendor: String,
    pub device_id: u32,
}

/// Registers a plugin library in the worker's environment under the provider's name.
pub(crate) fn register(env: &ort::environment::Environment, setup: &ProviderSetup) -> Result<()> {
    if let Some(lib) = &setup.plugin {
        env.register_ep_library(setup.provider.name(), &lib.path)
            .with_context(|| format!("ONNX Runtime could not register {} as the {} provider", lib.path.display(), setup.provider))?;
    }
    Ok(())
}

/// The devices `ort_name` offers in `env`.
pub(crate) fn offered(env: &ort::environment::Environment, ort_name: &str) -> Vec<OfferedDevice> {
    env.devices()
        .filter(|d| d.ep().is_ok_and(|n| n == ort_name))
        .map(|d| {
            let hw = d.hardware_device();
            OfferedDevice { kind: format!("{:?}", hw.ty()), vendor: hw.vendor().unwrap_or("?").to_string(), device_id: hw.id() }
        })
        .collect()
}

/// Appends a plugin provider through the device API: its devices of the kind `device_type` asks for
/// (every device it offers when the option is absent), with the rest of its options. CPU stays the
/// fallback, as ONNX Runtime keeps it for every session.
pub(crate) fn append_devices(
    builder: SessionBuilder,
    ort_name: &str,
    setup: &ProviderSetup,
    env: &ort::environment::Environment,
) -> Result<SessionBuilder> {
    let wanted = setup.options.get("device_type").map(|t| t.split('.').next().unwrap_or(t).to_ascii_uppercase());
    let devices: Vec<_> = env
        .devices()
        .filter(|d| d.ep().is_ok_and(|n| n == ort_name))
        .filter(|d| wanted.as_deref().is_none_or(|w| format!("{:?}", d.hardware_device().ty()).eq_ignore_ascii_case(w)))
        .collect();
    if devices.is_empty() {
        let offered = offered(env, ort_name);
        bail!(
            "the {} provider offers no {}device here (it offers {})",
            setup.provider,
            wanted.map(|w| format!("{w} ")).unwrap_or_default(),
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.iter().map(|d| format!("{} {}", d.vendor, d.kind)).collect::<Vec<_>>().join(", ")
            }
        );
    }
    // `device_type` chose the devices above; the plugin takes the rest under its own name.
    let options: Vec<(String, String)> =
        setup.options.iter().filter(|(k, _)| *k != "device_type").map(|(k, v)| (format!("{ort_name}.{k}"), v.clone())).collect();
    builder
        .with_devices(devices, Some(&options))
        .map_err(unbuilt)
        .with_context(|| format!("the {} provider did not take its devices", setup.provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: PluginSpec = PluginSpec {
        package: "onnxruntime-ep-test",
        folder: "onnxruntime_ep_test",
        library: "libtest_plugin.so",
        install: "run scripts/setup.sh",
    };

    #[test]
    fn a_plugin_is_found_in_its_wheel_with_the_wheels_version() {
        let dir = tempfile::tempdir().unwrap();
        let e = SPEC.locate(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(e.contains("onnxruntime-ep-test is not installed") && e.contains("run scripts/setup.sh"), "{e}");
        let sp = dir.path().join(".venv/lib/python3.11/site-packages");
        std::fs::create_dir_all(sp.join("onnxruntime_ep_test")).unwrap();
        std::fs::create_dir_all(sp.join("onnxruntime_ep_test-1.2.3.dist-info")).unwrap();
        std::fs::write(sp.join("onnxruntime_ep_test/libtest_plugin.so"), b"").unwrap();
        let found = SPEC.locate(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(found.path, sp.join("onnxruntime_ep_test/libtest_plugin.so"));
        assert_eq!(found.version.as_deref(), Some("1.2.3"));
    }

    #[test]
    fn an_own_runtime_is_found_in_its_target_folder() {
        let spec = RuntimeSpec { package: "onnxruntime-test", target: "providers/test", install: "x" };
        let dir = tempfile::tempdir().unwrap();
        assert!(spec.locate(&[dir.path().to_path_buf()]).is_err());
        let capi = dir.path().join(".venv/providers/test/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::create_dir_all(dir.path().join(".venv/providers/test/onnxruntime_test-1.24.1.dist-info")).unwrap();
        std::fs::write(capi.join("libonnxruntime.so.1.24.1"), b"").unwrap();
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        let found = spec.locate(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(found.path, capi.join("libonnxruntime.so.1.24.1"));
        assert_eq!(found.version.as_deref(), Some("1.24.1"));
    }
}
