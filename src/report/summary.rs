//! The summary every report opens with, on one screen: per provider (and machine class in a fleet)
//! the seed's three answers, each with its verdict and the figure it rests on, then one row per
//! model. It condenses what the recommendations and the tables below say; it computes nothing they
//! do not (the answers are read from the recommendations, the rows from the same trials).

use std::fmt::Write as _;

use crate::advice::rules::{load_answer, load_level, reclamation_answer, reclamation_level};
use crate::report::num;
use crate::report::sections::{Section, singles, trials};
use crate::results::heap::{HeapState, warm_load};
use crate::results::recommendation::{Level, Recommendation, Topic};
use crate::results::{LeakVerdict, Measurements, ResultsFile, TrialRecord};
use crate::runtime::Provider;

pub(crate) struct Summary {
    pub title: String,
    /// One per provider (per machine class and provider in a fleet), in the recommendations' order.
    pub blocks: Vec<Block>,
    /// What the columns mean, once for every block.
    pub notes: Vec<String>,
}

/// One provider's answers and models. Another summary of the same provider (a comparison of
/// backends, say) adds its table to `extra`, drawn after the models.
pub(crate) struct Block {
    pub heading: String,
    pub answers: Vec<Answer>,
    pub models: Option<Section>,
    pub extra: Vec<Section>,
}

/// One of the seed's questions, answered: the verdict, and the answer with the figure it rests on.
pub(crate) struct Answer {
    pub question: String,
    pub level: Level,
    pub answer: String,
}

