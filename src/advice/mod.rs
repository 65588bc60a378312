//! The proof of concept's verdicts and recommendations, computed from measured figures. Pure: results
//! in, recommendations out. Every recommendation names the numbers it came from. The thresholds are
//! in [`rules`]; [`judge`] applies the current rules to a run, old or new, and a fleet's per machine
//! class ([`recommend_per_class`]).

pub(crate) mod backends;
pub mod lifecycle;
pub mod rules;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::results::recommendation::{EvidenceTable, Level, Recommendation, Topic};
pub(crate) use rules::*;

use crate::results::derive::{WarmupSource, worker_warmups};
use crate::results::heap::HeapState;
use crate::results::{LeakSeries, LeakVerdict, Measurements, ModelInfo, ResultsFile, RunHost, SingleTrial, TrialRecord};
use crate::runtime::Provider;
use crate::stats::Summary;

/// Re-derives every figure and verdict of `results` from its raw measurements and writes the advice
/// with the current rules ([`RULES_VERSION`]), so a run recorded under older rules is judged again
/// without being rerun.
pub fn judge(results: &mut ResultsFile) {
    crate::results::derive::rederive(results, &leak_verdict);
    if results.rules_version != RULES_VERSION {
        results.run.notes.push(format!(
            "verdicts and advice re-derived from the raw figures with rules v{RULES_VERSION} (the run was judged with rules v{})",
            results.rules_version
        ));
        results.rules_version = RULES_VERSION;
    }
    // Runs from several machines are judged per machine class: one class's figures never average
    // with another's.
    // A sweep's other sizes are in the tables; the advice rests on one size per model.
    let judged = results.at_first_points().into_owned();
    results.recommendations = if crate::fleet::is_fleet(&judged) { recommend_per_class(&judged) } else { recommend(&judged) };
}

/// The advice per machine class: each class's trials judged together, tagged with the class. Where
/// a class has several hosts, a model measured on each counts once per host ("gpt2 @ node-1"), so
/// the averages and the largest footprint rest on every host and the evidence names them.
pub(crate) fn recommend_per_class(r: &ResultsFile) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for class in crate::fleet::classes(r) {
        let hosts: Vec<&RunHost> = r.run.hosts.iter().filter(|h| h.machine_class == class).collect();
        let mut view = r.clone();
        view.trials.retain(|t| hosts.iter().any(|h| t.host.as_deref() == Some(h.label.as_str())));
        if hosts.len() > 1 {
            let per_host = |model: &str, host: &str| format!("{model} @ {host}");
            view.models =
                hosts.iter().flat_map(|h| r.models.iter().map(|m| ModelInfo { id: per_host(&m.id, &h.label), ..m.clone() })).collect();
            for t in &mut view.trials {
                let host = t.host.clone().unwrap_or_default();
                t.models = t.models.iter().map(|m| per_host(m, &host)).collect();
            }
        }
        out.extend(recommend(&view).into_iter().map(|mut rec| {
            rec.machine_class = Some(class.to_string());
            rec
        }));
    }
    out
}

/// Recommendations per provider that ran, from the trials that succeeded.
pub(crate) fn recommend(results: &ResultsFile) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut providers: Vec<Provider> = results.trials.iter().map(|t| t.provider).collect();
    providers.sort();
    providers.dedup();
    for provider in providers {
        let trials: Vec<&TrialRecord> = results.trials.iter().filter(|t| t.provider == provider && t.outcome.is_ok()).collect();
        let random = |model: &str| results.models.iter().any(|m| m.id == model && m.weights == crate::config::Weights::Random);
        let label = |model: &str| if random(model) { format!("{model} (random weights)") } else { model.to_string() };
        let warmup = WorkerCost::of(results, provider, &trials);
        out.extend(loading(provider, &trials, &label));
        out.extend(worker_warmup(provider, &warmup, &label));
        out.extend(memory(provider, &trials, &label));
        out.extend(leaks(provider, &trials, &label));
        out.extend(planning(provider, &trials, &warmup, results.run.settings.plan_models, &label));
        out.extend(cold_start(provider, &trials, &label));
        out.extend(concurrency(provider, &trials, &label));
        out.extend(rotation(provider, &trials, &label));
        out.extend(load_path(provider, &trials, &label));
        out.extend(memory_levers(provider, &trials, &label));
        out.extend(lifecycle::recommend(provider, &trials, &label));
    }
    out.extend(backends::recommend(results));
    out
}

type Label<'a> = &'a dyn Fn(&str) -> String;

/// The single scenario's trials of one provider, by model.
fn singles<'a>(trials: &[&'a TrialRecord]) -> Vec<(&'a str, &'a SingleTrial)> {
    trials
        .iter()
        .filter_map(|t| match &t.measurements {
            Some(Measurements::Single(s)) => Some((t.model(), s.as_ref())),
            _ => None,
        })
        .collect()
}

fn median(s: &Option<Summary>) -> Option<f64> {
    s.as_ref().map(|s| s.median)
}

/// "310 ms (median of 3, 235..322)" where there are several samples, else "310 ms (one sample)".
fn with_spread(s: &Summary, unit: &str) -> String {
    if s.n > 1 {
        format!("{:.0} {unit} (median of {}, {:.0}..{:.0})", s.median, s.n, s.min, s.max)
    } else {
        format!("{:.0} {unit} (one sample)", s.median)
    }
}

/// A figure for an evidence table: "310 (235..322)" over several samples, "310 (n=1)" for one.
fn cell(s: &Summary, decimals: usize) -> String {
    if s.n > 1 {
        format!("{:.d$} ({:.d$}..{:.d$})", s.median, s.min, s.max, d = decimals)
    } else {
        format!("{:.d$} (n=1)", s.median, d = decimals)
    }
}

/// A one-time cost that every worker showed: the median where the whole range is above zero, else
/// `None` (within the noise between workers). A single sample is taken at its word; the evidence
/// labels it as one sample.
pub(crate) fn consistent_cost(s: &Summary) -> Option<f64> {
    (s.min > 0.0).then_some(s.median)
}

/// A model's warm load (its time, the first inference after it, the heap state: one documented state,
/// [`crate::results::heap::warm_load`]'s) where its files were cached. A single trial whose load was
/// not cached counts only through the cold scenario's loads.
pub(crate) struct CachedLoad {
    pub load_ms: f64,
    pub first_inference_ms: f64,
    pub state: HeapState,
}

fn cached_loads(trials: &[&TrialRecord]) -> BTreeMap<String, CachedLoad> {
    let mut loads = BTreeMap::new();
    let colds: BTreeMap<&str, &crate::results::ColdResult> = trials
        .iter()
        .filter_map(|t| match &t.measurements {
            Some(Measurements::Cold(c)) => Some((t.model(), c.as_ref())),
            _ => None,
        })
        .collect();
    let mut models: Vec<&str> = singles(trials).iter().map(|(m, _)| *m).chain(colds.keys().copied()).collect();
    models.dedup();
    for model in models {
        let single = singles(trials).into_iter().find(|(m, _)| *m == model).map(|(_, s)| s);
        let cached = single.filter(|s| s.workers.iter().all(|w| w.cache_hit != Some(false)));
        let Some(w) = crate::results::heap::warm_load(cached, colds.get(model).copied()) else { continue };
        let Some(first) = w.first_inference else { continue };
        loads.insert(model.to_string(), CachedLoad { load_ms: w.load.median, first_inference_ms: first.median, state: w.state });
    }
    loads
}

