//! What `mora simulate` says, as sections (rendered by the report's table and Markdown renderers) and
//! SVG charts: the policies under the budget, the measured sizing multipliers, the recommendation,
//! and with a replay, simulated against replayed figures and the interference of loads.

use super::advice::{Advice, Setting};
use super::costs::{Costs, Sizing, UnloadMode};
use super::figures::{Figures, Interference};
use super::policy::Policy;
use super::run::Run;
use super::{PolicyRun, Setup};
use crate::report::chart::{self, Group, Line};
use crate::report::sections::Section;
use crate::report::table::{self, Terminal};
use crate::report::{markdown, num};
use std::fmt::Write as _;

use super::preset::MODELMESH_SIZE_MULTIPLIER as MODELMESH_MULTIPLIER;

/// A replay's run beside the simulation of the same policy.
pub(crate) struct Replayed<'a> {
    pub policy: Policy,
    pub simulated: &'a Run,
    /// The same plan simulated with each model's times measured again right after the replay.
    pub resimulated: Option<&'a Run>,
    pub replayed: &'a Run,
    /// Where the replay ran and anything that weakens its figures.
    pub notes: Vec<String>,
}

pub(crate) struct SimReport {
    pub title: String,
    pub facts: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub advice: Option<String>,
}

fn section(title: String, header: &[&str], rows: Vec<Vec<String>>, notes: Vec<String>) -> Section {
    Section { title, header: header.iter().map(|h| h.to_string()).collect(), rows, notes, host: None }
}

/// `trace_source`: where the trace came from, in words; `sizing`: the trace's models on every provider
/// of the profile's host.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    setup: &Setup,
    trace_source: &str,
    runs: &[PolicyRun],
    sweep: &[PolicyRun],
    sizing: &[Sizing],
    advice: Option<&Advice>,
    setting: Option<(&Setting, f64)>,
    replay: Option<&Replayed>,
) -> SimReport {
    let c = setup.costs;
    let kind = c.memory_kind();
    let facts = vec![
        ("Profile".into(), format!("host {}, {} (runs: {})", c.host, c.provider, c.runs.join(", "))),
        (
            "Trace".into(),
            format!(
                "{trace_source}: {} requests for {} models over {:.1} s",
                setup.trace.requests.len(),
                setup.trace.models.len(),
                setup.trace.duration_ms() / 1000.0
            ),
        ),
        ("Budget".into(), format!("{:.0} MB of {kind}", setup.budget_mb)),
        ("Unload".into(), describe_mode(setup.mode, c)),
        (
            "Interference".into(),
            if setup.interference > 1.0 {
                format!("a load and an inference running at once each run {:.2} x slower (--interference)", setup.interference)
            } else {
                "not modelled: loads and inferences run at their measured speed side by side (--interference 1)".into()
            },
        ),
    ];
    let mut sections = vec![policy_table(setup, runs)];
    if !sweep.is_empty() {
        sections.push(sweep_table(setup, sweep));
    }
    if let Some((found, target)) = setting {
        sections.push(setting_table(found, target, runs));
    }
    sections.push(sizing_table(sizing, setup));
    if let Some(r) = replay {
        sections.push(comparison(setup, r));
        sections.push(interference(r));
    }
    SimReport {
        title: format!("mora simulate: which models to keep loaded under {:.0} MB", setup.budget_mb),
        facts,
        sections,
        advice: advice.map(|a| match setting {
            Some((found, _)) => format!("{a}. Keep-alive and cap: {found}"),
            None => a.to_string(),
        }),
    }
}

fn describe_mode(mode: UnloadMode, c: &Costs) -> String {
    match mode {
        UnloadMode::InProcess => format!(
            "in-process: one worker (provider baseline {:.1} MB + warm-up {:.1} MB, once); an eviction drops the session and trims, giving back the measured share of the footprint",
            c.worker.baseline_mb, c.worker.warmup_mb
        ),
        UnloadMode::KillWorker => format!(
            "kill-worker: a worker per model (baseline {:.1} MB + warm-up {:.1} MB each); an eviction kills it, a load spawns one (spawn-to-ready)",
            c.worker.baseline_mb, c.worker.warmup_mb
        ),
    }
}

