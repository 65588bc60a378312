//! Memory of one process, from /proc on Linux (sysinfo elsewhere). A figure the platform cannot give
//! is `None`, never an error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{kib_to_bytes, mib};

/// Memory of a process at one instant, in MB (2^20 bytes, as the proof of concept computed them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessMemory {
    /// Resident set size (VmRSS).
    pub rss_mb: Option<f64>,
    /// Anonymous resident memory (RssAnon): heap, arenas, weights copied into the process.
    pub rss_anon_mb: Option<f64>,
    /// File-backed resident memory (RssFile): mapped libraries and mapped model files.
    pub rss_file_mb: Option<f64>,
    /// Peak RSS since the process started or the peak was last reset (VmHWM).
    pub peak_rss_mb: Option<f64>,
    /// Proportional set size (smaps_rollup Pss): shared pages divided among their users.
    pub pss_mb: Option<f64>,
    /// Private (unshared) resident memory, USS: what the process's exit frees for certain.
    #[serde(default)]
    pub private_mb: Option<f64>,
    pub swap_mb: Option<f64>,
}

impl ProcessMemory {
    /// This process's memory now.
    pub fn current() -> ProcessMemory {
        Self::of_pid_path("self").unwrap_or_else(fallback_self)
    }

    /// Another process's memory (the isolation scenario reads its worker from outside).
    pub(crate) fn of_pid(pid: u32) -> Option<ProcessMemory> {
        Self::of_pid_path(&pid.to_string())
    }

    fn of_pid_path(pid: &str) -> Option<ProcessMemory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok();
        let rollup = rollup.as_deref();
        let mb = |text: &str, key: &str| kb_field(text, key).map(mib);
        Some(ProcessMemory {
            rss_mb: mb(&status, "VmRSS:"),
            rss_anon_mb: mb(&status, "RssAnon:"),
            rss_file_mb: mb(&status, "RssFile:"),
            peak_rss_mb: mb(&status, "VmHWM:"),
            pss_mb: rollup.and_then(|r| mb(r, "Pss:")),
            private_mb: rollup.and_then(|r| Some(mib(kb_field(r, "Private_Clean:")? + kb_field(r, "Private_Dirty:")?))),
            swap_mb: mb(&status, "VmSwap:"),
        })
    }
}

/// A process's RSS in MB alone, read without walking its mappings (smaps_rollup), for sampling often.
pub(crate) fn rss_mb(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|s| kb_field(&s, "VmRSS:")).map(mib)
}

/// Resets this process's peak RSS (VmHWM) to its current RSS, so a later reading gives the peak of
/// one phase. Returns false where the kernel does not offer it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Parses "Key:   1234 kB" from a /proc file into bytes.
pub(crate) fn kb_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib_to_bytes(kb))
}

fn fallback_self() -> ProcessMemory {
    let (Ok(mut system), Ok(pid)) = (sysinfo::System::new(), sysinfo::get_current_pid()) else {
        return ProcessMemory::default();
    };
    system.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
    let rss = system.process(pid).map(|p| mib(p.memory()));
    ProcessMemory { rss_mb: rss, ..ProcessMemory::default() }
}

/// `a - b` where both are present.
pub(crate) fn delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kb_fields() {
        let status = "Name:\tmora\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nRssAnon:\t     512 kB\n";
        assert_eq!(kb_field(status, "VmRSS:"), Some(1 << 20));
        assert_eq!(kb_field(status, "VmHWM:"), Some(2 << 20));
        assert_eq!(kb_field(status, "RssAnon:"), Some(512 << 10));
        assert_eq!(kb_field(status, "RssFile:"), None);
    }

    #[test]
    fn own_memory_is_read_on_linux() {
        let m = ProcessMemory::current();
        assert!(m.rss_mb.unwrap() > 0.0);
        if cfg!(target_os = "linux") {
            assert!(m.rss_anon_mb.is_some() && m.rss_file_mb.is_some() && m.peak_rss_mb.is_some());
            let sum = m.rss_anon_mb.unwrap() + m.rss_file_mb.unwrap();
            assert!(sum <= m.rss_mb.unwrap() + 0.01, "anon + file never exceed rss: {m:?}");
        }
    }

    #[test]
    fn peak_reset_brings_peak_down_to_current() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let _serial = crate::probe::MEMORY_TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Touch 64 MB, free it, then reset: the peak must fall back towards the current RSS.
        let mut block = vec![0u8; 64 * crate::units::MIB as usize];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        std::hint::black_box(&block);
        drop(block);
        let before = ProcessMemory::current();
        assert!(before.peak_rss_mb.unwrap() >= 64.0);
        if reset_peak_rss() {
            let after = ProcessMemory::current();
            assert!(after.peak_rss_mb.unwrap() < before.peak_rss_mb.unwrap(), "{before:?} -> {after:?}");
        }
    }
}