pub(crate) fn build(r: &ResultsFile) -> Option<Summary> {
    // One block per provider (and machine class), in the order the advice names them; the advice
    // across backends goes into its baseline's block.
    let mut scopes: Vec<(Provider, Option<String>)> = Vec::new();
    for x in r.recommendations.iter().filter(|x| x.topic != Topic::BackendChoice) {
        let scope = (x.provider, x.machine_class.clone());
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let mut blocks = Vec::new();
    let mut states = Vec::new();
    for (provider, class) in scopes {
        let advice =
            |topic: Topic| r.recommendations.iter().find(|x| x.provider == provider && x.machine_class == class && x.topic == topic);
        let mut answers: Vec<Answer> = [
            loading(advice(Topic::LoadingStrategy)),
            unloading(advice(Topic::MemoryManagement)),
            planning(advice(Topic::ResourcePlanning)),
            advice(Topic::BackendChoice).map(|x| Answer {
                question: "Backend per model".into(),
                level: x.level,
                answer: x.verdict.clone(),
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        if answers.is_empty() {
            // The seed's questions need the single scenario; a run of other scenarios answers its own.
            answers = r
                .recommendations
                .iter()
                .filter(|x| x.provider == provider && x.machine_class == class)
                .map(|x| Answer { question: x.topic.to_string(), level: x.level, answer: x.verdict.clone() })
                .collect();
        }
        // A fleet's trials come from several hosts: its per-model figures are in each host's tables.
        let models = if class.is_none() { models(r, provider, &mut states) } else { None };
        let count = models.as_ref().map(|m| format!(": {}", crate::report::count(m.rows.len(), "model"))).unwrap_or_default();
        let heading = match &class {
            Some(c) => format!("{provider} on {c}"),
            None => format!("{provider}{count}"),
        };
        blocks.push(Block { heading, answers, models, extra: vec![] });
    }
    if blocks.is_empty() {
        return None;
    }
    states.sort_by_key(|s: &HeapState| s.short());
    states.dedup();
    let warm = if states.is_empty() {
        HeapState::AfterUnloadAndTrim.short().to_string()
    } else {
        states.iter().map(|s| s.short()).collect::<Vec<_>>().join(" or ")
    };
    let notes = vec![format!(
        "Warm: load + first inference in a running worker, {warm}; fresh: a new worker's spawn to first answer. MB: footprint (VRAM: the CUDA arena's); base: provider baseline + worker warm-up. Back %: what unload gives back, plain / after malloc_trim(0). Medians."
    )];
    Some(Summary { title: "Summary: lazy loading or pre-warm, unload or isolate, memory per worker".into(), blocks, notes })
}

/// Lazy loading or pre-warm: graded on the loads in a running worker, and on a fresh worker's first
/// answer where that is worse (the recommendation's level).
fn loading(x: Option<&Recommendation>) -> Option<Answer> {
    let x = x?;
    let avg = *x.figures.get("avg_cached_load_ms")?;
    let running = load_level(avg);
    let mut answer = format!("{} (avg warm load {avg:.0} ms", load_answer(running));
    if let Some(fresh) = x.figures.get("max_fresh_worker_ready_ms") {
        let fresh_level = load_level(*fresh);
        if fresh_level > running {
            answer = format!("{} (warm avg {avg:.0} ms); pre-start workers: fresh {fresh:.0} ms", load_answer(running));
            return Some(Answer { question: "Lazy load or pre-warm".into(), level: x.level, answer });
        }
        let _ = write!(answer, "; a fresh worker up to {fresh:.0} ms");
    }
    answer.push(')');
    Some(Answer { question: "Lazy load or pre-warm".into(), level: x.level, answer })
}

/// In-process unload or isolation: the answer with trim where trim changes it, both figures.
fn unloading(x: Option<&Recommendation>) -> Option<Answer> {
    let x = x?;
    let plain = *x.figures.get("avg_reclamation_pct")?;
    let trimmed = x.figures.get("avg_reclamation_after_trim_pct").copied().unwrap_or(plain);
    let answer = if reclamation_level(trimmed) < reclamation_level(plain) {
        format!("{} + malloc_trim(0): {trimmed:.1}% back ({plain:.1}% without)", reclamation_answer(reclamation_level(trimmed)))
    } else {
        format!("{}: {plain:.1}% back on average", reclamation_answer(reclamation_level(plain)))
    };
    Some(Answer { question: "Unload or isolate".into(), level: x.level, answer })
}

/// Memory per worker: the seed's rule, with the largest footprint it rests on.
fn planning(x: Option<&Recommendation>) -> Option<Answer> {
    let x = x?;
    let per_worker = *x.figures.get("per_worker_mb")?;
    let largest = x.figures.get("largest_footprint_mb").copied().unwrap_or(0.0);
    let what = x.provider.memory().budget_label();
    let own = per_worker - 1.5 * largest;
    let mut answer = format!("{per_worker:.0} MB {what} (1.5 x {largest:.0} MB + {own:.0} MB base)");
    if let (Some(mb), Some(n)) = (x.figures.get("concurrent_models_mb"), x.figures.get("plan_models")) {
        let _ = write!(answer, "; {}: {:.1} GB", crate::report::count(*n as usize, "model"), crate::units::mib_to_gib(*mb));
    }
    Some(Answer { question: "Memory per worker".into(), level: x.level, answer })
}

/// One row per model that ran the single scenario on `provider`: the first request warm and fresh,
/// the footprint, what an unload gives back, the leak verdict. `states` collects the warm loads' heap states.
fn models(r: &ResultsFile, provider: Provider, states: &mut Vec<HeapState>) -> Option<Section> {
    let memory = format!("{} MB", provider.memory().budget_label());
    let mut s = Section::new("Models", &["Model", "Warm ms", "Fresh ms", &memory, "Back % / trim", "Leak"]);
    let same = |t: &TrialRecord, u: &TrialRecord| u.model() == t.model() && u.point == t.point && u.provider == t.provider;
    let colds = trials(r, |m| if let Measurements::Cold(x) = m { Some(x.as_ref()) } else { None });
    let isolations = trials(r, |m| if let Measurements::Isolation(x) = m { Some(x.as_ref()) } else { None });
    let leaks = trials(r, |m| if let Measurements::Leak(x) = m { Some(x.as_ref()) } else { None });
    for (t, m) in singles(r).into_iter().filter(|(t, _)| t.provider == provider) {
        let x = &m.summary;
        let cold = colds.iter().find(|(u, _)| same(t, u)).map(|(_, c)| *c);
        let warm = warm_load(Some(m), cold);
        states.extend(warm.map(|w| w.state));
        let first_request = warm.and_then(|w| Some(w.load.median + w.first_inference?.median));
        let fresh = x
            .spawn_to_ready_ms
            .as_ref()
            .map(|s| s.median)
            .or_else(|| isolations.iter().find(|(u, _)| same(t, u)).map(|(_, i)| i.spawn_to_ready_ms));
        let (footprint, plain, trimmed) = if provider.memory().device_measured() {
            (&x.gpu_memory_increase_mb, &x.gpu_reclamation_percentage, &None)
        } else {
            (&x.memory_increase_mb, &x.reclamation_percentage, &x.reclamation_after_trim_percentage)
        };
        let med = |s: &Option<crate::stats::Summary>| s.as_ref().map(|s| s.median);
        let leak = leaks
            .iter()
            .find(|(u, _)| same(t, u))
            .map(|(_, l)| [Some(&l.rss), l.gpu.as_ref()].into_iter().flatten().map(|s| s.verdict).max().unwrap_or(LeakVerdict::Pass));
        s.rows.push(vec![
            t.model_label(),
            num(first_request, 0),
            num(fresh, 0),
            num(med(footprint), 0),
            format!("{} / {}", num(med(plain), 0), num(med(trimmed), 0)),
            leak.map_or("—".into(), |v| v.to_string()),
        ]);
    }
    (!s.rows.is_empty()).then_some(s)
}
