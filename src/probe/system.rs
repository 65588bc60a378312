//! The machine: host facts for run metadata, and system-wide memory for the isolation scenario.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::process::kb_field;
use crate::units::mib;

/// System-wide memory at one instant, in MB, and the memory cgroup mora runs in where there is one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemMemory {
    pub total_mb: Option<f64>,
    pub available_mb: Option<f64>,
    /// total - available: what processes hold, page cache that could be dropped excluded.
    pub used_mb: Option<f64>,
    /// Anonymous memory charged to mora's memory cgroup (mora, its workers and whatever else runs
    /// in that cgroup). Exact and immediate, unlike MemAvailable, which lags while freed pages sit
    /// on the kernel's per-CPU lists.
    #[serde(default)]
    pub cgroup_anon_mb: Option<f64>,
    #[serde(default)]
    pub cgroup_file_mb: Option<f64>,
}

impl SystemMemory {
    /// The reading that tracks a worker's memory best here, and its name.
    pub(crate) fn tracked(&self) -> (Option<f64>, &'static str) {
        match self.cgroup_anon_mb {
            Some(v) => (Some(v), "anonymous memory of mora's memory cgroup"),
            None => (self.used_mb, "system memory in use (MemTotal - MemAvailable)"),
        }
    }

    pub(crate) fn current() -> SystemMemory {
        let mut m = Self::meminfo();
        if let Some((anon, file)) = cgroup_memory() {
            m.cgroup_anon_mb = Some(mib(anon));
            m.cgroup_file_mb = Some(mib(file));
        }
        m
    }

    /// The record of a total and an available figure in bytes.
    fn of_bytes(total: Option<u64>, available: Option<u64>) -> SystemMemory {
        SystemMemory {
            total_mb: total.map(mib),
            available_mb: available.map(mib),
            used_mb: total.zip(available).map(|(t, a)| mib(t.saturating_sub(a))),
            ..Default::default()
        }
    }

    fn meminfo() -> SystemMemory {
        match std::fs::read_to_string("/proc/meminfo") {
            Ok(text) => {
                let total = kb_field(&text, "MemTotal:");
                let available = kb_field(&text, "MemAvailable:");
                Self::of_bytes(total, available)
            }
            Err(_) => {
                let Ok(mut s) = sysinfo::System::new() else { return SystemMemory::default() };
                s.refresh_memory();
                Self::of_bytes(Some(s.total_memory()), Some(s.available_memory()))
            }
        }
    }
}

/// (anon, file) bytes of this process's memory cgroup: cgroup v2 `memory.stat` (anon, file), else the v1
/// memory controller's (total_rss, total_cache). `None` outside a memory cgroup one can read.
pub(crate) fn cgroup_memory() -> Option<(u64, u64)> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut candidates = Vec::new();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            candidates.push((format!("/sys/fs/cgroup/{path}/memory.stat"), "anon", "file"));
        } else if controllers.split(',').any(|c| c == "memory") {
            candidates.push((format!("/sys/fs/cgroup/memory/{path}/memory.stat"), "total_rss", "total_cache"));
        }
    }
    candidates.into_iter().find_map(|(file, anon_key, file_key)| {
        let stat = std::fs::read_to_string(file).ok()?;
        let value = |key: &str| -> Option<u64> {
            stat.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse::<u64>().ok()).flatten()
            })
        };
        Some((value(anon_key)?, value(file_key)?))
    })
}

/// How busy the machine is: the 1-minute load average against the cores, and the share of CPU time
/// the hypervisor took (steal) since the previous sample. A busy machine makes every figure suspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MachineLoad {
    /// Seconds since the run started.
    pub at_s: f64,
    pub load_1m: Option<f64>,
    pub cores: usize,
    /// Steal since the previous sample, in % of all CPU time (`None` for the first sample).
    pub steal_pct: Option<f64>,
}

impl MachineLoad {
    /// Whether the machine was busy enough to make figures suspect: more runnable work than cores,
    /// or more than 5 % of the CPU taken by the hypervisor.
    pub(crate) fn busy(&self) -> bool {
        self.load_1m.is_some_and(|l| l > self.cores as f64) || self.steal_pct.is_some_and(|s| s > 5.0)
    }
}

/// Samples the machine's load; `previous` carries /proc/stat's counters from the last call.
pub(crate) fn machine_load(at_s: f64, previous: &mut Option<(u64, u64)>) -> MachineLoad {
    let load_1m = std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split_whitespace().next()?.parse().ok());
    let counters = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        let cpu = s.lines().next()?.strip_prefix("cpu ")?.to_string();
        let fields: Vec<u64> = cpu.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal ...
        Some((fields.iter().take(8).sum::<u64>(), *fields.get(7)?))
    });
    let steal_pct = match (counters, *previous) {
        (Some((total, steal)), Some((total0, steal0))) if total > total0 => Some((steal - steal0) as f64 / (total - total0) as f64 * 100.0),
        _ => None,
    };
    *previous = counters.or(*previous);
    MachineLoad { at_s, load_1m, cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), steal_pct }
}

/// Facts about the host recorded with every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    pub(crate) fn current() -> HostInfo {
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
            ram_total_mb: system.map(|s| mib(s.total_memory())).filter(|v| *v > 0.0),
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
    fn cgroup_anon_follows_an_allocation_at_once() {
        // A Linux process is always in a memory cgroup; mora must be able to read its own.
        assert!(cgroup_memory().is_some(), "no readable memory cgroup for this process (/proc/self/cgroup, /sys/fs/cgroup)");
        let _serial = crate::probe::MEMORY_TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Other processes share the cgroup and allocate or free beside this one: a few
        // tries, and most of the 256 MB rather than all of it.
        let moved: Vec<f64> = (0..3)
            .map(|_| {
                let before = mib(cgroup_memory().unwrap().0);
                let mut block = vec![0u8; 256 * crate::units::MIB as usize];
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                std::hint::black_box(&block);
                let during = mib(cgroup_memory().unwrap().0);
                drop(block);
                during - before
            })
            .collect();
        assert!(moved.iter().any(|m| *m > 160.0), "{moved:?}");
    }

    #[test]
    fn host_info_has_the_basics() {
        let h = HostInfo::current();
        assert!(!h.hostname.is_empty());
        assert!(h.logical_cores >= 1);
        assert!(h.ram_total_mb.unwrap() > 0.0);
    }
}
