//! The machine: host facts for run metadata, and system-wide memory for the isolation scenario.

use serde::{Deserialize, Serialize};

use super::process::kb_field;

/// System-wide memory at one instant, in MB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemMemory {
    pub total_mb: Option<f64>,
    pub available_mb: Option<f64>,
    /// total - available: what processes hold, page cache that could be dropped excluded.
    pub used_mb: Option<f64>,
}

impl SystemMemory {
    pub fn current() -> SystemMemory {
        match std::fs::read_to_string("/proc/meminfo") {
            Ok(text) => {
                let total = kb_field(&text, "MemTotal:");
                let available = kb_field(&text, "MemAvailable:");
                SystemMemory { total_mb: total, available_mb: available, used_mb: super::process::delta(total, available) }
            }
            Err(_) => {
                let Ok(mut s) = sysinfo::System::new() else { return SystemMemory::default() };
                s.refresh_memory();
                let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
                SystemMemory {
                    total_mb: Some(mb(s.total_memory())),
                    available_mb: Some(mb(s.available_memory())),
                    used_mb: Some(mb(s.total_memory() - s.available_memory())),
                }
            }
        }
    }
}

/// Facts about the host recorded with every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
    pub cpu_model: Option<String>,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub ram_total_mb: Option<f64>,
}

impl HostInfo {
    pub fn current() -> HostInfo {
        let mut system = sysinfo::System::new().ok();
        if let Some(s) = system.as_mut() {
            s.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
            s.refresh_memory();
        }
        let cpu_model = system.as_ref().and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_string())).filter(|s| !s.is_empty());
        HostInfo {
            hostname: sysinfo::System::host_name().unwrap_or_else(|_| "unknown-host".into()),
            os: sysinfo::System::long_os_version().ok(),
            kernel: sysinfo::System::kernel_version().ok(),
            arch: std::env::consts::ARCH.to_string(),
            cpu_model,
            logical_cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            physical_cores: sysinfo::System::physical_core_count().ok(),
            ram_total_mb: system.map(|s| s.total_memory() as f64 / (1024.0 * 1024.0)).filter(|v| *v > 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_memory_is_consistent() {
        let m = SystemMemory::current();
        let (total, available, used) = (m.total_mb.unwrap(), m.available_mb.unwrap(), m.used_mb.unwrap());
        assert!(total > 0.0 && available <= total && (total - available - used).abs() < 1e-6);
    }

    #[test]
    fn host_info_has_the_basics() {
        let h = HostInfo::current();
        assert!(!h.hostname.is_empty());
        assert!(h.logical_cores >= 1);
        assert!(h.ram_total_mb.unwrap() > 0.0);
    }
}
