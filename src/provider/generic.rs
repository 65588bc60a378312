//! A provider mora has no backend for: a plugin named with `--ep-lib NAME=PATH`, or a name read from a
//! run a newer mora wrote. Its figures are read and shown, labelled as host RAM with the device's
//! memory said to be unmeasured, so nothing passes for a figure it is not.

use anyhow::{Context, Result, bail};
use ort::session::builder::SessionBuilder;

use super::diagnosis::{self, DiagnoseContext, Diagnosis};
use super::memory::DeviceProbe;
use super::setup::{ProviderSetup, unbuilt};
use super::{Backend, MemoryKind, Source, options::Options};

pub(super) struct Generic;
pub(super) static GENERIC: Generic = Generic;

/// A generic plugin comes only from the path `--ep-lib` gives.
static SOURCES: &[Source] = &[Source::Plugin(&super::plugin::PluginSpec {
    package: "(your plugin)",
    folder: "",
    library: "",
    install: "pass --ep-lib NAME=PATH to the plugin's library",
})];

impl Backend for Generic {
    fn name(&self) -> &'static str {
        "(unknown)"
    }
    fn ort_name(&self) -> &'static str {
        "UnknownExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "a provider mora has no backend for: a plugin library given with --ep-lib"
    }
    fn sources(&self) -> &'static [Source] {
        SOURCES
    }
    fn memory(&self, _: &Options) -> MemoryKind {
        MemoryKind::Device {
            name: "the provider's device memory",
            short: "device",
            probe: DeviceProbe::None { why: "mora has no backend for this provider, so no probe for its device" },
        }
    }
    fn in_auto(&self) -> bool {
        false
    }
    fn diagnose(&self, ctx: &DiagnoseContext, setup: &mut ProviderSetup) -> Diagnosis {
        diagnosis::standard(self, ctx, setup)
    }
    /// The devices its library added: every device whose provider is not one the runtime had before.
    fn append(&self, builder: SessionBuilder, setup: &ProviderSetup, env: &ort::environment::Environment) -> Result<SessionBuilder> {
        let builtin: Vec<&str> = super::BACKENDS.iter().map(|b| b.ort_name()).collect();
        let devices: Vec<_> = env.devices().filter(|d| d.ep().is_ok_and(|n| !builtin.contains(&n))).collect();
        if devices.is_empty() {
            bail!("the {} plugin offers no device here", setup.provider);
        }
        let names: Vec<String> = devices.iter().filter_map(|d| d.ep().ok()).map(str::to_string).collect();
        let options: Vec<(String, String)> =
            names.iter().flat_map(|n| setup.options.iter().map(move |(k, v)| (format!("{n}.{k}"), v.clone()))).collect();
        builder
            .with_devices(devices, Some(&options))
            .map_err(unbuilt)
            .with_context(|| format!("the {} plugin did not take its devices", setup.provider))
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}
