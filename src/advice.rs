//! The proof of concept's verdicts and recommendations, computed from measured figures. Pure: results
//! in, recommendations out. Every recommendation names the numbers it came from.

use std::collections::BTreeMap;

pub use crate::recommendation::{Level, Recommendation, Topic};
use crate::results::{LeakVerdict, Measurements, ResultsFile, TrialRecord};
use crate::runtime::Provider;

/// Load time (cached): < 2 s excellent; 2-5 s good; 5-10 s moderate; > 10 s slow.
pub fn load_level(ms: f64) -> Level {
    if ms < 2_000.0 {
        Level::Excellent
    } else if ms < 5_000.0 {
        Level::Good
    } else if ms <= 10_000.0 {
        Level::Moderate
    } else {
        Level::Poor
    }
}

pub fn load_action(level: Level) -> &'static str {
    match level {
        Level::Excellent => "lazy loading viable: load models on first request",
        Level::Good => "lazy loading acceptable",
        Level::Moderate => "consider pre-warming popular models",
        Level::Poor => "pre-warm at startup",
    }
}

/// Reclamation: > 90 % excellent; 70-90 % good; 50-70 % moderate; < 50 % poor.
pub fn reclamation_level(pct: f64) -> Level {
    if pct > 90.0 {
        Level::Excellent
    } else if pct >= 70.0 {
        Level::Good
    } else if pct >= 50.0 {
        Level::Moderate
    } else {
        Level::Poor
    }
}

pub fn reclamation_action(level: Level) -> &'static str {
    match level {
        Level::Excellent => "in-process unload sufficient",
        Level::Good => "in-process unload acceptable; monitor long-running processes",
        Level::Moderate => "consider subprocess isolation for critical services",
        Level::Poor => "CRITICAL: use subprocess isolation",
    }
}

/// Leak (net growth over the cycles): < 10 MB pass; 10-50 MB caution; > 50 MB fail.
pub fn leak_verdict(net_growth_mb: f64) -> LeakVerdict {
    if net_growth_mb < 10.0 {
        LeakVerdict::Pass
    } else if net_growth_mb <= 50.0 {
        LeakVerdict::Caution
    } else {
        LeakVerdict::Fail
    }
}

pub fn leak_action(v: LeakVerdict) -> &'static str {
    match v {
        LeakVerdict::Pass => "no significant leak",
        LeakVerdict::Caution => "monitor in production",
        LeakVerdict::Fail => "memory leak detected: use subprocess isolation",
    }
}

/// Planning: a worker reserves 1.5 x its model's footprint plus the provider baseline.
pub fn worker_budget_mb(footprint_mb: f64, provider_baseline_mb: f64) -> f64 {
    1.5 * footprint_mb + provider_baseline_mb
}

/// Planning: N concurrent models need N x largest x 1.5, plus a 10 % buffer.
pub fn concurrent_budget_mb(n: usize, largest_mb: f64) -> f64 {
    n as f64 * largest_mb * 1.5 * 1.1
}

/// The seed's "N concurrent models" example.
pub const PLANNING_N: usize = 10;

/// Recommendations per provider that ran, from the trials that succeeded.
pub fn recommend(results: &ResultsFile) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut providers: Vec<Provider> = results.trials.iter().map(|t| t.provider).collect();
    providers.sort();
    providers.dedup();
    for provider in providers {
        let trials: Vec<&TrialRecord> = results.trials.iter().filter(|t| t.provider == provider && t.outcome.is_ok()).collect();
        let random = |model: &str| results.models.iter().any(|m| m.id == model && m.weights == crate::config::Weights::Random);
        let label = |model: &str| if random(model) { format!("{model} (random weights)") } else { model.to_string() };
        out.extend(loading(provider, &trials, &label));
        out.extend(memory(provider, &trials, &label));
        out.extend(leaks(provider, &trials, &label));
        out.extend(planning(provider, &trials, &label));
        out.extend(cold_start(provider, &trials, &label));
        out.extend(concurrency(provider, &trials, &label));
    }
    out
}

type Label<'a> = &'a dyn Fn(&str) -> String;

/// Cached load time per model: the median of warm loads where the cold scenario ran, else the
/// single scenario's load when its files were cached.
fn cached_loads(trials: &[&TrialRecord]) -> BTreeMap<String, (f64, f64)> {
    let mut loads = BTreeMap::new();
    for t in trials {
        if let Some(Measurements::Single(s)) = &t.measurements {
            if s.cache_hit != Some(false) {
                loads.insert(t.model().to_string(), (s.load_time_ms, s.first_inference_ms));
            }
        }
    }
    for t in trials {
        if let Some(Measurements::Cold(c)) = &t.measurements {
            if let (Some(load), Some(first)) = (&c.warm_load, &c.warm_first_inference) {
                loads.insert(t.model().to_string(), (load.median, first.median));
            }
        }
    }
    loads
}