fn policy_table(setup: &Setup, runs: &[PolicyRun]) -> Section {
    let secs = |ms: f64| format!("{:.1}", ms / 1000.0);
    let header = [
        "policy",
        "hits",
        "hit rate",
        "loads",
        "evictions",
        "idle unloads",
        "thrash /h",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "paid a load",
        "their p95 / p99 ms",
        "peak MB",
        "MB-hours",
        "over budget s",
        "loading s",
        "pre-warm s",
    ];
    let rows = runs
        .iter()
        .map(|r| match &r.outcome {
            Ok(s) => {
                let f = &s.figures;
                vec![
                    r.policy.to_string(),
                    format!("{} / {}", f.hits, f.requests),
                    format!("{:.1} %", f.hit_rate * 100.0),
                    f.loads.to_string(),
                    f.evictions.to_string(),
                    f.idle_unloads.to_string(),
                    num(s.thrash_per_hour, 0),
                    num(Some(f.latency.mean), 1),
                    num(Some(f.latency.median), 1),
                    num(Some(f.latency.p95), 1),
                    num(Some(f.latency.p99), 1),
                    f.waited.to_string(),
                    format!("{} / {}", num(f.paid_load_p95_ms, 0), num(f.paid_load_p99_ms, 0)),
                    num(Some(f.peak_mb), 0),
                    num(Some(f.mb_hours), 2),
                    secs(f.over_budget_s * 1000.0),
                    secs(f.loading_ms),
                    secs(f.preload_ms),
                ]
            }
            Err(_) => {
                let mut row = vec![r.policy.to_string(), "does not fit".into()];
                row.resize(header.len(), "—".into());
                row
            }
        })
        .collect();
    let mut notes: Vec<String> = runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().err().map(|e| (r.policy, e)))
        .map(|(p, e)| {
            format!(
                "{p} does not fit: it needs {:.0} MB of {} against a budget of {:.0} MB",
                e.needs_mb,
                setup.costs.memory_kind(),
                setup.budget_mb
            )
        })
        .collect();
    let mut presets: Vec<_> = runs.iter().filter_map(|r| r.policy.preset).collect();
    presets.dedup();
    notes.extend(presets.iter().map(|p| format!("{p}: {}", p.source())));
    notes.push("hits: the model was resident or already loading; latency: from arrival to the end of the inference, waits for loads and the queue included; paid a load: requests that arrived before their model was ready".into());
    notes.push(format!(
        "idle unloads: a keep-alive ran out (counted from the model's last request's arrival); thrash: reloads of a model evicted within {:.0} s of its last use, per hour of trace; MB-hours: memory held from the trace's start to its last request; over budget: time above {:.0} MB; loading: the loading slot's busy time; pre-warm: loads before the first request",
        setup.thrash_window_ms / 1000.0,
        setup.budget_mb
    ));
    section(format!("Policies under {:.0} MB of {} (simulated)", setup.budget_mb, setup.costs.memory_kind()), &header, rows, notes)
}

fn sweep_table(setup: &Setup, sweep: &[PolicyRun]) -> Section {
    let base = sweep[0].policy.with_keep_alive(None);
    let rows = sweep
        .iter()
        .map(|r| {
            let mut row = vec![super::policy::keep_alive_label(r.policy.keep_alive_ms)];
            match &r.outcome {
                Ok(s) => {
                    let f = &s.figures;
                    row.extend([
                        f.loads.to_string(),
                        f.idle_unloads.to_string(),
                        f.waited.to_string(),
                        num(Some(f.latency.p95), 1),
                        num(Some(f.latency.p99), 1),
                        num(Some(f.mb_hours), 2),
                        num(Some(f.peak_mb), 0),
                    ]);
                }
                Err(e) => {
                    row.push(format!("does not fit ({:.0} MB)", e.needs_mb));
                    row.resize(8, "—".into());
                }
            }
            row
        })
        .collect();
    section(
        format!("Keep-alive sweep: {base} under {:.0} MB (simulated)", setup.budget_mb),
        &["keep-alive", "loads", "idle unloads", "paid a load", "p95 ms", "p99 ms", "MB-hours", "peak MB"],
        rows,
        vec!["A shorter keep-alive holds less memory over time and makes more requests pay a load: simulate-keep-alive.svg draws MB-hours against p99 with the policies above marked.".into()],
    )
}

