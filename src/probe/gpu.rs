//! GPU memory through NVML, initialised once per process. Where NVML or a GPU is absent every figure
//! is `None` and the reason is kept for `mora doctor`.

use std::sync::OnceLock;

use anyhow::Context;
use nvml_wrapper::Nvml;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::mib;

static NVML: OnceLock<Result<Nvml, NvmlError>> = OnceLock::new();

/// Why this process has no NVML (no driver, no libnvidia-ml, no permission): the error of its one
/// attempt to initialise it.
#[derive(Debug, thiserror::Error)]
#[error("NVML unavailable: {0}")]
pub(crate) struct NvmlUnavailable(&'static NvmlError);

/// The NVML handle, or why there is none.
pub(crate) fn nvml() -> Result<&'static Nvml, NvmlUnavailable> {
    NVML.get_or_init(Nvml::init).as_ref().map_err(NvmlUnavailable)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GpuInfo {
    pub index: u32,
    pub name: String,
    pub uuid: Option<String>,
    pub driver_version: Option<String>,
    /// CUDA version the driver supports, e.g. "13.0".
    pub driver_cuda_version: Option<String>,
    pub memory_total_mb: Option<f64>,
}

/// Every GPU NVML sees; empty where there is none.
pub(crate) fn gpus() -> Vec<GpuInfo> {
    let Ok(nvml) = nvml() else { return vec![] };
    let count = nvml.device_count().unwrap_or(0);
    let driver = nvml.sys_driver_version().ok();
    let cuda = nvml.sys_cuda_driver_version().ok().map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10));
    (0..count)
        .filter_map(|index| {
            let device = nvml.device_by_index(index).ok()?;
            Some(GpuInfo {
                index,
                name: device.name().unwrap_or_else(|_| "unknown NVIDIA GPU".into()),
                uuid: device.uuid().ok(),
                driver_version: driver.clone(),
                driver_cuda_version: cuda.clone(),
                memory_total_mb: device.memory_info().ok().map(|m| mib(m.total)),
            })
        })
        .collect()
}

/// GPU memory at one instant, in MB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GpuMemory {
    /// This process's own use, as NVML lists it among the device's compute processes. `None` where
    /// the process is not visible (containers with their own PID namespace): use the device delta.
    pub process_mb: Option<f64>,
    /// The device's used memory, all processes together.
    pub device_used_mb: Option<f64>,
}

/// GPU memory of process `pid` on device `index`; `None` without NVML or without that device.
pub(crate) fn memory(index: u32, pid: u32) -> Option<GpuMemory> {
    let nvml = nvml().ok()?;
    let device = nvml.device_by_index(index).ok()?;
    let device_used_mb = device.memory_info().ok().map(|m| mib(m.used));
    let process_mb = device.running_compute_processes().ok().and_then(|procs| {
        procs.iter().find(|p| p.pid == pid).and_then(|p| match p.used_gpu_memory {
            UsedGpuMemory::Used(bytes) => Some(mib(bytes)),
            UsedGpuMemory::Unavailable => None,
        })
    });
    Some(GpuMemory { process_mb, device_used_mb })
}

/// NVML's index of the GPU at this PCI bus id ("0000:3B:00.0", as the CUDA driver writes it).
pub(crate) fn index_by_pci_bus_id(bus_id: &str) -> anyhow::Result<u32> {
    let device = nvml()?.device_by_pci_bus_id(bus_id).with_context(|| format!("NVML has no GPU at PCI {bus_id}"))?;
    device.index().with_context(|| format!("NVML cannot number the GPU at PCI {bus_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_nvml_gives_none_not_a_panic() {
        // On a machine without a driver this is the path taken; with one, the figures are real.
        match nvml() {
            Err(reason) => {
                assert!(reason.to_string().starts_with("NVML unavailable"), "{reason}");
                assert!(gpus().is_empty());
                assert_eq!(memory(0, std::process::id()), None);
            }
            Ok(_) => {
                for gpu in gpus() {
                    assert!(gpu.memory_total_mb.is_some_and(|m| m > 0.0), "{gpu:?}");
                }
            }
        }
    }
}