fn loading(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let loads = cached_loads(trials);
    if loads.is_empty() {
        return None;
    }
    let avg = loads.values().map(|(l, _)| l).sum::<f64>() / loads.len() as f64;
    let (slowest, (slow_ms, _)) = loads.iter().max_by(|a, b| a.1.0.total_cmp(&b.1.0))?;
    let level = load_level(avg);
    let mut action = load_action(level).to_string();
    let slow_level = load_level(*slow_ms);
    if slow_level > level {
        action.push_str(&format!("; but {slowest} loads in {slow_ms:.0} ms: {}", load_action(slow_level)));
    }
    Some(Recommendation {
        topic: Topic::LoadingStrategy,
        provider,
        level,
        verdict: format!("{} cached load time (avg {avg:.0} ms over {} models)", capitalise(&level.to_string()), loads.len()),
        action,
        evidence: loads
            .iter()
            .map(|(m, (l, f))| format!("{}: load {l:.0} ms + first inference {f:.0} ms = first request {:.0} ms", label(m), l + f))
            .collect(),
        figures: BTreeMap::from([("avg_cached_load_ms".into(), avg), ("max_cached_load_ms".into(), *slow_ms)]),
    })
}

fn memory(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    for t in trials {
        if let Some(Measurements::Single(s)) = &t.measurements {
            let f = &s.figures;
            let (plain, trimmed) = match provider {
                Provider::Cuda if f.gpu_reclamation_percentage.is_some() => (f.gpu_reclamation_percentage, f.gpu_reclamation_percentage),
                _ => (f.reclamation_percentage, f.reclamation_after_trim_percentage),
            };
            if let Some(plain) = plain {
                rows.push((t.model().to_string(), plain, trimmed.unwrap_or(plain), f.reclamation_percentage));
            }
        }
    }
    if rows.is_empty() {
        return None;
    }
    let avg = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
    let avg_trim = rows.iter().map(|r| r.2).sum::<f64>() / rows.len() as f64;
    let level = reclamation_level(avg);
    let trim_level = reclamation_level(avg_trim);
    let what = if provider == Provider::Cuda { "GPU memory" } else { "RAM" };
    let mut action = format!("{} (rests on the plain unload: drop the session and its outputs)", reclamation_action(level));
    if trim_level < level {
        action = format!(
            "call malloc_trim(0) after each unload: reclamation then reaches {avg_trim:.1}% ({trim_level}: {}); a plain unload gives back {avg:.1}% ({level}: {})",
            reclamation_action(trim_level),
            reclamation_action(level)
        );
    }
    if let Some(iso) = isolation_summary(trials) {
        action.push_str(&format!("; a killed worker gives back {iso}"));
    }
    Some(Recommendation {
        topic: Topic::MemoryManagement,
        provider,
        level,
        verdict: format!("{} {what} reclamation after in-process unload (avg {avg:.1}%)", capitalise(&level.to_string())),
        action,
        evidence: rows.iter().map(|(m, p, t, _)| format!("{}: {p:.1}% reclaimed by unload, {t:.1}% after malloc_trim", label(m))).collect(),
        figures: BTreeMap::from([("avg_reclamation_pct".into(), avg), ("avg_reclamation_after_trim_pct".into(), avg_trim)]),
    })
}

fn isolation_summary(trials: &[&TrialRecord]) -> Option<String> {
    let mut pcts = Vec::new();
    let mut spawn = Vec::new();
    let mut reading = String::new();
    for t in trials {
        if let Some(Measurements::Isolation(i)) = &t.measurements {
            if let Some(p) = i.reclamation_percentage {
                pcts.push(p);
            }
            spawn.push(i.spawn_to_ready_ms);
            reading.clone_from(&i.memory_reading);
        }
    }
    if pcts.is_empty() {
        return None;
    }
    let avg = pcts.iter().sum::<f64>() / pcts.len() as f64;
    let spawn = spawn.iter().sum::<f64>() / spawn.len() as f64;
    Some(format!("{avg:.1}% on average (read as {reading}), at {spawn:.0} ms spawn-to-ready per new worker"))
}