/// The setting found beside what each compared policy (presets among them) gives on the same trace.
fn setting_table(found: &Setting, target: f64, runs: &[PolicyRun]) -> Section {
    let meets = |p99: f64| if p99 <= target { "yes" } else { "no" }.to_string();
    let mut rows = vec![vec![
        format!("{} (found)", found.policy),
        num(Some(found.p99_ms), 1),
        meets(found.p99_ms),
        num(Some(found.mb_hours), 2),
        num(Some(found.peak_mb), 0),
    ]];
    for r in runs {
        rows.push(match &r.outcome {
            Ok(s) => vec![
                r.policy.to_string(),
                num(Some(s.figures.latency.p99), 1),
                if s.over_budget { "no: over the budget".into() } else { meets(s.figures.latency.p99) },
                num(Some(s.figures.mb_hours), 2),
                num(Some(s.figures.peak_mb), 0),
            ],
            Err(e) => vec![r.policy.to_string(), format!("does not fit ({:.0} MB)", e.needs_mb), "no".into(), "—".into(), "—".into()],
        });
    }
    section(
        format!("Keep-alive and cap for p99 <= {target:.0} ms at the least MB-hours"),
        &["policy", "p99 ms", "meets", "MB-hours", "peak MB"],
        rows,
        vec![format!(
            "Searched: {} keep-alive and cap pairs on {}'s order, {} met the target; the found one is written as a lifecycle profile fragment to simulate-lifecycle.yaml with --out.",
            found.tried, found.policy.order, found.meeting
        )],
    )
}

fn sizing_table(sizing: &[Sizing], setup: &Setup) -> Section {
    let counts = setup.trace.counts();
    let requests = |model: &str| setup.trace.models.iter().position(|m| m == model).map_or(0, |i| counts[i]);
    let rows: Vec<Vec<String>> = sizing
        .iter()
        .map(|s| {
            let kind = crate::simulate::costs::budget_kind(s.provider);
            vec![
                s.model.clone(),
                format!("{} ({kind})", s.provider),
                num(Some(s.file_mb), 1),
                num(s.resident_mb(), 1),
                num(s.resident_per_file, 2),
                num(Some(s.file_mb * MODELMESH_MULTIPLIER), 1),
                match s.resident_mb() {
                    Some(r) if r > s.file_mb * MODELMESH_MULTIPLIER => {
                        format!("overcommits {:.1} MB", r - s.file_mb * MODELMESH_MULTIPLIER)
                    }
                    Some(r) => format!("wastes {:.1} MB", s.file_mb * MODELMESH_MULTIPLIER - r),
                    None => "—".into(),
                },
                requests(&s.model).to_string(),
            ]
        })
        .collect();
    let mut notes = Vec::new();
    let mut providers: Vec<_> = sizing.iter().map(|s| s.provider).collect();
    providers.sort();
    providers.dedup();
    for p in providers {
        let ratios: Vec<f64> = sizing.iter().filter(|s| s.provider == p).filter_map(|s| s.resident_per_file).collect();
        if let (Some(lo), Some(hi)) = (ratios.iter().copied().reduce(f64::min), ratios.iter().copied().reduce(f64::max)) {
            notes.push(format!("{p}: {lo:.2} to {hi:.2} x the file"));
        }
    }
    let measured = if notes.is_empty() { "nothing measured".to_string() } else { notes.join("; ") };
    section(
        "Measured resident size per MB of model file".into(),
        &["model", "provider", "file MB", "resident MB", "resident / file", "ModelMesh 1.25 x file", "ModelMesh's guess", "requests"],
        rows,
        vec![format!(
            "ModelMesh sizes a model at {MODELMESH_MULTIPLIER} x its file by default; measured here: {measured}. Set the multiplier from these, per provider."
        )],
    )
}

