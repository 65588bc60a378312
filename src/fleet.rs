//! A fleet: runs from several machines merged into one report (docs/fleet.md). Which host a run
//! was made on, its machine class (the hardware that makes two hosts comparable) and the view of one
//! host's trials that the report's sections read; the advice per machine class is
//! [`crate::advice`]'s. Pure.

use crate::probe::HostInfo;
use crate::probe::gpu::GpuInfo;
use crate::results::{ResultsFile, RunHost, RunInfo};

/// The hardware that makes two hosts comparable: their GPUs, CPU model and core count, e.g.
/// "1x NVIDIA H200, 16 cores Intel(R) Xeon(R) Processor" or "no GPU, 2 cores AMD EPYC 7B13".
pub(crate) fn machine_class(host: &HostInfo, gpus: &[GpuInfo]) -> String {
    let mut names: Vec<&str> = gpus.iter().map(|g| g.name.as_str()).collect();
    names.sort_unstable();
    let mut counted: Vec<(usize, &str)> = Vec::new();
    for name in names {
        match counted.last_mut() {
            Some((n, last)) if *last == name => *n += 1,
            _ => counted.push((1, name)),
        }
    }
    let gpus = if counted.is_empty() {
        "no GPU".to_string()
    } else {
        counted.iter().map(|(n, name)| format!("{n}x {name}")).collect::<Vec<_>>().join(" + ")
    };
    format!("{gpus}, {} cores {}", host.logical_cores, host.cpu_model.as_deref().unwrap_or("unknown CPU"))
}

/// A machine as a merge tells machines apart: by host name and machine class together, since VMs
/// and containers often share a host name (both committed 2-core and H200 runs say "vm").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostKey {
    pub hostname: String,
    pub class: String,
}

impl HostKey {
    pub(crate) fn of_run(run: &RunInfo) -> HostKey {
        HostKey { hostname: run.host.hostname.clone(), class: machine_class(&run.host, &run.gpus) }
    }

    pub(crate) fn of_host(host: &RunHost) -> HostKey {
        HostKey { hostname: host.host.hostname.clone(), class: host.machine_class.clone() }
    }
}

/// One label per key, in the same order: the host name, or where another machine of the merge has
/// the same name, the name with what tells them apart: GPUs and cores ("vm (1x NVIDIA H200, 16
/// cores)"), or the whole machine class where those are the same too.
pub(crate) fn labels(keys: &[HostKey]) -> Vec<String> {
    // The class without its CPU model: "1x NVIDIA H200, 16 cores".
    let short = |class: &str| class.split(" cores").next().map(|s| format!("{s} cores")).unwrap_or_else(|| class.to_string());
    keys.iter()
        .map(|k| {
            let namesakes: Vec<&HostKey> = keys.iter().filter(|o| o.hostname == k.hostname && o.class != k.class).collect();
            if namesakes.is_empty() {
                k.hostname.clone()
            } else if namesakes.iter().all(|o| short(&o.class) != short(&k.class)) {
                format!("{} ({})", k.hostname, short(&k.class))
            } else {
                format!("{} ({})", k.hostname, k.class)
            }
        })
        .collect()
}

/// The machine classes of a merge, in the order of their first host.
pub(crate) fn classes(r: &ResultsFile) -> Vec<&str> {
    let mut classes: Vec<&str> = Vec::new();
    for h in &r.run.hosts {
        if !classes.contains(&h.machine_class.as_str()) {
            classes.push(&h.machine_class);
        }
    }
    classes
}

/// Whether a results file holds runs from several machines (the report then compares them).
pub(crate) fn is_fleet(r: &ResultsFile) -> bool {
    r.run.hosts.len() >= 2
}

/// One host's trials of a merge as a run of its own, for the report's per-host sections.
pub(crate) fn host_view(r: &ResultsFile, host: &RunHost) -> ResultsFile {
    let mut view = r.clone();
    view.trials.retain(|t| t.host.as_deref() == Some(host.label.as_str()));
    view.models.retain(|m| view.trials.iter().any(|t| t.models.contains(&m.id)));
    view.run.host = host.host.clone();
    view.run.gpus = host.gpus.clone();
    view.run.runtime.version = host.runtime_version.clone();
    view.run.merged_from = host.runs.clone();
    view.run.hosts = vec![host.clone()];
    // Failed runs have no host's trials: the fleet's own section lists them once.
    view.run.failed_runs.clear();
    view.recommendations.retain(|rec| rec.machine_class.as_deref() == Some(host.machine_class.as_str()));
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, cores: usize) -> HostInfo {
        HostInfo {
            hostname: name.into(),
            os: None,
            kernel: None,
            arch: "x86_64".into(),
            cpu_model: Some("Xeon".into()),
            logical_cores: cores,
            physical_cores: None,
            ram_total_mb: None,
        }
    }

    fn gpu(name: &str) -> GpuInfo {
        GpuInfo { index: 0, name: name.into(), uuid: None, driver_version: None, driver_cuda_version: None, memory_total_mb: None }
    }

    #[test]
    fn a_machine_class_is_the_gpus_cpu_and_cores() {
        assert_eq!(machine_class(&host("a", 2), &[]), "no GPU, 2 cores Xeon");
        let gpus = [gpu("NVIDIA H200"), gpu("NVIDIA L4"), gpu("NVIDIA H200")];
        assert_eq!(machine_class(&host("a", 16), &gpus), "2x NVIDIA H200 + 1x NVIDIA L4, 16 cores Xeon");
    }

    #[test]
    fn labels_add_the_class_only_where_two_machines_share_a_name() {
        let key = |h: &str, c: &str| HostKey { hostname: h.into(), class: c.into() };
        let keys = [key("vm", "no GPU, 2 cores Xeon"), key("vm", "1x NVIDIA H200, 16 cores Xeon"), key("node-1", "no GPU, 2 cores Xeon")];
        assert_eq!(labels(&keys), ["vm (no GPU, 2 cores)", "vm (1x NVIDIA H200, 16 cores)", "node-1"]);
        let same_cores = [key("vm", "no GPU, 2 cores Xeon"), key("vm", "no GPU, 2 cores EPYC")];
        assert_eq!(labels(&same_cores), ["vm (no GPU, 2 cores Xeon)", "vm (no GPU, 2 cores EPYC)"]);
    }
}