fn leaks(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    for t in trials {
        if let Some(Measurements::Leak(l)) = &t.measurements {
            rows.push((t.model().to_string(), "RAM", l.rss.clone()));
            if let Some(g) = &l.gpu {
                rows.push((t.model().to_string(), "VRAM", g.clone()));
            }
        }
    }
    let worst = rows.iter().map(|r| r.2.verdict).max_by_key(|v| *v as u8)?;
    let level = match worst {
        LeakVerdict::Pass => Level::Excellent,
        LeakVerdict::Caution => Level::Moderate,
        LeakVerdict::Fail => Level::Poor,
    };
    let cycles = rows.first().map(|r| r.2.after_unload_mb.len()).unwrap_or(0);
    Some(Recommendation {
        topic: Topic::LeakDetection,
        provider,
        level,
        verdict: format!("{worst} over {cycles} load/unload cycles (worst of {} series)", rows.len()),
        action: leak_action(worst).to_string(),
        evidence: rows
            .iter()
            .map(|(m, what, s)| {
                format!(
                    "{} {what}: {} net {:+.1} MB after trim ({:+.1} MB without), slope after trim {:+.2} MB/cycle",
                    label(m),
                    s.verdict,
                    s.net_growth_after_trim_mb,
                    s.net_growth_mb,
                    s.slope_after_trim_mb_per_cycle.unwrap_or(0.0)
                )
            })
            .collect(),
        figures: rows.iter().map(|(m, what, s)| (format!("{m}.{what}.net_growth_after_trim_mb"), s.net_growth_after_trim_mb)).collect(),
    })
}

fn planning(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    let mut baseline = Vec::new();
    for t in trials {
        if let Some(Measurements::Single(s)) = &t.measurements {
            let footprint = match provider {
                Provider::Cuda => s.figures.gpu_memory_increase_mb,
                Provider::Cpu => s.figures.memory_increase_mb,
            };
            let base = match provider {
                Provider::Cuda => s.provider_baseline.gpu_mb,
                Provider::Cpu => s.provider_baseline.rss_mb,
            };
            if let Some(f) = footprint {
                rows.push((t.model().to_string(), f.max(0.0), s.peak_rss_during_load_mb, s.memory.before_load.process.rss_mb));
            }
            if let Some(b) = base {
                baseline.push(b.max(0.0));
            }
        }
    }
    let (largest_model, largest, _, _) = rows.iter().max_by(|a, b| a.1.total_cmp(&b.1))?.clone();
    let base = if baseline.is_empty() { 0.0 } else { baseline.iter().sum::<f64>() / baseline.len() as f64 };
    let per_worker = worker_budget_mb(largest, base);
    let n_models = concurrent_budget_mb(PLANNING_N, largest);
    let what = if provider == Provider::Cuda { "VRAM" } else { "RAM" };
    let mut action = format!(
        "reserve {per_worker:.0} MB {what} per worker (1.5 x {largest:.0} MB + {base:.0} MB provider baseline); for {PLANNING_N} concurrent models: ~{:.1} GB {what} minimum ({PLANNING_N} x {largest:.0} MB x 1.5 + 10% buffer)",
        n_models / 1024.0
    );
    // A load can peak above the settled footprint: a memory limit set from the footprint alone kills it.
    let peaks: Vec<String> = rows
        .iter()
        .filter_map(|(m, f, peak, before)| {
            let transient = peak.zip(*before).map(|(p, b)| p - b)?;
            (provider == Provider::Cpu && transient > 1.5 * f + 1.0)
                .then(|| format!("{} peaks at +{transient:.0} MB while loading", label(m)))
        })
        .collect();
    if !peaks.is_empty() {
        action.push_str(&format!("; the load peak exceeds 1.5 x footprint: {}", peaks.join(", ")));
    }
    Some(Recommendation {
        topic: Topic::ResourcePlanning,
        provider,
        level: Level::Good,
        verdict: format!("Largest model footprint: {largest:.1} MB {what} ({})", label(&largest_model)),
        action,
        evidence: rows.iter().map(|(m, f, _, _)| format!("{}: +{f:.1} MB {what} after first inference", label(m))).collect(),
        figures: BTreeMap::from([
            ("largest_footprint_mb".into(), largest),
            ("provider_baseline_mb".into(), base),
            ("per_worker_mb".into(), per_worker),
            (format!("concurrent_{PLANNING_N}_models_mb"), n_models),
        ]),
    })
}

fn cold_start(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    for t in trials {
        if let Some(Measurements::Cold(c)) = &t.measurements {
            if let (Some(warm), Some(ratio)) = (&c.warm_load, c.cold_to_warm_ratio) {
                rows.push((t.model().to_string(), c.cold.load_time_ms, warm.median, ratio, c.eviction_effective));
            }
        }
    }
    let worst = rows.iter().filter(|r| r.4).map(|r| r.3).fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))))?;
    let level = if worst < 1.5 {
        Level::Excellent
    } else if worst < 3.0 {
        Level::Good
    } else {
        Level::Moderate
    };
    let action = if worst >= 1.5 {
        "cold loads cost more than warm ones: keep model files on a persistent local volume, pre-download at build time, and never clear the cache in production"
    } else {
        "cold and warm loads are close here: storage is not the bottleneck"
    };
    Some(Recommendation {
        topic: Topic::ColdStart,
        provider,
        level,
        verdict: format!("Cold load up to {worst:.1}x the warm load"),
        action: action.into(),
        evidence: rows
            .iter()
            .map(|(m, cold, warm, ratio, eff)| {
                let note = if *eff { "" } else { " (eviction not effective here: not counted)" };
                format!("{}: cold {cold:.0} ms vs warm median {warm:.0} ms ({ratio:.1}x){note}", label(m))
            })
            .collect(),
        figures: BTreeMap::from([("max_cold_to_warm_ratio".into(), worst)]),
    })
}