fn comparison(setup: &Setup, r: &Replayed) -> Section {
    let m = setup.figures(r.replayed);
    let sims: Vec<Figures> = std::iter::once(r.simulated).chain(r.resimulated).map(|run| setup.figures(run)).collect();
    let pct = |sim: f64, real: f64| if sim.abs() > 1e-9 { format!("{:+.1} %", (real - sim) / sim * 100.0) } else { "—".into() };
    let count = |sim: usize, real: usize| if sim == real { "exact".to_string() } else { format!("{:+}", real as i64 - sim as i64) };
    let ms = |v: f64| format!("{v:.1} ms");
    let opt_ms = |v: Option<f64>| num(v, 1) + " ms";
    let opt_pct = |sim: Option<f64>, real: Option<f64>| match (sim, real) {
        (Some(a), Some(b)) => pct(a, b),
        _ => "—".into(),
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    // A row: the figure under each simulation and the replay, then each simulation's difference.
    let mut add = |label: &str, show: &dyn Fn(&Figures) -> String, diff: &dyn Fn(&Figures, &Figures) -> String| {
        let mut row = vec![label.to_string()];
        row.extend(sims.iter().map(show));
        row.push(show(&m));
        row.extend(sims.iter().map(|s| diff(s, &m)));
        rows.push(row);
    };
    add("hit rate", &|f| format!("{:.1} %", f.hit_rate * 100.0), &|s, m| count(s.hits, m.hits));
    add("loads", &|f| f.loads.to_string(), &|s, m| count(s.loads, m.loads));
    add("evictions", &|f| f.evictions.to_string(), &|s, m| count(s.evictions, m.evictions));
    add("waited for a load", &|f| f.waited.to_string(), &|s, m| count(s.waited, m.waited));
    add("mean latency", &|f| ms(f.latency.mean), &|s, m| pct(s.latency.mean, m.latency.mean));
    add("p50 latency", &|f| ms(f.latency.median), &|s, m| pct(s.latency.median, m.latency.median));
    add("p95 latency", &|f| ms(f.latency.p95), &|s, m| pct(s.latency.p95, m.latency.p95));
    add("p99 latency", &|f| ms(f.latency.p99), &|s, m| pct(s.latency.p99, m.latency.p99));
    add("peak memory", &|f| format!("{:.0} MB", f.peak_mb), &|s, m| pct(s.peak_mb, m.peak_mb));
    add("mean load", &|f| opt_ms(f.mean_load_ms), &|s, m| opt_pct(s.mean_load_ms, m.mean_load_ms));
    add("time loading", &|f| ms(f.loading_ms), &|s, m| pct(s.loading_ms, m.loading_ms));
    let header: &[&str] = if sims.len() == 2 {
        &["figure", "simulated", "simulated, times re-measured", "replayed", "difference", "difference, re-measured"]
    } else {
        &["figure", "simulated", "replayed", "difference"]
    };
    let (peak, again) = match setup.mode {
        UnloadMode::InProcess => ("the kernel's peak RSS (load transients included)", "alone in the replay's worker"),
        UnloadMode::KillWorker => (
            "the highest sum of the serving workers' memory, sampled every 10 ms",
            "alone in a fresh serving worker each (spawn-to-ready, steady runs)",
        ),
    };
    let mut notes = vec![format!(
        "The replay followed the simulation's plan ({} under {:.0} MB): the same loads and evictions in the same order, so hits and loads agree by construction; time and memory are measured. Peak memory replayed is {peak}.",
        r.policy, setup.budget_mb
    )];
    if sims.len() == 2 {
        notes.push(format!("Times re-measured: the same plan simulated with each model's load, first and steady inference and unload measured again {again} right after the trace (memory stays the profile's): the difference left is the model's; the rest is the machine's drift since the profile."));
    }
    notes.extend(r.notes.iter().cloned());
    section(format!("Simulated vs replayed: {}", r.policy), header, rows, notes)
}

fn interference(r: &Replayed) -> Section {
    let (s, m) = (Interference::of(r.simulated), Interference::of(r.replayed));
    let x = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2} x"));
    let rows = vec![
        vec!["inferences with no load running".into(), s.quiet.to_string(), m.quiet.to_string()],
        vec!["inferences during a load".into(), s.during_load.to_string(), m.during_load.to_string()],
        vec!["median inference, no load".into(), num(s.quiet_median_ms, 1) + " ms", num(m.quiet_median_ms, 1) + " ms"],
        vec!["median inference, during a load".into(), num(s.during_load_median_ms, 1) + " ms", num(m.during_load_median_ms, 1) + " ms"],
        vec!["slowdown during a load (median)".into(), x(s.slowdown), x(m.slowdown)],
        vec!["slowdown during a load (p95)".into(), x(s.slowdown_p95), x(m.slowdown_p95)],
        vec!["time loads added to those inferences".into(), format!("{:.0} ms", s.added_ms), format!("{:.0} ms", m.added_ms)],
    ];
    section(
        "How much loading delays requests to models already loaded".into(),
        &["", "simulated", "replayed"],
        rows,
        vec![
            "Steady inferences only (not a new session's first), each against its model's median with no load running. The simulation slows them by --interference only (with 1, what it shows is the spread of its draws); the replay measures the contention: pass its median slowdown as --interference.".into(),
        ],
    )
}