/// The heap state the loads rest on: one where they agree, else the words for each.
fn states_of(loads: &BTreeMap<String, CachedLoad>) -> String {
    let mut states: Vec<HeapState> = loads.values().map(|l| l.state).collect();
    states.sort_by_key(|s| s.short());
    states.dedup();
    states.iter().map(|s| s.short()).collect::<Vec<_>>().join(" or ")
}

fn loading(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let loads = cached_loads(trials);
    if loads.is_empty() {
        return None;
    }
    let avg = loads.values().map(|l| l.load_ms).sum::<f64>() / loads.len() as f64;
    let (slowest, slow) = loads.iter().max_by(|a, b| a.1.load_ms.total_cmp(&b.1.load_ms))?;
    let slow_ms = slow.load_ms;
    let running = load_level(avg);
    let state = states_of(&loads);
    let mut action = format!("in a running worker: {}", load_action(running));
    let slow_level = load_level(slow_ms);
    if slow_level > running {
        let _ = write!(action, "; but {slowest} loads in {slow_ms:.0} ms: {}", load_action(slow_level));
    }
    // A new worker answers its first request only after the provider, the worker's warm-up and the
    // load: judged apart, since that is what scaling out or isolating costs; the verdict grades the
    // answer as a whole, so a slow fresh worker lowers it.
    let fresh: Vec<(&str, &Summary)> =
        singles(trials).into_iter().filter_map(|(m, s)| s.summary.spawn_to_ready_ms.as_ref().map(|r| (m, r))).collect();
    let mut figures = BTreeMap::from([("avg_cached_load_ms".into(), avg), ("max_cached_load_ms".into(), slow_ms)]);
    let mut level = running;
    let mut verdict = format!(
        "{} cached load time (avg {avg:.0} ms over {}, in a running worker, {state})",
        capitalise(&running.to_string()),
        models(loads.len())
    );
    if let Some((model, ready)) = fresh.iter().max_by(|a, b| a.1.median.total_cmp(&b.1.median)) {
        let fresh_level = load_level(ready.max);
        let _ = write!(
            action,
            "; a fresh worker answers its first request after up to {:.0} ms ({}, {}): {}",
            ready.max,
            label(model),
            fresh_level,
            if fresh_level > running {
                "start workers ahead of demand and keep them running"
            } else {
                "starting workers on demand is viable"
            }
        );
        if fresh_level > running {
            level = fresh_level;
            verdict = format!(
                "{} as a whole: {running} in a running worker (avg {avg:.0} ms, {state}), {fresh_level} for a fresh worker (up to {:.0} ms)",
                capitalise(&fresh_level.to_string()),
                ready.max
            );
        }
        figures.insert("max_fresh_worker_ready_ms".into(), ready.max);
    }
    let mut evidence: Vec<String> = loads
        .iter()
        .map(|(m, l)| {
            format!(
                "{}: warm load {:.0} ms ({}) + first inference {:.0} ms = first request {:.0} ms",
                label(m),
                l.load_ms,
                l.state,
                l.first_inference_ms,
                l.load_ms + l.first_inference_ms
            )
        })
        .collect();
    evidence
        .extend(fresh.iter().map(|(m, r)| format!("{}: fresh worker ready (spawn to first answer) {}", label(m), with_spread(r, "ms"))));
    let mixed = state.contains(" or ");
    let mut table = EvidenceTable::new(&["Model", "Warm load ms", "First inf ms", "Request ms", "Fresh ready ms"]);
    for (m, l) in &loads {
        let load = if mixed { format!("{:.0} ({})", l.load_ms, l.state) } else { format!("{:.0}", l.load_ms) };
        let ready = fresh.iter().find(|(f, _)| f == m).map_or("—".to_string(), |(_, r)| cell(r, 0));
        table.rows.push(vec![
            m.clone(),
            load,
            format!("{:.0}", l.first_inference_ms),
            format!("{:.0}", l.load_ms + l.first_inference_ms),
            ready,
        ]);
    }
    for (m, r) in fresh.iter().filter(|(m, _)| !loads.contains_key(*m)) {
        table.rows.push(vec![m.to_string(), "—".into(), "—".into(), "—".into(), cell(r, 0)]);
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: table.some(),
        topic: Topic::LoadingStrategy,
        provider,
        level,
        verdict,
        action,
        evidence,
        figures,
    })
}

/// What one fresh worker of a provider pays once: the provider baseline and the largest warm-up any
/// model triggered (RAM, VRAM and the first load's and first inference's extra time).
struct WorkerCost {
    baseline_rss_mb: Option<f64>,
    baseline_gpu_mb: Option<f64>,
    baseline_ms: Option<f64>,
    /// (model, median MB) of the largest warm-up.
    rss: Option<(String, f64)>,
    gpu: Option<(String, f64)>,
    load_ms: Option<(String, f64)>,
    first_inference_ms: Option<(String, f64)>,
    from_leak_only: bool,
    evidence: Vec<(String, String)>,
    table: EvidenceTable,
}

impl WorkerCost {
    fn of(results: &ResultsFile, provider: Provider, trials: &[&TrialRecord]) -> WorkerCost {
        let warmups: Vec<_> = worker_warmups(results).into_iter().filter(|w| w.provider == provider).collect();
        let largest = |f: &dyn Fn(&crate::results::derive::WarmupFigures) -> Option<f64>| {
            warmups.iter().filter_map(|w| f(w).map(|v| (w.model.clone(), v))).max_by(|a, b| a.1.total_cmp(&b.1))
        };
        let cost = |s: &Option<Summary>| s.as_ref().and_then(consistent_cost);
        let baselines: Vec<_> = trials.iter().filter_map(|t| t.measurements.as_ref()?.provider_baseline()).collect();
        let med = |f: &dyn Fn(&crate::results::ProviderBaseline) -> Option<f64>| {
            crate::stats::median(&baselines.iter().filter_map(|b| f(b)).collect::<Vec<_>>())
        };
        WorkerCost {
            baseline_rss_mb: med(&|b| b.rss_mb),
            baseline_gpu_mb: med(&|b| b.gpu_mb),
            baseline_ms: med(&|b| Some(b.init_ms + b.first_run_ms)),
            rss: largest(&|w| cost(&w.rss_mb)),
            gpu: largest(&|w| cost(&w.gpu_mb)),
            load_ms: largest(&|w| cost(&w.load_ms)),
            first_inference_ms: largest(&|w| cost(&w.first_inference_ms)),
            from_leak_only: !warmups.is_empty() && warmups.iter().all(|w| w.source == WarmupSource::LeakFirstCycle),
            table: warmup_table(&warmups),
            evidence: warmups
                .iter()
                .map(|w| {
                    let parts = [
                        ("RAM kept", &w.rss_mb, "MB"),
                        ("VRAM kept", &w.gpu_mb, "MB"),
                        ("first load", &w.load_ms, "ms"),
                        ("first inference", &w.first_inference_ms, "ms"),
                    ];
                    let text: Vec<String> = parts
                        .iter()
                        .filter_map(|(what, s, unit)| {
                            let s = s.as_ref()?;
                            let noise = if consistent_cost(s).is_none() { ", within noise" } else { "" };
                            Some(format!("{what} {}{noise}", with_spread(s, unit)))
                        })
                        .collect();
                    (w.model.clone(), text.join("; "))
                })
                .collect(),
        }
    }

    /// Memory a worker pays once, beyond its models (RAM on CPU, VRAM on CUDA).
    fn planning_mb(&self, provider: Provider) -> (f64, f64) {
        if provider.memory().device_measured() {
            (self.baseline_gpu_mb.unwrap_or(0.0), self.gpu.as_ref().map_or(0.0, |g| g.1.max(0.0)))
        } else {
            (self.baseline_rss_mb.unwrap_or(0.0), self.rss.as_ref().map_or(0.0, |r| r.1.max(0.0)))
        }
    }
}