fn concurrency(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let concurrent = trials.iter().find_map(|t| match &t.measurements {
        Some(Measurements::Concurrent(c)) => Some((t, c)),
        _ => None,
    })?;
    let (trial, c) = concurrent;
    let total = c.total_increase_mb?;
    let singles: BTreeMap<String, f64> = trials
        .iter()
        .filter_map(|t| match &t.measurements {
            Some(Measurements::Single(s)) => Some((t.model().to_string(), s.figures.memory_increase_mb?)),
            _ => None,
        })
        .collect();
    let known: Vec<f64> = trial.models.iter().filter_map(|m| singles.get(m).copied()).collect();
    if known.len() != trial.models.len() {
        return None;
    }
    let sum: f64 = known.iter().sum();
    let largest = known.iter().copied().fold(0.0, f64::max);
    let rule = trial.models.len() as f64 * largest * 1.5;
    let holds = total <= rule;
    let level = if holds { Level::Good } else { Level::Poor };
    Some(Recommendation {
        topic: Topic::Concurrency,
        provider,
        level,
        verdict: format!("{} models loaded at once: +{total:.0} MB together vs {sum:.0} MB as singles", trial.models.len()),
        action: if holds {
            format!("the N x largest x 1.5 rule ({rule:.0} MB) covers it")
        } else {
            format!("the N x largest x 1.5 rule ({rule:.0} MB) falls short: budget from the measured total")
        },
        evidence: c.per_model.iter().map(|m| format!("{}: load {:.0} ms concurrently", label(&m.model), m.load_time_ms)).collect(),
        figures: BTreeMap::from([("total_mb".into(), total), ("sum_of_singles_mb".into(), sum), ("rule_mb".into(), rule)]),
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_levels_at_every_boundary() {
        let table = [
            (0.0, Level::Excellent),
            (1_999.9, Level::Excellent),
            (2_000.0, Level::Good),
            (4_999.9, Level::Good),
            (5_000.0, Level::Moderate),
            (10_000.0, Level::Moderate),
            (10_000.1, Level::Poor),
        ];
        for (ms, level) in table {
            assert_eq!(load_level(ms), level, "{ms} ms");
        }
    }

    #[test]
    fn reclamation_levels_at_every_boundary() {
        let table = [
            (100.0, Level::Excellent),
            (90.1, Level::Excellent),
            (90.0, Level::Good),
            (70.0, Level::Good),
            (69.9, Level::Moderate),
            (50.0, Level::Moderate),
            (49.9, Level::Poor),
            (-5.0, Level::Poor),
        ];
        for (pct, level) in table {
            assert_eq!(reclamation_level(pct), level, "{pct}%");
        }
    }

    #[test]
    fn leak_verdicts_at_every_boundary() {
        let table = [
            (-20.0, LeakVerdict::Pass),
            (0.0, LeakVerdict::Pass),
            (9.99, LeakVerdict::Pass),
            (10.0, LeakVerdict::Caution),
            (50.0, LeakVerdict::Caution),
            (50.01, LeakVerdict::Fail),
        ];
        for (mb, verdict) in table {
            assert_eq!(leak_verdict(mb), verdict, "{mb} MB");
        }
    }

    #[test]
    fn planning_rules() {
        // The seed's example: 420.5 MB largest -> 631 MB per worker (no provider baseline in Python).
        assert!((worker_budget_mb(420.5, 0.0) - 630.75).abs() < 1e-9);
        assert!((worker_budget_mb(100.0, 40.0) - 190.0).abs() < 1e-9);
        // 10 x 420.5 x 1.5 = 6307.5 MB, + 10 % = 6938.25 MB.
        assert!((concurrent_budget_mb(10, 420.5) - 6938.25).abs() < 1e-9);
    }

    #[test]
    fn levels_order_from_best_to_worst() {
        assert!(Level::Excellent < Level::Good && Level::Good < Level::Moderate && Level::Moderate < Level::Poor);
        assert_eq!(Level::Poor.mark(), "❌");
    }
}