/// The report on a terminal (or a file: `Terminal::plain_full()`).
pub(crate) fn to_table(r: &SimReport, term: Terminal) -> String {
    let rule = "=".repeat(term.width.unwrap_or(70).min(70));
    let mut out = format!("{rule}\n{}\n{rule}\n", r.title);
    for (label, value) in &r.facts {
        let _ = writeln!(out, "  {label}: {value}");
    }
    for s in &r.sections {
        out.push_str(&table::section(s, term));
    }
    if let Some(a) = &r.advice {
        let _ = writeln!(out, "\nRecommendation: {a}");
    }
    out
}

pub(crate) fn to_markdown(r: &SimReport) -> String {
    let mut out = format!("# {}\n\n", r.title);
    for (label, value) in &r.facts {
        let _ = writeln!(out, "- **{label}**: {value}");
    }
    for s in &r.sections {
        out.push_str(&markdown::section(s));
    }
    if let Some(a) = &r.advice {
        let _ = writeln!(out, "\n## Recommendation\n\n{a}");
    }
    out
}

/// A step function's points: memory holds its value until the next change.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(t, mb)) in points.iter().enumerate() {
        if i > 0 {
            out.push((t, points[i - 1].1));
        }
        out.push((t, mb));
    }
    out
}

/// The charts, as (file name, SVG): latency percentiles per policy; memory over time for `chosen`
/// (simulated, and replayed where there is a replay); simulated against replayed latency.
pub(crate) fn charts(
    setup: &Setup,
    runs: &[PolicyRun],
    sweep: &[PolicyRun],
    chosen: Policy,
    replay: Option<&Replayed>,
) -> Vec<(String, String)> {
    let groups: Vec<Group> = runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|s| (r.policy, &s.figures)))
        .map(|(p, f)| Group { label: p.to_string(), values: vec![Some(f.latency.median), Some(f.latency.p95), Some(f.latency.p99)] })
        .collect();
    let mut out = vec![(
        "simulate-latency.svg".to_string(),
        chart::bars(
            &format!("Request latency per policy under {:.0} MB (simulated)", setup.budget_mb),
            "ms",
            &["p50", "p95", "p99"],
            &groups,
        ),
    )];
    let simulated = replay
        .map(|r| r.simulated)
        .or_else(|| runs.iter().find(|r| r.policy == chosen).and_then(|r| r.outcome.as_ref().ok()).map(|s| &s.run));
    if let Some(sim) = simulated {
        let seconds = |points: &[(f64, f64)]| points.iter().map(|&(t, mb)| (t / 1000.0, mb)).collect::<Vec<_>>();
        let sim_points = seconds(&steps(&sim.memory));
        let real_points = replay.map(|r| seconds(&super::run::thin(&r.replayed.memory, 2000))).unwrap_or_default();
        let mut series = vec![Line { name: "simulated", points: &sim_points }];
        if replay.is_some() {
            series.push(Line { name: "replayed (RSS samples)", points: &real_points });
        }
        out.push((
            "simulate-memory.svg".into(),
            chart::lines(
                &format!("{} over time, {chosen} ({})", setup.costs.memory_kind(), setup.costs.provider),
                "s",
                "MB",
                &series,
                Some(("budget", setup.budget_mb)),
            ),
        ));
    }
    if !sweep.is_empty() {
        out.push(("simulate-keep-alive.svg".into(), keep_alive_curve(setup, runs, sweep)));
    }
    if let Some(r) = replay {
        let (s, m) = (setup.figures(r.simulated), setup.figures(r.replayed));
        let groups = [
            ("mean", s.latency.mean, m.latency.mean),
            ("p50", s.latency.median, m.latency.median),
            ("p95", s.latency.p95, m.latency.p95),
            ("p99", s.latency.p99, m.latency.p99),
        ]
        .iter()
        .map(|(label, a, b)| Group { label: label.to_string(), values: vec![Some(*a), Some(*b)] })
        .collect::<Vec<_>>();
        out.push((
            "simulate-vs-replay.svg".into(),
            chart::bars(&format!("Request latency, {}: simulated vs replayed", r.policy), "ms", &["simulated", "replayed"], &groups),
        ));
    }
    out
}