/// One row per model's warm-up: each cost over the fresh workers, "noise" where its range reaches zero.
fn warmup_table(warmups: &[crate::results::derive::WarmupFigures]) -> EvidenceTable {
    let vram = warmups.iter().any(|w| w.gpu_mb.is_some());
    let mut header = vec!["Model", "RAM kept MB"];
    if vram {
        header.push("VRAM kept MB");
    }
    header.extend(["First load +ms", "First inference +ms"]);
    let mut table = EvidenceTable::new(&header);
    let figure = |s: &Option<Summary>| {
        s.as_ref().map_or("—".to_string(), |s| {
            let noise = if consistent_cost(s).is_none() { " noise" } else { "" };
            format!("{}{noise}", cell(s, 0))
        })
    };
    for w in warmups {
        let mut row = vec![w.point.map_or_else(|| w.model.clone(), |p| format!("{} ({p})", w.model)), figure(&w.rss_mb)];
        if vram {
            row.push(figure(&w.gpu_mb));
        }
        row.extend([figure(&w.load_ms), figure(&w.first_inference_ms)]);
        table.rows.push(row);
    }
    table
}

fn worker_warmup(provider: Provider, cost: &WorkerCost, label: Label) -> Option<Recommendation> {
    if cost.evidence.is_empty() {
        return None;
    }
    let baseline = format!(
        "provider baseline {} MB RAM{} in {} ms",
        cost.baseline_rss_mb.map_or("—".into(), |v| format!("{v:.0}")),
        cost.baseline_gpu_mb.map(|v| format!(" + {v:.0} MB VRAM")).unwrap_or_default(),
        cost.baseline_ms.map_or("—".into(), |v| format!("{v:.0}"))
    );
    // Only costs every fresh worker showed; the others are within the noise between workers.
    let parts: Vec<String> = [
        cost.rss.as_ref().map(|(m, v)| format!("+{v:.0} MB RAM ({m})")),
        cost.gpu.as_ref().map(|(m, v)| format!("+{v:.0} MB VRAM ({m})")),
        cost.load_ms.as_ref().map(|(m, v)| format!("+{v:.0} ms on the first load ({m})")),
        cost.first_inference_ms.as_ref().map(|(m, v)| format!("+{v:.0} ms on the first inference ({m})")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let first_model = if parts.is_empty() {
        "its first model adds nothing beyond the noise between workers".to_string()
    } else {
        format!("its first model up to {}", parts.join(", "))
    };
    let extra_ms = cost.load_ms.as_ref().map_or(0.0, |x| x.1) + cost.first_inference_ms.as_ref().map_or(0.0, |x| x.1);
    // Large one-time costs make worker churn expensive: judge them with the load-time tiers.
    let level = load_level(cost.baseline_ms.unwrap_or(0.0) + extra_ms);
    let mut action = "size every worker for it once, not per model; keep workers alive across models rather than start one per model or per request, since subprocess isolation pays it again for every new worker".to_string();
    if cost.from_leak_only {
        action.push_str(" (measured from the leak scenario's first cycle: one worker per model; rerun with the single scenario for the median over fresh workers)");
    }
    let figure = |x: &Option<(String, f64)>| x.as_ref().map_or(0.0, |x| x.1);
    let mut figures = BTreeMap::from([
        ("warmup_rss_mb".to_string(), figure(&cost.rss)),
        ("warmup_load_ms".to_string(), figure(&cost.load_ms)),
        ("warmup_first_inference_ms".to_string(), figure(&cost.first_inference_ms)),
    ]);
    if provider.memory().device_measured() {
        figures.insert("warmup_gpu_mb".into(), figure(&cost.gpu));
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: cost.table.clone().some(),
        topic: Topic::WorkerWarmup,
        provider,
        level,
        verdict: format!("Each fresh {provider} worker pays once: {baseline}, then {first_model}"),
        action,
        evidence: cost.evidence.iter().map(|(m, text)| format!("{}: {text}", label(m))).collect(),
        figures,
    })
}

fn memory(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    for (model, s) in singles(trials) {
        let sm = &s.summary;
        let (plain, trimmed) = if provider.memory().device_measured() && sm.gpu_reclamation_percentage.is_some() {
            (&sm.gpu_reclamation_percentage, &sm.gpu_reclamation_percentage)
        } else {
            (&sm.reclamation_percentage, &sm.reclamation_after_trim_percentage)
        };
        if let Some(p) = plain {
            rows.push((model.to_string(), p.clone(), trimmed.clone().unwrap_or_else(|| p.clone())));
        }
    }
    if rows.is_empty() {
        return None;
    }
    let avg = rows.iter().map(|r| r.1.median).sum::<f64>() / rows.len() as f64;
    let avg_trim = rows.iter().map(|r| r.2.median).sum::<f64>() / rows.len() as f64;
    let plain_level = reclamation_level(avg);
    let trim_level = reclamation_level(avg_trim);
    let what = provider.memory().budget_name();
    // The verdict grades the answer it gives: where the advice is to trim, the state after trim.
    let (level, verdict) = memory_verdict(what, avg, avg_trim);
    // One answer with its condition: when malloc_trim changes the answer, say both halves of it.
    let mut action = if trim_level < plain_level {
        format!(
            "with malloc_trim(0) after each unload, {} ({avg_trim:.1}% given back); without it, {} ({avg:.1}%)",
            reclamation_action(trim_level),
            reclamation_action(plain_level)
        )
    } else {
        format!("{} ({avg:.1}% given back by dropping the session and its outputs)", reclamation_action(plain_level))
    };
    if let Some(iso) = isolation_summary(trials) {
        let _ = write!(action, "; a killed worker gives back {iso}");
    }
    let spread = |s: &Summary| if s.n > 1 { format!(" ({:.1}-{:.1} over {} workers)", s.min, s.max, s.n) } else { String::new() };
    let mut table = EvidenceTable::new(&["Model", "Unload gives back %", "After trim %"]);
    for (m, p, t) in &rows {
        table.rows.push(vec![m.clone(), cell(p, 1), format!("{:.1}", t.median)]);
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: table.some(),
        topic: Topic::MemoryManagement,
        provider,
        level,
        verdict,
        action,
        evidence: rows
            .iter()
            .map(|(m, p, t)| format!("{}: {:.1}%{} reclaimed by unload, {:.1}% after malloc_trim", label(m), p.median, spread(p), t.median))
            .collect(),
        figures: BTreeMap::from([("avg_reclamation_pct".into(), avg), ("avg_reclamation_after_trim_pct".into(), avg_trim)]),
    })
}

