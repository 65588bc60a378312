//! mora's memory cgroup, and child cgroups with a memory limit for a worker (the memory-limit
//! scenario): cgroup v2 (`memory.max`, `memory.events`) or the v1 memory controller
//! (`memory.limit_in_bytes`, `memory.oom_control`). Where a child cannot be made, the reason says why.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Which cgroup interface a memory cgroup speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// The memory cgroups this process belongs to, as (folder, version), v2 first; only ones that exist.
pub(crate) fn own_memory_cgroups() -> Vec<(PathBuf, Version)> {
    let Ok(membership) = std::fs::read_to_string("/proc/self/cgroup") else { return vec![] };
    let mut found = Vec::new();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let path = path.trim_start_matches('/');
        let candidate = if controllers.is_empty() {
            (Path::new("/sys/fs/cgroup").join(path), Version::V2)
        } else if controllers.split(',').any(|c| c == "memory") {
            (Path::new("/sys/fs/cgroup/memory").join(path), Version::V1)
        } else {
            continue;
        };
        let stat = candidate.0.join("memory.stat");
        if stat.exists() {
            found.push(candidate);
        }
    }
    found.sort_by_key(|(_, v)| *v != Version::V2);
    found
}

/// A child of mora's memory cgroup with a memory limit, removed when dropped (once empty).
#[derive(Debug)]
pub(crate) struct LimitedCgroup {
    pub path: PathBuf,
    pub version: Version,
}

impl LimitedCgroup {
    /// Makes `name` under mora's memory cgroup with `limit_bytes` (none: only to account) and no swap
    /// to spill into.
    pub(crate) fn create(name: &str, limit_bytes: Option<u64>) -> Result<LimitedCgroup> {
        let Some((parent, version)) = own_memory_cgroups().into_iter().next() else {
            bail!("mora runs in no memory cgroup it can read (/proc/self/cgroup, /sys/fs/cgroup)");
        };
        let path = parent.join(name);
        let write = |dir: &Path, file: &str, value: &str| {
            let target = dir.join(file);
            std::fs::write(&target, value).with_context(|| format!("cannot write {value} to {}", target.display()))
        };
        if version == Version::V2 {
            // A v2 child gets a memory controller only if the parent delegates it; a cgroup with
            // processes of its own cannot (the "no internal processes" rule).
            if let Err(e) = std::fs::write(parent.join("cgroup.subtree_control"), "+memory") {
                let enabled = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
                if !enabled.split_whitespace().any(|c| c == "memory") {
                    bail!(
                        "cannot enable the memory controller below {} ({e}): run mora in a cgroup delegated to it, e.g. `systemd-run --user --scope -p Delegate=yes mora bench ...`",
                        parent.display()
                    );
                }
            }
        }
        std::fs::create_dir(&path).with_context(|| format!("cannot create the cgroup {}", path.display()))?;
        let cgroup = LimitedCgroup { path, version };
        let dir = cgroup.path.as_path();
        let Some(limit_bytes) = limit_bytes else { return Ok(cgroup) };
        match version {
            Version::V2 => {
                write(dir, "memory.max", &limit_bytes.to_string())?;
                // Absent without swap accounting: then there is no swap to spill into anyway.
                let _ = write(dir, "memory.swap.max", "0");
            }
            Version::V1 => {
                write(dir, "memory.limit_in_bytes", &limit_bytes.to_string())?;
                let _ = write(dir, "memory.memsw.limit_in_bytes", &limit_bytes.to_string());
            }
        }
        Ok(cgroup)
    }

    /// The file a process writes "0" to in order to join.
    pub(crate) fn procs(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }

    /// How many times the kernel's OOM killer ran in this cgroup.
    pub(crate) fn oom_kills(&self) -> Option<u64> {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        let text = std::fs::read_to_string(self.path.join(file)).ok()?;
        text.lines().find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
    }

    /// What the cgroup is charged now, in bytes: anonymous memory, page cache first touched by its
    /// processes, kernel memory: the currency its limit is in.
    pub(crate) fn usage_bytes(&self) -> Option<u64> {
        self.read_bytes(match self.version {
            Version::V2 => "memory.current",
            Version::V1 => "memory.usage_in_bytes",
        })
    }

    /// The highest memory use the cgroup saw, in bytes.
    pub(crate) fn peak_bytes(&self) -> Option<u64> {
        self.read_bytes(match self.version {
            Version::V2 => "memory.peak",
            Version::V1 => "memory.max_usage_in_bytes",
        })
    }

    fn read_bytes(&self, file: &str) -> Option<u64> {
        std::fs::read_to_string(self.path.join(file)).ok()?.trim().parse().ok()
    }

    /// What limits the worker, in words.
    pub(crate) fn mechanism(&self) -> String {
        match self.version {
            Version::V2 => format!("cgroup v2 memory.max on {}", self.path.display()),
            Version::V1 => format!("cgroup v1 memory.limit_in_bytes on {}", self.path.display()),
        }
    }
}

impl Drop for LimitedCgroup {
    fn drop(&mut self) {
        // The worker was reaped before: the cgroup is empty, or about to be.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_cgroup_is_made_and_removed_or_the_reason_is_given() {
        match LimitedCgroup::create(&format!("mora-test-{}", std::process::id()), Some(64 * crate::units::MIB)) {
            Ok(cgroup) => {
                let path = cgroup.path.clone();
                assert!(path.is_dir() && cgroup.procs().exists());
                assert_eq!(cgroup.oom_kills(), Some(0));
                drop(cgroup);
                assert!(!path.exists(), "removed once empty");
            }
            Err(why) => assert!(format!("{why:#}").contains("cgroup"), "{why:#}"),
        }
    }
}