/// (MB-hours, p99) of the runs that fit, labelled.
fn trade(runs: &[PolicyRun], label: impl Fn(&PolicyRun) -> String) -> Vec<(String, f64, f64)> {
    runs.iter().filter_map(|r| r.outcome.as_ref().ok().map(|s| (label(r), s.figures.mb_hours, s.figures.latency.p99))).collect()
}

/// The sweep as a curve of p99 against MB-hours, each point labelled with its keep-alive, and the
/// compared policies (presets among them) as labelled markers on the same axes.
fn keep_alive_curve(setup: &Setup, runs: &[PolicyRun], sweep: &[PolicyRun]) -> String {
    let curve = trade(sweep, |r| super::policy::keep_alive_label(r.policy.keep_alive_ms));
    let marks = trade(runs, |r| r.policy.to_string());
    let (left, plot_w, top, plot_h) = (80.0, 660.0, 50.0, 320.0);
    let all = curve.iter().chain(&marks);
    let x_max = all.clone().map(|p| p.1).fold(0.0_f64, f64::max).max(1e-9) * 1.05;
    let y_max = all.map(|p| p.2).fold(0.0_f64, f64::max).max(1e-9) * 1.1;
    let x = |v: f64| left + v / x_max * plot_w;
    let y = |v: f64| top + plot_h - v / y_max * plot_h;
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        left + plot_w + 120.0,
        top + plot_h + 50.0,
        esc(&format!(
            "p99 latency against memory held (MB-hours), {} under {:.0} MB: {} keep-alives",
            sweep[0].policy.with_keep_alive(None),
            setup.budget_mb,
            curve.len()
        ))
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"black\"/>",
        b = top + plot_h,
        r = left + plot_w
    );
    for i in 0..=4 {
        let (xv, yv) = (x_max * i as f64 / 4.0, y_max * i as f64 / 4.0);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{xv:.2} MB-h</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{yv:.0} ms</text>",
            x(xv),
            top + plot_h + 16.0,
            left - 4.0,
            y(yv) + 4.0
        );
    }
    let path: Vec<String> = curve.iter().map(|p| format!("{:.1},{:.1}", x(p.1), y(p.2))).collect();
    let _ = writeln!(svg, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{}\"/>", path.join(" "));
    for (label, mbh, p99) in &curve {
        let _ = writeln!(
            svg,
            "<circle cx=\"{0:.1}\" cy=\"{1:.1}\" r=\"3\" fill=\"#1f77b4\"/><text x=\"{0:.1}\" y=\"{2:.1}\" fill=\"#1f77b4\">{3}</text>",
            x(*mbh),
            y(*p99),
            y(*p99) - 6.0,
            esc(label)
        );
    }
    for (label, mbh, p99) in &marks {
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"#d62728\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">{}</text>",
            x(*mbh) - 3.5,
            y(*p99) - 3.5,
            x(*mbh) + 6.0,
            y(*p99) + 12.0,
            esc(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::super::costs::tests::costs;
    use super::super::policy::PolicyKind;
    use super::super::trace::Trace;
    use super::*;

    #[test]
    fn the_report_has_a_row_per_policy_and_names_what_does_not_fit() {
        let c = costs(&[("a", 100.0, 100.0), ("b", 100.0, 50.0), ("c", 50.0, 50.0)], 10.0);
        let t = Trace::zipf(&["a".into(), "b".into(), "c".into()], 1.0, 50, 5.0, 1);
        let setup = Setup {
            trace: &t,
            costs: &c,
            mode: UnloadMode::InProcess,
            budget_mb: 200.0,
            seed: 1,
            thrash_window_ms: 60_000.0,
            interference: 1.0,
        };
        let runs: Vec<PolicyRun> = PolicyKind::ALL.iter().map(|&p| setup.simulate(Policy::order(p))).collect();
        let sizing: Vec<Sizing> = c
            .models
            .iter()
            .map(|m| Sizing { model: m.id.clone(), provider: c.provider, file_mb: m.file_mb, resident_per_file: m.resident_per_file() })
            .collect();
        let sweep = setup.sweep(Policy::order(PolicyKind::Lru), &[Some(0.0), Some(1000.0), None]);
        let report = build(&setup, "zipf", &runs, &sweep, &sizing, None, None, None);
        let text = to_table(&report, Terminal::plain_full());
        for p in PolicyKind::ALL {
            assert!(text.contains(&p.to_string()), "{p}: {text}");
        }
        assert!(text.contains("keep-all does not fit: it needs 260 MB of RSS against a budget of 200 MB"), "{text}");
        assert!(text.contains("resident / file") && text.contains("2.00"), "the hand-made files are half the footprint: {text}");
        let md = to_markdown(&report);
        assert!(md.starts_with("# mora simulate") && md.contains("| lru |"), "{md}");
        assert!(text.contains("Keep-alive sweep: lru under 200 MB") && text.contains("forever"), "{text}");
        let charts = charts(&setup, &runs, &sweep, Policy::order(PolicyKind::Lru), None);
        assert_eq!(
            charts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["simulate-latency.svg", "simulate-memory.svg", "simulate-keep-alive.svg"]
        );
        let curve = &charts[2].1;
        assert_eq!(curve.matches("<circle").count(), 3, "a point per keep-alive");
        assert!(curve.contains(">static-top-k</text>") && curve.contains(">1 s</text>"), "{curve}");
    }

    #[test]
    fn memory_is_drawn_as_steps() {
        assert_eq!(steps(&[(0.0, 1.0), (5.0, 3.0), (7.0, 2.0)]), [(0.0, 1.0), (5.0, 1.0), (5.0, 3.0), (7.0, 3.0), (7.0, 2.0)]);
    }
}