/// The memory verdict: graded on the plain unload, unless malloc_trim(0) after it gives a better
/// answer, which is then the advice and the grade, with the plain unload's figure beside it.
pub(crate) fn memory_verdict(what: &str, avg_pct: f64, avg_after_trim_pct: f64) -> (Level, String) {
    let (plain, trimmed) = (reclamation_level(avg_pct), reclamation_level(avg_after_trim_pct));
    if trimmed < plain {
        let verdict = format!(
            "{} {what} reclamation with malloc_trim(0) after each unload (avg {avg_after_trim_pct:.1}%; {avg_pct:.1}% without: {plain})",
            capitalise(&trimmed.to_string())
        );
        (trimmed, verdict)
    } else {
        (plain, format!("{} {what} reclamation after in-process unload (avg {avg_pct:.1}%)", capitalise(&plain.to_string())))
    }
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

/// One row per leak series: the model and memory, its verdict, growth after and without trim, slope, the first cycle.
fn leak_table(rows: &[(String, &str, &LeakSeries)]) -> EvidenceTable {
    let mut table = EvidenceTable::new(&["Series", "Verdict", "Growth MB", "No trim MB", "MB/cycle", "First cycle MB"]);
    for (m, what, s) in rows {
        table.rows.push(vec![
            format!("{m} {what}"),
            s.verdict.to_string(),
            format!("{:+.1}", s.growth_after_trim_mb),
            format!("{:+.1}", s.growth_mb),
            format!("{:+.2}", s.slope_after_trim_mb_per_cycle.unwrap_or(0.0)),
            format!("{:+.1}", s.first_cycle_retained_mb),
        ]);
    }
    table
}

fn leaks(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows: Vec<(String, &str, &LeakSeries)> = Vec::new();
    for t in trials {
        if let Some(Measurements::Leak(l)) = &t.measurements {
            rows.push((t.model().to_string(), "RAM", &l.rss));
            if let Some(g) = &l.gpu {
                rows.push((t.model().to_string(), "VRAM", g));
            }
        }
    }
    let worst = rows.iter().map(|r| r.2.verdict).max()?;
    let level = match worst {
        LeakVerdict::Pass => Level::Excellent,
        LeakVerdict::Caution => Level::Moderate,
        LeakVerdict::Fail => Level::Poor,
    };
    let cycles = rows.first().map(|r| r.2.judged_cycles).unwrap_or(0);
    let one_time = rows.iter().filter(|r| r.1 == "RAM").map(|r| r.2.first_cycle_retained_mb).fold(f64::NAN, f64::max);
    let mut action = leak_action(worst).to_string();
    if one_time.is_finite() && one_time >= 10.0 {
        let _ = write!(
            action,
            "; the first cycle in a worker keeps up to +{one_time:.0} MB RAM for the worker's life (its one-time warm-up, not a leak: budget it per worker)"
        );
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: leak_table(&rows).some(),
        topic: Topic::LeakDetection,
        provider,
        level,
        verdict: format!("{worst} over {cycles} load/unload cycles after the first (worst of {} series)", rows.len()),
        action,
        evidence: rows
            .iter()
            .map(|(m, what, s)| {
                format!(
                    "{} {what}: {} growth {:+.1} MB after trim over {} cycles ({:+.1} MB without), slope {:+.2} MB/cycle; first cycle kept {:+.1} MB (one-time)",
                    label(m),
                    s.verdict,
                    s.growth_after_trim_mb,
                    s.judged_cycles,
                    s.growth_mb,
                    s.slope_after_trim_mb_per_cycle.unwrap_or(0.0),
                    s.first_cycle_retained_mb
                )
            })
            .collect(),
        figures: rows.iter().map(|(m, what, s)| (format!("{m}.{what}.growth_after_trim_mb"), s.growth_after_trim_mb)).collect(),
    })
}

/// How many models the concurrent plan is for: the user's `--plan-models`, else the models benchmarked.
pub(crate) fn plan_models(asked: Option<usize>, benchmarked: usize) -> (usize, &'static str) {
    match asked {
        Some(n) => (n, "--plan-models"),
        None => (benchmarked.max(1), "the models benchmarked"),
    }
}

fn planning(provider: Provider, trials: &[&TrialRecord], cost: &WorkerCost, asked: Option<usize>, label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    let first_load_only = singles(trials).iter().any(|(_, s)| s.first_load_only());
    for (model, s) in singles(trials) {
        let footprint = if provider.memory().device_measured() {
            median(&s.summary.gpu_memory_increase_mb)
        } else {
            median(&s.summary.memory_increase_mb)
        };
        if let Some(f) = footprint {
            rows.push((model.to_string(), f.max(0.0), median(&s.summary.load_peak_mb)));
        }
    }
    let (largest_model, largest, _) = rows.iter().max_by(|a, b| a.1.total_cmp(&b.1))?.clone();
    let (base, warmup) = cost.planning_mb(provider);
    let per_worker = worker_budget_mb(largest, base, warmup);
    let (n, from) = plan_models(asked, rows.len());
    let n_models = concurrent_budget_mb(n, largest);
    let what = provider.memory().budget_label();
    let mut action = format!(
        "reserve {per_worker:.0} MB {what} per worker (1.5 x {largest:.0} MB + {base:.0} MB provider baseline + {warmup:.0} MB worker warm-up); for {} at once ({from}): ~{:.1} GB {what} minimum ({n} x {largest:.0} MB x 1.5 + 10% buffer)",
        models(n),
        crate::units::mib_to_gib(n_models)
    );
    if let Some(note) = provider.backend().memory_note() {
        let _ = write!(action, "; {note}");
    }
    if let Some(caveat) = provider.memory().caveat() {
        let _ = write!(action, "; {caveat}");
    }
    // A load can peak above the settled footprint: a memory limit set from the footprint alone kills it.
    let peaks: Vec<String> = rows
        .iter()
        .filter_map(|(m, f, peak)| {
            let transient = (*peak)?;
            (!provider.memory().device_measured() && transient > 1.5 * f + 1.0)
                .then(|| format!("{} peaks at +{transient:.0} MB while loading", label(m)))
        })
        .collect();
    if !peaks.is_empty() {
        let _ = write!(action, "; the load peak exceeds 1.5 x footprint: {}", peaks.join(", "));
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: {
            let mut table = EvidenceTable::new(&["Model", &format!("Footprint MB {what}"), "Load peak MB"]);
            for (m, f, peak) in &rows {
                table.rows.push(vec![m.clone(), format!("{f:.1}"), crate::report::num(*peak, 1)]);
            }
            table.some()
        },
        topic: Topic::ResourcePlanning,
        provider,
        level: Level::Good,
        verdict: format!(
            "Largest model footprint: {largest:.1} MB {what} ({}, {})",
            label(&largest_model),
            if first_load_only { "a fresh worker's first load, warm-up included: schema 1 run" } else { "in a warmed worker" }
        ),
        action,
        evidence: rows
            .iter()
            .map(|(m, f, peak)| {
                let peak = peak.map(|p| format!(", load peak +{p:.1} MB RAM")).unwrap_or_default();
                format!("{}: +{f:.1} MB {what} after first inference{peak}", label(m))
            })
            .collect(),
        figures: BTreeMap::from([
            ("largest_footprint_mb".into(), largest),
            ("provider_baseline_mb".into(), base),
            ("worker_warmup_mb".into(), warmup),
            ("per_worker_mb".into(), per_worker),
            ("concurrent_models_mb".into(), n_models),
            ("plan_models".into(), n as f64),
        ]),
    })
}

