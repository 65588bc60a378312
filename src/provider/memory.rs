//! Which memory a provider's figures are in: the host's RAM, a device memory mora reads (NVML for an
//! NVIDIA GPU), or a device memory no probe can read, said as such.

/// How a device's memory is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceProbe {
    /// NVIDIA's management library: per process and per device.
    Nvml,
    /// No probe: the figures mora shows are the host process's, and why the device's are missing.
    None { why: &'static str },
}

/// Where a model's weights and activations live on a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Host RAM only: RSS is the footprint.
    Host,
    /// A device's own memory (`name`: "GPU memory"), with the short label tables use ("VRAM").
    Device { name: &'static str, short: &'static str, probe: DeviceProbe },
}

impl MemoryKind {
    /// Whether the footprint is read from the device (else RSS is the figure).
    pub fn device_measured(self) -> bool {
        matches!(self, MemoryKind::Device { probe: DeviceProbe::Nvml, .. })
    }

    /// Whether the probes watch an NVIDIA GPU for this provider.
    pub fn uses_nvml(self) -> bool {
        self.device_measured()
    }

    /// The label of the memory figures recommendations and budgets rest on: "VRAM" where the device is
    /// read, "RAM" otherwise.
    pub fn budget_label(self) -> &'static str {
        match self {
            MemoryKind::Device { short, probe: DeviceProbe::Nvml, .. } => short,
            _ => "RAM",
        }
    }

    /// The same in words ("GPU memory", "RAM").
    pub fn budget_name(self) -> &'static str {
        match self {
            MemoryKind::Device { name, probe: DeviceProbe::Nvml, .. } => name,
            _ => "RAM",
        }
    }

    /// The sentence a report adds where a device's memory is not measured, else `None`.
    pub fn caveat(self) -> Option<String> {
        match self {
            MemoryKind::Device { name, probe: DeviceProbe::None { why }, .. } => {
                Some(format!("{name} is not measured ({why}); the memory figures are the host process's RAM only"))
            }
            _ => None,
        }
    }

    /// One line for `mora doctor`.
    pub fn describe(self) -> String {
        match self {
            MemoryKind::Host => "host RAM (RSS)".into(),
            MemoryKind::Device { name, probe: DeviceProbe::Nvml, .. } => format!("{name}, read with NVML, and host RAM"),
            MemoryKind::Device { name, probe: DeviceProbe::None { why }, .. } => format!("{name}: not measured ({why}); host RAM"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_what_is_measured() {
        let gpu = MemoryKind::Device { name: "GPU memory", short: "VRAM", probe: DeviceProbe::Nvml };
        assert_eq!((gpu.budget_label(), gpu.device_measured(), gpu.caveat()), ("VRAM", true, None));
        let npu = MemoryKind::Device { name: "NPU memory", short: "NPU", probe: DeviceProbe::None { why: "no probe reads it" } };
        assert_eq!(npu.budget_label(), "RAM", "an unread device's budget rests on what was read");
        assert!(npu.caveat().unwrap().contains("NPU memory is not measured (no probe reads it)"));
        assert_eq!(MemoryKind::Host.budget_label(), "RAM");
    }
}
