//! results.csv: one row per trial with its headline figures, for spreadsheets, and where it came from
//! (run, host, runtime version, start) so that concatenated files keep their origin. Single-scenario
//! figures are medians over the trial's fresh workers, the load time with its n, mean, stddev, min and
//! max; the leak's two slopes are named apart (after trim, without). The full detail stays in
//! results.json.

use crate::results::{Measurements, ResultsFile};

const HEADER: &[&str] = &[
    "run",
    "host",
    "runtime_version",
    "started_at",
    "trial",
    "model",
    "batch_size",
    "sequence_length",
    "weights",
    "provider",
    "scenario",
    "status",
    "workers",
    "spawn_to_ready_ms",
    "first_load_ms",
    "first_load_first_inference_ms",
    "warmup_rss_mb",
    "warmup_gpu_mb",
    "load_time_ms",
    "load_time_ms_n",
    "load_time_ms_mean",
    "load_time_ms_stddev",
    "load_time_ms_min",
    "load_time_ms_max",
    "first_inference_ms",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "memory_increase_mb",
    "gpu_memory_increase_mb",
    "cache_hit",
    "unload_time_ms",
    "memory_reclaimed_mb",
    "reclamation_percentage",
    "reclamation_after_trim_percentage",
    "gpu_memory_reclaimed_mb",
    "cold_load_ms",
    "warm_load_median_ms",
    "leak_first_cycle_retained_mb",
    "leak_growth_after_trim_mb",
    "leak_slope_after_trim_mb_per_cycle",
    "leak_net_growth_after_trim_mb",
    "leak_slope_without_trim_mb_per_cycle",
    "leak_verdict",
    "rotation_growth_mb",
    "isolation_spawn_to_ready_ms",
    "isolation_reclaimed_mb",
    "isolation_reclamation_percentage",
    "provider_init_ms",
    "provider_baseline_rss_mb",
];