fn cold_start(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut rows = Vec::new();
    for t in trials {
        if let Some(Measurements::Cold(c)) = &t.measurements {
            if let (Some(warm), Some(ratio)) = (&c.warm_load, c.cold_to_warm_ratio) {
                rows.push((t.model().to_string(), c.cold.load_time_ms, warm.median, ratio, c.eviction_effective, c.first_load.is_some()));
            }
        }
    }
    let counted: Vec<_> = rows.iter().filter(|r| r.4).collect();
    // The headline ratio is the worst of the cold loads that matter in time, where there are some.
    let matter: Vec<_> = counted.iter().filter(|r| r.1 - r.2 >= COLD_START_MIN_EXTRA_MS).collect();
    let worst_of = |v: &mut dyn Iterator<Item = f64>| v.fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))));
    let worst = worst_of(&mut matter.iter().map(|r| r.3)).or_else(|| worst_of(&mut counted.iter().map(|r| r.3)))?;
    let most_extra = counted.iter().map(|r| r.1 - r.2).fold(f64::MIN, f64::max);
    // Each model graded on its ratio and what the ratio costs in time; the worst grade stands.
    let level = counted.iter().map(|r| cold_start_level(r.3, r.1 - r.2)).max()?;
    let mut action = if level > Level::Excellent {
        "cold loads cost more than warm ones: keep model files on a persistent local volume, pre-download at build time, and never clear the cache in production".to_string()
    } else if worst >= 1.5 {
        format!(
            "cold loads cost at most {most_extra:+.0} ms more than warm ones here (below the {COLD_START_MIN_EXTRA_MS:.0} ms that matters): storage is not the bottleneck"
        )
    } else {
        "cold and warm loads are close here: storage is not the bottleneck".to_string()
    };
    if rows.iter().any(|r| !r.5) {
        action.push_str(" (some cold loads were the worker's first load and include its one-time warm-up: schema 1 run)");
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: {
            let mut table = EvidenceTable::new(&["Model", "Cold ms", "Warm ms (back to back)", "Ratio", "Extra ms", "Counted"]);
            for (m, cold, warm, ratio, eff, _) in &rows {
                table.rows.push(vec![
                    m.clone(),
                    format!("{cold:.0}"),
                    format!("{warm:.0}"),
                    format!("{ratio:.1}x"),
                    format!("{:+.0}", cold - warm),
                    if *eff { "yes".into() } else { "no: eviction not effective".into() },
                ]);
            }
            table.some()
        },
        topic: Topic::ColdStart,
        provider,
        level,
        verdict: format!("Cold load up to {worst:.1}x the warm load (back to back), at most {most_extra:+.0} ms"),
        action,
        evidence: rows
            .iter()
            .map(|(m, cold, warm, ratio, eff, _)| {
                let note = if *eff { "" } else { " (eviction not effective here: not counted)" };
                format!(
                    "{}: cold {cold:.0} ms vs warm median {warm:.0} ms back to back ({ratio:.1}x, {:+.0} ms){note}",
                    label(m),
                    cold - warm
                )
            })
            .collect(),
        figures: BTreeMap::from([("max_cold_to_warm_ratio".into(), worst), ("max_cold_extra_ms".into(), most_extra)]),
    })
}

fn concurrency(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let (trial, c) = trials.iter().find_map(|t| match &t.measurements {
        Some(Measurements::Concurrent(c)) => Some((t, c)),
        _ => None,
    })?;
    let total = c.total_increase_mb?;
    let singles: BTreeMap<&str, f64> =
        singles(trials).into_iter().filter_map(|(m, s)| Some((m, median(&s.summary.memory_increase_mb)?))).collect();
    let known: Vec<f64> = trial.models.iter().filter_map(|m| singles.get(m.as_str()).copied()).collect();
    if known.len() != trial.models.len() {
        return None;
    }
    let sum: f64 = known.iter().sum();
    let largest = known.iter().copied().fold(0.0, f64::max);
    let rule = trial.models.len() as f64 * largest * 1.5;
    let holds = total <= rule;
    let level = if holds { Level::Good } else { Level::Poor };
    Some(Recommendation {
        machine_class: None,
        evidence_table: {
            let mut table = EvidenceTable::new(&["Model", "Load ms, all at once"]);
            for m in &c.per_model {
                table.rows.push(vec![m.model.clone(), format!("{:.0}", m.load_time_ms)]);
            }
            table.some()
        },
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

/// Different models cycled through one worker: what each new model adds for good, and whether the
/// rounds after the first grow.
fn rotation(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let r = trials.iter().find_map(|t| match &t.measurements {
        Some(Measurements::Rotation(r)) => Some(r),
        _ => None,
    })?;
    let mut series = vec![("RAM", r.rss.as_ref()?)];
    series.extend(r.gpu.as_ref().map(|g| ("VRAM", g)));
    let worst = series.iter().map(|(_, s)| s.verdict).max()?;
    let level = match worst {
        LeakVerdict::Pass => Level::Excellent,
        LeakVerdict::Caution => Level::Moderate,
        LeakVerdict::Fail => Level::Poor,
    };
    let rss = &r.rss.as_ref()?;
    let rounds = rss.after_round_mb.len();
    let later: f64 = rss.first_round_added.iter().skip(1).map(|a| a.mb).sum();
    let first = rss.first_round_added.first().map_or(0.0, |a| a.mb);
    let tied_to = if later.abs() < 10.0 * rss.first_round_added.len().saturating_sub(1).max(1) as f64 {
        "the worker (later models added little)"
    } else {
        "each new set of operators and kernels (later models added their own)"
    };
    let action = match worst {
        LeakVerdict::Pass => format!(
            "one long-lived worker can cycle these models: the one-time cost is tied to {tied_to}; budget the largest first-round total (+{:.0} MB) once per worker",
            first + later
        ),
        _ => format!(
            "cycling these models through one worker grows memory: recycle workers after a bounded number of loads, or isolate models in their own workers; the one-time cost is tied to {tied_to}"
        ),
    };
    let mut evidence: Vec<String> =
        rss.first_round_added.iter().map(|a| format!("{}: first load added {:+.1} MB RAM for good", label(&a.model), a.mb)).collect();
    for (what, s) in &series {
        evidence.push(format!(
            "{what}: {} growth {:+.1} MB from round 1 to round {rounds}, after each round {:?} MB",
            s.verdict,
            s.growth_mb,
            s.after_round_mb.iter().map(|v| v.round()).collect::<Vec<_>>()
        ));
    }
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::ModelRotation,
        provider,
        level,
        verdict: format!("{worst}: {} cycled {rounds} times through one worker", models(rss.first_round_added.len())),
        action,
        evidence,
        figures: BTreeMap::from([
            ("first_model_added_mb".into(), first),
            ("later_models_added_mb".into(), later),
            ("growth_after_first_round_mb".into(), rss.growth_mb),
        ]),
    })
}

/// The target: the best configuration within this multiple of the hardware's floor.
pub(crate) const FLOOR_TARGET: f64 = 2.0;
/// A load path that slows every inference by more than this share is not a faster load path: a
/// server pays it on every request.
pub(crate) const STEADY_SLOWDOWN_LIMIT: f64 = 0.10;

/// The fastest load path whose outputs agree with the default's, per model: its gain, its distance to
/// the floor, what it costs, and where the time goes when it is far from the floor.
fn load_path(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    use crate::levers::Lever;
    // Runs with each load's first answer are judged on it; older runs on the load alone.
    if trials.iter().any(|t| matches!(&t.measurements, Some(Measurements::Levers(m)) if m.chosen.is_some())) {
        return first_answer_path(provider, trials, label);
    }
    let mut evidence = Vec::new();
    let mut worst_ratio: Option<f64> = None;
    let mut best_levers: Vec<String> = Vec::new();
    let mut figures = BTreeMap::new();
    for t in trials {
        let Some(Measurements::Levers(m)) = &t.measurements else { continue };
        let find = |l: Lever| m.levers.iter().find(|x| x.lever == l && x.error.is_none());
        let Some(default) = find(Lever::Default) else { continue };
        let Some(d) = default.load_ms.as_ref() else { continue };
        let agrees =
            |l: &&crate::results::LeverResult| l.error.is_none() && l.load_ms.is_some() && l.agreement.as_ref().is_none_or(|a| a.same);
        let keeps_pace = |l: &&crate::results::LeverResult| {
            l.steady_p50_ms.zip(default.steady_p50_ms).is_none_or(|(x, d)| x <= (1.0 + STEADY_SLOWDOWN_LIMIT) * d)
        };
        let faster_but_slower: Vec<String> = m
            .levers
            .iter()
            .filter(agrees)
            .filter(|l| !keeps_pace(l) && l.load_ms.as_ref().is_some_and(|s| s.max < d.min))
            .map(|l| {
                let p50 = l.steady_p50_ms.zip(default.steady_p50_ms).map(|(x, d)| (x / d - 1.0) * 100.0).unwrap_or(0.0);
                format!("{} loads in {:.0} ms but slows inference (p50 {p50:+.0}%)", l.label, l.load_ms.as_ref().map_or(0.0, |s| s.median))
            })
            .collect();
        let usable = m.levers.iter().filter(agrees).filter(keeps_pace);
        let Some(best) = usable.min_by(|a, b| {
            a.load_ms.as_ref().map(|s| s.median).unwrap_or(f64::MAX).total_cmp(&b.load_ms.as_ref().map(|s| s.median).unwrap_or(f64::MAX))
        }) else {
            continue;
        };
        let b = best.load_ms.as_ref().expect("filtered on it");
        let model = t.model();
        let clear = b.max < d.min;
        let mut line = format!(
            "{}: default {:.0} ms ({:.0}..{:.0}); best {} {:.0} ms ({:.0}..{:.0}), {:.2}x{}",
            label(model),
            d.median,
            d.min,
            d.max,
            best.label,
            b.median,
            b.min,
            b.max,
            d.median / b.median,
            if clear || best.lever == Lever::Default { "" } else { " (within noise)" }
        );
        if let Some(floor) = m.floor.floor_ms.filter(|f| *f > 0.0) {
            let ratio = b.median / floor;
            worst_ratio = Some(worst_ratio.map_or(ratio, |w| w.max(ratio)));
            let _ = write!(line, "; floor {floor:.0} ms: default {:.1}x, best {ratio:.1}x the floor", d.median / floor);
            figures.insert(format!("{model}.best_over_floor"), ratio);
            if ratio > FLOOR_TARGET {
                // Where the time goes: graph optimisation (default minus optimisation disabled), then
                // building the session and handling weights (optimisation disabled minus the floor).
                if let Some(off) =
                    find(Lever::Optimization { level: crate::provider::setup::OptLevel::Disabled }).and_then(|l| l.load_ms.as_ref())
                {
                    let _ = write!(
                        line,
                        "; of the default's load, graph optimisation takes {:.0} ms and building the session and its weights {:.0} ms beyond reading the files",
                        (d.median - off.median).max(0.0),
                        (off.median - floor).max(0.0)
                    );
                }
            }
        }
        // What the best configuration costs elsewhere.
        let delta = |x: Option<f64>, y: Option<f64>| x.zip(y).map(|(x, y)| x - y);
        let mut costs = Vec::new();
        if let Some(v) = delta(best.first_inference_ms.as_ref().map(|s| s.median), default.first_inference_ms.as_ref().map(|s| s.median)) {
            costs.push(format!("first inference {v:+.0} ms"));
        }
        if let Some(v) = delta(best.steady_p50_ms, default.steady_p50_ms) {
            costs.push(format!("p50 {v:+.1} ms"));
        }
        if let Some(v) = delta(median(&best.gpu_memory_increase_mb), median(&default.gpu_memory_increase_mb)) {
            costs.push(format!("VRAM {v:+.0} MB"));
        }
        if best.lever != Lever::Default && !costs.is_empty() {
            let _ = write!(line, "; against the default: {}", costs.join(", "));
        }
        if !faster_but_slower.is_empty() {
            let _ = write!(line, "; not counted: {}", faster_but_slower.join(", "));
        }
        figures.insert(format!("{model}.default_load_ms"), d.median);
        figures.insert(format!("{model}.best_load_ms"), b.median);
        if clear && best.lever != Lever::Default {
            best_levers.push(format!("{} for {}", best.label, label(model)));
        }
        evidence.push(line);
    }
    if evidence.is_empty() {
        return None;
    }
    let level = match worst_ratio {
        Some(r) if r <= FLOOR_TARGET => Level::Excellent,
        _ if !best_levers.is_empty() => Level::Good,
        _ => Level::Moderate,
    };
    let action = if best_levers.is_empty() {
        "ONNX Runtime's defaults are as fast as any configuration tried here (within noise)".to_string()
    } else {
        format!(
            "load with {}; a pre-optimised model is made by `mora optimize MODEL --provider {provider}` and is valid for this runtime version and provider only",
            best_levers.join(", ")
        )
    };
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::LoadPath,
        provider,
        level,
        verdict: match worst_ratio {
            Some(r) => format!("Best load path within {r:.1}x of the hardware's floor (target {FLOOR_TARGET:.0}x)"),
            None => "Load path measured (no floor on this machine)".into(),
        },
        action,
        evidence,
        figures,
    })
}

