//! results.csv: one row per trial with its headline figures, for spreadsheets. The full detail stays
//! in results.json.

use crate::results::{Measurements, ResultsFile};

const HEADER: &[&str] = &[
    "trial",
    "model",
    "weights",
    "provider",
    "scenario",
    "status",
    "load_time_ms",
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
    "leak_net_growth_after_trim_mb",
    "leak_slope_mb_per_cycle",
    "leak_verdict",
    "spawn_to_ready_ms",
    "isolation_reclaimed_mb",
    "isolation_reclamation_percentage",
    "provider_init_ms",
    "provider_baseline_rss_mb",
];

pub fn render(r: &ResultsFile) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for t in &r.trials {
        let mut c: Vec<String> = vec![String::new(); HEADER.len()];
        let mut set = |name: &str, value: String| {
            let i = HEADER.iter().position(|h| *h == name).expect("a known column");
            c[i] = value;
        };
        let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        set("trial", t.id.clone());
        set("model", t.models.join("+"));
        set("weights", t.weights.clone());
        set("provider", t.provider.to_string());
        set("scenario", t.scenario.to_string());
        set("status", t.outcome.summary());
        let baseline = match &t.measurements {
            Some(Measurements::Single(m)) => {
                set("load_time_ms", f(Some(m.load_time_ms)));
                set("first_inference_ms", f(Some(m.first_inference_ms)));
                set("p50_ms", f(m.steady.as_ref().map(|s| s.median)));
                set("p95_ms", f(m.steady.as_ref().map(|s| s.p95)));
                set("p99_ms", f(m.steady.as_ref().map(|s| s.p99)));
                set("memory_increase_mb", f(m.figures.memory_increase_mb));
                set("gpu_memory_increase_mb", f(m.figures.gpu_memory_increase_mb));
                set("cache_hit", m.cache_hit.map(|b| b.to_string()).unwrap_or_default());
                set("unload_time_ms", f(Some(m.unload_time_ms)));
                set("memory_reclaimed_mb", f(m.figures.memory_reclaimed_mb));
                set("reclamation_percentage", f(m.figures.reclamation_percentage));
                set("reclamation_after_trim_percentage", f(m.figures.reclamation_after_trim_percentage));
                set("gpu_memory_reclaimed_mb", f(m.figures.gpu_memory_reclaimed_mb));
                Some(&m.provider_baseline)
            }
            Some(Measurements::Cold(m)) => {
                set("cold_load_ms", f(Some(m.cold.load_time_ms)));
                set("warm_load_median_ms", f(m.warm_load.as_ref().map(|s| s.median)));
                Some(&m.provider_baseline)
            }
            Some(Measurements::Leak(m)) => {
                set("leak_net_growth_after_trim_mb", f(Some(m.rss.net_growth_after_trim_mb)));
                set("leak_slope_mb_per_cycle", f(m.rss.slope_mb_per_cycle));
                set("leak_verdict", m.rss.verdict.to_string());
                Some(&m.provider_baseline)
            }
            Some(Measurements::Isolation(m)) => {
                set("spawn_to_ready_ms", f(Some(m.spawn_to_ready_ms)));
                set("isolation_reclaimed_mb", f(m.memory_reclaimed_mb));
                set("isolation_reclamation_percentage", f(m.reclamation_percentage));
                Some(&m.worker_provider_baseline)
            }
            Some(Measurements::Concurrent(m)) => {
                set("memory_increase_mb", f(m.total_increase_mb));
                Some(&m.provider_baseline)
            }
            None => None,
        };
        if let Some(b) = baseline {
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