pub(crate) fn render(r: &ResultsFile) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for t in &r.trials {
        let mut c: Vec<String> = vec![String::new(); HEADER.len()];
        let mut set = |name: &str, value: String| {
            let i = HEADER.iter().position(|h| *h == name).expect("a known column");
            c[i] = value;
        };
        let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        // The run a trial comes from, so that merged and concatenated CSVs keep their origin.
        set("run", t.run.clone().unwrap_or_else(|| format!("{} {}", r.run.host.hostname, r.run.started_at)));
        // In a merge of several machines a trial names its host: the row says that one, and its runtime.
        let host = t.host.as_ref().and_then(|label| r.run.hosts.iter().find(|h| &h.label == label));
        set("host", host.map_or_else(|| r.run.host.hostname.clone(), |h| h.label.clone()));
        set("runtime_version", host.map_or_else(|| r.run.runtime.version.clone(), |h| h.runtime_version.clone()));
        set("started_at", r.run.started_at.clone());
        set("trial", t.id.clone());
        set("model", t.models.join("+"));
        // Empty outside a sweep: the sizes are then models.yaml's (the inputs in results.json say them).
        set("batch_size", t.point.and_then(|p| p.batch_size).map(|b| b.to_string()).unwrap_or_default());
        set("sequence_length", t.point.and_then(|p| p.sequence_length).map(|s| s.to_string()).unwrap_or_default());
        set("weights", t.weights.to_string());
        set("provider", t.provider.to_string());
        set("scenario", t.scenario.to_string());
        set("status", t.outcome.summary());
        let med = |s: &Option<crate::stats::Summary>| f(s.as_ref().map(|s| s.median));
        let over_workers = |m: &crate::results::SingleTrial, get: fn(&crate::results::UnloadFigures) -> Option<f64>| {
            f(crate::stats::median(&m.workers.iter().filter_map(|w| get(&w.figures)).collect::<Vec<_>>()))
        };
        if let Some(Measurements::Single(m)) = &t.measurements {
            let x = &m.summary;
            set("workers", m.workers.len().to_string());
            set("spawn_to_ready_ms", med(&x.spawn_to_ready_ms));
            set("first_load_ms", med(&x.first_load_ms));
            set("first_load_first_inference_ms", med(&x.first_load_first_inference_ms));
            set("warmup_rss_mb", med(&x.warmup_rss_mb));
            set("warmup_gpu_mb", med(&x.warmup_gpu_mb));
            set("load_time_ms", med(&x.load_time_ms));
            if let Some(s) = &x.load_time_ms {
                set("load_time_ms_n", s.n.to_string());
                set("load_time_ms_mean", f(Some(s.mean)));
                set("load_time_ms_stddev", f(Some(s.stddev)));
                set("load_time_ms_min", f(Some(s.min)));
                set("load_time_ms_max", f(Some(s.max)));
            }
            set("first_inference_ms", med(&x.first_inference_ms));
            set("p50_ms", med(&x.steady_p50_ms));
            set("p95_ms", med(&x.steady_p95_ms));
            set("p99_ms", med(&x.steady_p99_ms));
            set("memory_increase_mb", med(&x.memory_increase_mb));
            set("gpu_memory_increase_mb", med(&x.gpu_memory_increase_mb));
            set("cache_hit", m.workers.first().and_then(|w| w.cache_hit).map(|b| b.to_string()).unwrap_or_default());
            set("unload_time_ms", med(&x.unload_time_ms));
            set("memory_reclaimed_mb", over_workers(m, |f| f.memory_reclaimed_mb));
            set("reclamation_percentage", med(&x.reclamation_percentage));
            set("reclamation_after_trim_percentage", med(&x.reclamation_after_trim_percentage));
            set("gpu_memory_reclaimed_mb", over_workers(m, |f| f.gpu_memory_reclaimed_mb));
        }
        match &t.measurements {
            Some(Measurements::Cold(m)) => {
                set("cold_load_ms", f(Some(m.cold.load_time_ms)));
                set("warm_load_median_ms", f(m.warm_load.as_ref().map(|s| s.median)));
            }
            Some(Measurements::Leak(m)) => {
                set("leak_first_cycle_retained_mb", f(Some(m.rss.first_cycle_retained_mb)));
                set("leak_growth_after_trim_mb", f(Some(m.rss.growth_after_trim_mb)));
                set("leak_slope_after_trim_mb_per_cycle", f(m.rss.slope_after_trim_mb_per_cycle));
                set("leak_net_growth_after_trim_mb", f(Some(m.rss.net_growth_after_trim_mb)));
                set("leak_slope_without_trim_mb_per_cycle", f(m.rss.slope_mb_per_cycle));
                set("leak_verdict", m.rss.verdict.to_string());
            }
            Some(Measurements::Rotation(m)) => {
                set("rotation_growth_mb", f(m.rss.as_ref().map(|s| s.growth_mb)));
                set("leak_verdict", m.rss.as_ref().map(|s| s.verdict.to_string()).unwrap_or_default());
            }
            Some(Measurements::Isolation(m)) => {
                set("isolation_spawn_to_ready_ms", f(Some(m.spawn_to_ready_ms)));
                set("isolation_reclaimed_mb", f(m.memory_reclaimed_mb));
                set("isolation_reclamation_percentage", f(m.reclamation_percentage));
            }
            Some(Measurements::Concurrent(m)) => {
                set("memory_increase_mb", f(m.total_increase_mb));
            }
            Some(Measurements::Single(_) | Measurements::Levers(_) | Measurements::MemoryLevers(_)) | None => {}
            Some(Measurements::Idle(_) | Measurements::Shapes(_) | Measurements::Soak(_) | Measurements::MemoryLimit(_)) => {}
        }
        if let Some(b) = t.measurements.as_ref().and_then(Measurements::provider_baseline) {
            set("provider_init_ms", f(Some(b.init_ms)));
            set("provider_baseline_rss_mb", f(b.rss_mb));
        }
        out.push_str(&c.iter().map(|v| field(v)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting where a field needs it.
fn field(v: &str) -> String {
    if v.contains([',', '"', '\n']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(super::field("plain"), "plain");
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