/// The configuration chosen per model for the fastest first answer ([`crate::levers::choice`]):
/// the default's and its first answer with their spreads, against the floor plus a steady inference,
/// what it costs, the phase that is left, and the faster configurations passed over and why.
fn first_answer_path(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    use crate::levers::Lever;
    let mut evidence = Vec::new();
    let mut worst: Option<f64> = None;
    let mut chosen: Vec<String> = Vec::new();
    let mut figures = BTreeMap::new();
    let range = |s: &Summary| format!("{:.0} ms ({:.0}..{:.0})", s.median, s.min, s.max);
    for t in trials {
        let Some(Measurements::Levers(m)) = &t.measurements else { continue };
        let Some(c) = &m.chosen else { continue };
        let model = t.model();
        let mut line = format!("{}: first answer default {}", label(model), range(&c.default_first_answer_ms));
        if c.lever == Lever::Default {
            line.push_str("; no configuration is faster with the same outputs and steady p50");
        } else {
            let _ = write!(line, "; fastest {} {}, {}", c.label, range(&c.first_answer_ms), c.versus_default.note);
        }
        if let (Some(target), Some(over)) = (c.target_ms, c.over_target) {
            worst = Some(worst.map_or(over, |w| w.max(over)));
            let default = c.default_over_target.map(|d| format!("default {d:.1}x, ")).unwrap_or_default();
            let _ = write!(line, "; against the floor + its p50 ({target:.0} ms): {default}chosen {over:.1}x");
            figures.insert(format!("{model}.first_answer_over_target"), over);
        }
        let row = m.levers.iter().find(|l| l.lever == c.lever);
        if let Some(left) = row.and_then(|l| l.biggest_left()) {
            let _ = write!(line, "; biggest phase left: {left}");
        }
        if let Some(p50) = row.and_then(|l| l.steady_vs_default.as_ref()) {
            let _ = write!(line, "; its steady p50 against the default's: {}", p50.note);
        }
        if !c.passed_over.is_empty() {
            let _ = write!(line, "; passed over: {}", c.passed_over.join("; "));
        }
        figures.insert(format!("{model}.default_first_answer_ms"), c.default_first_answer_ms.median);
        figures.insert(format!("{model}.chosen_first_answer_ms"), c.first_answer_ms.median);
        if c.beats_default && c.lever != Lever::Default {
            chosen.push(format!("{} for {}", c.label, label(model)));
        }
        evidence.push(line);
    }
    if evidence.is_empty() {
        return None;
    }
    let level = match worst {
        Some(r) if r <= FLOOR_TARGET => Level::Excellent,
        _ if !chosen.is_empty() => Level::Good,
        _ => Level::Moderate,
    };
    let action = if chosen.is_empty() {
        "ONNX Runtime's defaults answer first as fast as any configuration tried here (within noise)".to_string()
    } else {
        format!(
            "load with {}; a pre-optimised model is made by `mora optimize MODEL --provider {provider}` and is valid for this runtime version and provider only",
            chosen.join(", ")
        )
    };
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::LoadPath,
        provider,
        level,
        verdict: match worst {
            Some(r) => format!("First answer within {r:.1}x of the floor plus a steady inference (target {FLOOR_TARGET:.0}x)"),
            None => "Time to first answer measured (no floor on this machine)".into(),
        },
        action,
        evidence,
        figures,
    })
}

/// Which memory configuration gives the most back after an unload, what the release costs the next
/// load, and what an extra replica costs.
fn memory_levers(provider: Provider, trials: &[&TrialRecord], label: Label) -> Option<Recommendation> {
    let mut evidence = Vec::new();
    let mut figures = BTreeMap::new();
    let mut picks = Vec::new();
    for t in trials {
        let Some(Measurements::MemoryLevers(m)) = &t.measurements else { continue };
        let tried: Vec<_> = m.configs.iter().filter(|c| c.error.is_none()).collect();
        let back = |c: &&crate::results::MemoryConfigResult| median(&c.reclaimed_pct).unwrap_or(f64::NAN);
        let Some(default) = tried.iter().find(|c| c.config == crate::levers::memory::MemoryConfig::Default) else { continue };
        let Some(best) = tried.iter().max_by(|a, b| back(a).total_cmp(&back(b))) else { continue };
        let model = label(t.model());
        let mut line = format!(
            "{model}: a plain unload gives back {:.0}% by default, {:.0}% with {}; the allocator's release call brings the default to {:.0}%",
            back(default),
            back(best),
            best.label,
            median(&default.reclaimed_after_trim_pct).unwrap_or(f64::NAN)
        );
        if let (Some(kept), Some(released)) = (median(&default.load_without_trim_ms), median(&default.load_after_trim_ms)) {
            let _ = write!(line, "; releasing costs the next load {:+.0} ms ({kept:.0} -> {released:.0} ms)", released - kept);
            figures.insert(format!("{}.release_costs_next_load_ms", t.model()), released - kept);
        }
        if let (Some(alone), Some(shared)) = (median(&default.replica_extra_mb), median(&default.replica_extra_shared_mb)) {
            let _ = write!(line, "; each extra replica +{alone:.0} MB (+{shared:.0} MB sharing prepacked weights)");
            figures.insert(format!("{}.replica_extra_mb", t.model()), alone);
        }
        if let (Some(disk), Some(memory)) = (median(&default.load_ms), median(&default.reload_from_memory_ms)) {
            let _ = write!(line, "; a reload from bytes in RAM takes {memory:.0} ms against {disk:.0} ms from the file");
        }
        let not_tried: Vec<String> = m.configs.iter().filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.label))).collect();
        if !not_tried.is_empty() {
            let _ = write!(line, "; not tried: {}", not_tried.join("; "));
        }
        figures.insert(format!("{}.default_reclaimed_pct", t.model()), back(default));
        figures.insert(format!("{}.best_reclaimed_pct", t.model()), back(best));
        if back(best) > back(default) + 10.0 {
            picks.push(format!("{} for {model}", best.label));
        }
        evidence.push(line);
    }
    if evidence.is_empty() {
        return None;
    }
    let action = if picks.is_empty() {
        "no configuration gives clearly more back on unload than the default; call the allocator's release (malloc_trim(0) under glibc) after an unload when memory matters more than the next load's time".to_string()
    } else {
        format!(
            "to give more back on unload use {}; or keep the default and call the allocator's release after an unload, weighing the memory returned against the next load's cost below",
            picks.join(", ")
        )
    };
    Some(Recommendation {
        machine_class: None,
        evidence_table: None,
        topic: Topic::MemoryLevers,
        provider,
        level: if picks.is_empty() { Level::Good } else { Level::Moderate },
        verdict: "What an unload gives back under each memory configuration".into(),
        action,
        evidence,
        figures,
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "1 model", "3 models".
fn models(n: usize) -> String {
    if n == 1 { "1 model".into() } else { format!("{n} models") }
}

#[cfg(test)]
mod tests {
    //! The advice on results built by hand: each rule's verdict and the numbers it names.
    use super::*;
    use crate::results::ResultsFile;
    use serde_json::{Value, json};

    /// The first GPU run's CPU and CUDA trials of one model (its copy in tests/fixtures/runs/), as a base to edit.
    fn base() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runs/20261127T114236Z-h200/results.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let keep = |t: &Value| t["models"] == json!(["gpt2"]);
        let trials: Vec<Value> = v["trials"].as_array().unwrap().iter().filter(|t| keep(t)).cloned().collect();
        v["trials"] = Value::Array(trials);
        v
    }

    fn judged(v: &Value) -> ResultsFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
        let mut r = crate::results::read(&path).unwrap();
        judge(&mut r);
        r
    }

    fn advice(r: &ResultsFile, topic: Topic, provider: Provider) -> Recommendation {
        r.recommendations
            .iter()
            .find(|a| a.topic == topic && a.provider == provider)
            .cloned()
            .unwrap_or_else(|| panic!("no {topic} for {provider}"))
    }

    fn trial_mut<'a>(v: &'a mut Value, id: &str) -> &'a mut Value {
        v["trials"].as_array_mut().unwrap().iter_mut().find(|t| t["id"] == id).unwrap()
    }

    #[test]
    fn a_flat_series_after_a_first_cycle_step_passes_and_names_the_one_time_cost() {
        let r = judged(&base());
        let leak = advice(&r, Topic::LeakDetection, Provider::named("cuda"));
        assert_eq!(leak.level, Level::Excellent);
        assert!(leak.action.contains("up to +162 MB RAM for the worker's life"), "{}", leak.action);
        assert!(leak.figures["gpt2.RAM.growth_after_trim_mb"] < 1.0);
    }

    #[test]
    fn growth_after_the_first_cycle_fails_and_says_isolate() {
        let mut v = base();
        let leak = trial_mut(&mut v, "cuda/gpt2/leak");
        // Each cycle after the first keeps 30 MB more.
        for (i, cycle) in leak["measurements"]["cycles"].as_array_mut().unwrap().iter_mut().enumerate() {
            let rss = cycle["after_trim"]["rss_mb"].as_f64().unwrap();
            cycle["after_trim"]["rss_mb"] = json!(rss + 30.0 * i as f64);
        }
        let r = judged(&v);
        let advice = advice(&r, Topic::LeakDetection, Provider::named("cuda"));
        assert_eq!(advice.level, Level::Poor);
        assert!(advice.action.starts_with("memory leak detected: use subprocess isolation"), "{}", advice.action);
        assert!((advice.figures["gpt2.RAM.growth_after_trim_mb"] - 60.7).abs() < 0.1);
    }

    #[test]
    fn a_worker_is_sized_for_its_largest_model_its_baseline_and_its_warm_up() {
        let r = judged(&base());
        let plan = advice(&r, Topic::ResourcePlanning, Provider::named("cuda"));
        // 1.5 x 1154 MB of arena + 536 MB baseline + gpt2's first cycle kept no VRAM.
        assert_eq!(plan.figures["per_worker_mb"], 1.5 * 1154.0 + 536.0);
        assert!(plan.action.contains("arena reserved"), "{}", plan.action);
        let cpu = advice(&r, Topic::ResourcePlanning, Provider::CPU);
        assert_eq!(
            cpu.figures["worker_warmup_mb"],
            cpu.figures["per_worker_mb"] - 1.5 * cpu.figures["largest_footprint_mb"] - cpu.figures["provider_baseline_mb"]
        );
    }

    #[test]
    fn reclamation_that_trim_completes_recommends_trim_with_both_figures() {
        let r = judged(&base());
        let memory = advice(&r, Topic::MemoryManagement, Provider::CPU);
        // gpt2 on CPU: 73.3 % by the unload, 99.3 % after malloc_trim: the advice is to trim, so
        // the verdict grades the trimmed state, naming the plain one beside it.
        assert_eq!(memory.level, Level::Excellent);
        assert!(memory.verdict.contains("with malloc_trim(0) after each unload (avg 99.3%; 73.3% without: good)"), "{}", memory.verdict);
        assert!(
            memory.action.starts_with("with malloc_trim(0) after each unload, in-process unload is enough (99.3% given back); without it, in-process unload will do"),
            "{}",
            memory.action
        );
    }

    #[test]
    fn a_fresh_worker_slower_than_the_warm_tiers_says_start_workers_ahead() {
        let mut r = judged(&base());
        // As schema 2 records it: spawn-to-ready of three fresh workers, 6 to 7 s.
        if let Some(Measurements::Single(s)) = r.trials.iter_mut().find(|t| t.id == "cpu/gpt2/single").and_then(|t| t.measurements.as_mut())
        {
            s.summary.spawn_to_ready_ms = crate::stats::Summary::of(&[6000.0, 6500.0, 7000.0]);
        }
        r.recommendations = recommend(&r);
        let loading = advice(&r, Topic::LoadingStrategy, Provider::CPU);
        assert!(loading.action.contains("a fresh worker answers its first request after up to 7000 ms"), "{}", loading.action);
        assert!(loading.action.contains("start workers ahead of demand"), "{}", loading.action);
        assert_eq!(loading.figures["max_fresh_worker_ready_ms"], 7000.0);
        // The advice says start workers ahead, so the verdict is not "excellent": it grades the
        // whole answer, the fresh worker's 7 s (moderate) with the running worker's tier beside it.
        assert_eq!(loading.level, Level::Moderate);
        assert!(loading.verdict.starts_with("Moderate as a whole: excellent in a running worker"), "{}", loading.verdict);
    }

    #[test]
    fn memory_verdicts_grade_the_answer_they_give() {
        // (avg plain %, avg after trim %, level, words in the verdict)
        let table = [
            (41.6, 99.9, Level::Excellent, "with malloc_trim(0) after each unload (avg 99.9%; 41.6% without: poor)"),
            (90.1, 99.0, Level::Excellent, "after in-process unload (avg 90.1%)"),
            (90.0, 90.1, Level::Excellent, "with malloc_trim(0)"),
            (60.0, 85.0, Level::Good, "(avg 85.0%; 60.0% without: moderate)"),
            (49.9, 50.0, Level::Moderate, "(avg 50.0%; 49.9% without: poor)"),
            (40.0, 45.0, Level::Poor, "after in-process unload (avg 40.0%)"),
        ];
        for (plain, trimmed, level, words) in table {
            let (got, verdict) = memory_verdict("RAM", plain, trimmed);
            assert_eq!(got, level, "{plain} / {trimmed}");
            assert!(verdict.contains(words), "{plain} / {trimmed}: {verdict}");
        }
    }

    #[test]
    fn a_plan_is_for_the_models_benchmarked_unless_told() {
        assert_eq!(plan_models(None, 9), (9, "the models benchmarked"));
        assert_eq!(plan_models(None, 1), (1, "the models benchmarked"));
        assert_eq!(plan_models(None, 0), (1, "the models benchmarked"));
        assert_eq!(plan_models(Some(10), 1), (10, "--plan-models"));
        // base() benchmarks gpt2 alone: the plan is for one model, not the seed's ten.
        let r = judged(&base());
        let plan = advice(&r, Topic::ResourcePlanning, Provider::CPU);
        assert_eq!(plan.figures["plan_models"], 1.0);
        assert!(plan.action.contains("for 1 model at once (the models benchmarked)"), "{}", plan.action);
        let mut v = base();
        v["run"]["settings"]["plan_models"] = json!(10);
        let plan = advice(&judged(&v), Topic::ResourcePlanning, Provider::CPU);
        assert_eq!(plan.figures["plan_models"], 10.0);
        assert!((plan.figures["concurrent_models_mb"] - concurrent_budget_mb(10, plan.figures["largest_footprint_mb"])).abs() < 1e-9);
        assert!(plan.action.contains("for 10 models at once (--plan-models)"), "{}", plan.action);
    }

    #[test]
    fn per_model_evidence_is_one_small_table_holding_the_sentences_figures() {
        let r = judged(&base());
        for (topic, header, first) in [
            (Topic::LoadingStrategy, vec!["Model", "Warm load ms", "First inf ms", "Request ms", "Fresh ready ms"], "gpt2"),
            (Topic::MemoryManagement, vec!["Model", "Unload gives back %", "After trim %"], "gpt2"),
            (Topic::LeakDetection, vec!["Series", "Verdict", "Growth MB", "No trim MB", "MB/cycle", "First cycle MB"], "gpt2 RAM"),
            (Topic::ResourcePlanning, vec!["Model", "Footprint MB RAM", "Load peak MB"], "gpt2"),
            (Topic::ColdStart, vec!["Model", "Cold ms", "Warm ms (back to back)", "Ratio", "Extra ms", "Counted"], "gpt2"),
        ] {
            let a = advice(&r, topic, Provider::CPU);
            let table = a.evidence_table.as_ref().unwrap_or_else(|| panic!("{topic}: no table"));
            assert_eq!(table.header, header, "{topic}");
            assert_eq!(table.rows.len(), a.evidence.len(), "{topic}: a row per sentence");
            assert_eq!(table.rows[0][0], first, "{topic}");
            // Every figure of a row is in its sentence too: results.json keeps both.
            for (row, sentence) in table.rows.iter().zip(&a.evidence) {
                for figure in row.iter().skip(1).filter_map(|c| c.split([' ', 'x', '+']).find(|w| w.parse::<f64>().is_ok())) {
                    let bare = figure.trim_start_matches('+');
                    assert!(sentence.contains(bare), "{topic}: {figure} of {row:?} not in {sentence}");
                }
            }
        }
        // The memory row: the plain unload's median and the after-trim figure, as the sentence.
        let memory = advice(&r, Topic::MemoryManagement, Provider::CPU);
        assert_eq!(memory.evidence_table.unwrap().rows[0][1..], ["73.3 (n=1)".to_string(), "99.3".to_string()]);
    }

    #[test]
    fn a_cold_load_a_few_ms_slower_is_not_a_cold_start_problem() {
        let mut v = base();
        let cold = trial_mut(&mut v, "cpu/gpt2/cold");
        // 20 ms cold against 4 ms warm: 5x, but 16 ms.
        let m = &mut cold["measurements"];
        m["cold"]["load_time_ms"] = json!(20.0);
        m["warm_load"]["median"] = json!(4.0);
        m["cold_to_warm_ratio"] = json!(5.0);
        m["eviction_effective"] = json!(true);
        let r = judged(&v);
        let advice = advice(&r, Topic::ColdStart, Provider::CPU);
        assert_eq!(advice.level, Level::Excellent, "{}", advice.verdict);
        assert!(advice.action.contains("below the 100 ms that matters"), "{}", advice.action);
        assert!(advice.figures["max_cold_to_warm_ratio"] > 4.0);
    }
}
