//! `mora simulate`: read a lifecycle profile and a trace (or draw one), simulate each eviction policy
//! under the memory budget, recommend one, and with `--replay` run the first policy for real in a
//! supervised worker and print simulated against replayed. Every input is checked before anything
//! runs or is written; `--out` files are written whole (atomically).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::output::{errln, out};

use crate::cli::SimulateArgs;
use crate::config::Config;
use crate::profile::{PROFILE_VERSION, Profile};
use crate::replay::{self, ReplaySpec};
use crate::results::write_atomic;
use crate::runtime::{Provider, RuntimeLibrary};
use crate::simulate::advice::{self, Advice};
use crate::simulate::costs::{self, Costs, MeasuredTimes, UnloadMode};
use crate::simulate::figures::{Figures, Interference};
use crate::simulate::policy::{Policy, PolicyName};
use crate::simulate::report::{self, Replayed};
use crate::simulate::run::Run;
use crate::simulate::trace::{Arrivals, Trace};
use crate::simulate::{PolicyRun, Setup};

/// Exit code when the simulation was printed but the replay did not finish.
pub(crate) const REPLAY_FAILED: i32 = 3;
/// Exit code when the replay finished but its peak memory went over the budget: the plan did not hold.
pub(crate) const REPLAY_OVER_BUDGET: i32 = 6;

pub(crate) fn run(args: SimulateArgs) -> Result<i32> {
    let keep_alive_ms = args.keep_alive.and_then(|k| k.ms());
    let max_models = args.max_models.map(|n| n as usize);
    let mut policies: Vec<Policy> = args.policies.iter().map(|&n| Policy::named(n, keep_alive_ms, max_models)).collect();
    dedup_in_order(&mut policies);
    let file = args.profile.display().to_string();
    let profile = read_profile(&args.profile)?;
    let (host, provider) = costs::select(&profile, &file, args.provider, args.host.as_deref())?;
    let known: Vec<String> = provider.models.iter().map(|m| m.model.clone()).collect();
    let (trace, source) = match (&args.trace, args.zipf) {
        (Some(path), _) => {
            let text = String::from_utf8(crate::limits::read_file(path, crate::limits::TRACE_FILE)?)
                .with_context(|| format!("cannot read the trace {}: it is not UTF-8 text", path.display()))?;
            let place = format!("the profile ({} on host {})", provider.provider, host.host);
            (Trace::parse(&text, &path.display().to_string(), &known, &place)?, format!("trace {}", path.display()))
        }
        (None, Some(s)) => {
            let models = if args.models.is_empty() { known.clone() } else { args.models.clone() };
            if let Some(twice) = models.iter().enumerate().find_map(|(i, m)| models[..i].contains(m).then_some(m)) {
                bail!("--models lists {twice} twice");
            }
            let (requests, rate) = (args.requests.expect("clap requires it") as usize, args.rate.expect("clap requires it"));
            let arrivals = match (args.diurnal, args.bursts) {
                (Some(amplitude), _) => Arrivals::Diurnal { amplitude, period_ms: args.period_s * 1000.0 },
                (None, Some(factor)) => {
                    if args.burst_length_s >= args.burst_every_s {
                        bail!(
                            "--burst-length-s {} is not shorter than --burst-every-s {}: bursts would never end",
                            args.burst_length_s,
                            args.burst_every_s
                        );
                    }
                    Arrivals::Bursts { factor, every_ms: args.burst_every_s * 1000.0, length_ms: args.burst_length_s * 1000.0 }
                }
                (None, None) => Arrivals::Poisson,
            };
            let shape = if arrivals == Arrivals::Poisson { String::new() } else { format!(" ({arrivals})") };
            let source = format!("Zipf s = {s} over {}, {requests} requests at {rate}/s{shape}, seed {}", models.join(", "), args.seed);
            (Trace::drawn(&models, s, requests, rate, arrivals, args.seed), source)
        }
        (None, None) => bail!("pass --trace FILE or --zipf S --requests N --rate R"),
    };
    let costs = Costs::from_profile(&file, host, provider, &trace.models, args.unload)?;
    let sizing = costs::sizing(host, &trace.models);
    let budget_mb = args.budget_mb as f64;
    costs.check_budget(budget_mb)?;
    let setup = Setup {
        trace: &trace,
        costs: &costs,
        mode: args.unload,
        budget_mb,
        seed: args.seed,
        thrash_window_ms: args.thrash_window_s * 1000.0,
        interference: args.interference,
    };

    errln!("simulating {} policies over {} requests ({source})", policies.len(), trace.requests.len());
    let runs: Vec<PolicyRun> = policies.iter().map(|&p| setup.simulate(p)).collect();
    // The sweep varies the first eviction order's keep-alive (its cap kept); presets are its marks.
    let base = policies.iter().find(|p| p.preset.is_none()).copied().unwrap_or(Policy::named(PolicyName::Lru, None, max_models));
    let sweep = setup.sweep(base, &args.keep_alive_sweep.iter().map(|k| k.ms()).collect::<Vec<_>>());
    let advice = advice::advise(&setup, &policies, &runs, args.target_p99_ms);
    let keep_alives: Vec<Option<f64>> =
        if sweep.is_empty() { advice::KEEP_ALIVES_TRIED_MS.to_vec() } else { sweep.iter().map(|r| r.policy.keep_alive_ms).collect() };
    let setting = args.target_p99_ms.and_then(|t| advice::setting(&setup, base, &keep_alives, t).map(|s| (s, t)));
    let chosen = policies[0];

    let mut replay_failed = None;
    let mut replayed: Option<Replay> = None;
    if args.replay {
        let Ok(simulated) = &runs[0].outcome else {
            bail!("{chosen} does not fit under {budget_mb} MB: nothing to replay; put a policy that fits first in --policies");
        };
        match run_replay(&args, &trace, &costs, simulated) {
            Ok(r) => replayed = Some(r),
            Err(e) => replay_failed = Some(format!("{e:#}")),
        }
    }
    let simulated_chosen = runs[0].outcome.as_ref().ok();
    let resimulated = match (&replayed, simulated_chosen) {
        (Some(r), Some(sim)) => Some(setup.play(&sim.plan, &costs.with_times(&r.measured_times))),
        _ => None,
    };
    let replay_view = match (&replayed, simulated_chosen) {
        (Some(r), Some(sim)) => Some(Replayed {
            policy: chosen,
            simulated: &sim.run,
            resimulated: resimulated.as_ref(),
            replayed: &r.run,
            notes: r.notes.clone(),
        }),
        _ => None,
    };
    let mut rendered = report::build(
        &setup,
        &source,
        &runs,
        &sweep,
        &sizing,
        advice.as_ref(),
        setting.as_ref().map(|(s, t)| (s, *t)),
        replay_view.as_ref(),
    );
    let over_budget = replayed.as_ref().map(|r| r.run.peak_mb).filter(|&peak| peak > budget_mb);
    if let Some(peak) = over_budget {
        rendered.facts.push((
            "Replay".into(),
            format!(
                "peaked at {peak:.0} MB, over the {budget_mb:.0} MB budget by {:.0} MB ({:+.1} %): the plan did not hold",
                peak - budget_mb,
                (peak - budget_mb) / budget_mb * 100.0
            ),
        ));
    }
    if let Some(why) = &replay_failed {
        rendered.facts.push(("Replay".into(), format!("did not finish: {why}")));
    }
    // A closed standard output ends the command once the --out files are written, not before.
    let printed = out!("{}", report::to_table(&rendered, crate::report::table::Terminal::stdout(args.style)));

    if let Some(dir) = &args.out {
        let times = replayed.as_ref().map(|r| r.measured_times.as_slice());
        let mut files = outputs(
            &setup,
            &args,
            &source,
            &runs,
            &sweep,
            advice.as_ref(),
            setting.as_ref().map(|(s, _)| s),
            &rendered,
            chosen,
            replay_view.as_ref(),
            times,
        )?;
        if let Some((found, target)) = &setting {
            files.push(("simulate-lifecycle.yaml".into(), found.to_yaml(&setup, *target).into_bytes()));
        }
        for (name, bytes) in files {
            let path = dir.join(name);
            write_atomic(&path, &bytes)?;
            errln!("wrote {}", path.display());
        }
    }
    if crate::supervise::interrupted() {
        return Ok(130);
    }
    if let Some(why) = replay_failed {
        errln!("error: the replay did not finish ({why}); the simulation above stands");
        return Ok(REPLAY_FAILED);
    }
    if let Some(peak) = over_budget {
        let message = format!(
            "error: the replay peaked at {peak:.0} MB of {}, over the {budget_mb:.0} MB budget: a lifecycle manager that followed this plan under a {budget_mb:.0} MB limit would have been OOM-killed; give it the limit the recommendation names",
            costs.memory_kind()
        );
        errln!("{}", red(&message));
        return Ok(REPLAY_OVER_BUDGET);
    }
    printed.map(|()| 0)
}

/// Red on a terminal that takes colour (not with NO_COLOR), as it is otherwise.
fn red(text: &str) -> String {
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    if color { format!("\u{1b}[31m{text}\u{1b}[0m") } else { text.to_string() }
}

fn dedup_in_order(policies: &mut Vec<Policy>) {
    let mut seen = Vec::new();
    policies.retain(|p| {
        let new = !seen.contains(p);
        seen.push(*p);
        new
    });
}

fn read_profile(path: &Path) -> Result<Profile> {
    let bytes = crate::limits::read_file(path, crate::limits::PROFILE_FILE).context("cannot read the profile")?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON: make a profile with `mora report RUN --format profile`", path.display()))?;
    match value.get("profile_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(PROFILE_VERSION) => {}
        other => bail!(
            "{}: profile_version {} is not one this mora reads ({PROFILE_VERSION}): make the profile with this mora's `mora report RUN --format profile`",
            path.display(),
            other.map_or("missing".to_string(), |v| v.to_string())
        ),
    }
    serde_json::from_value(value).with_context(|| format!("{} is not a mora lifecycle profile", path.display()))
}

/// What a replay brought back.
struct Replay {
    run: Run,
    measured_times: Vec<MeasuredTimes>,
    /// How it compares, in words.
    notes: Vec<String>,
}

/// Runs the chosen policy's plan for real.
fn run_replay(args: &SimulateArgs, trace: &Trace, costs: &Costs, simulated: &crate::simulate::Simulated) -> Result<Replay> {
    let config = Config::load(&args.config)?;
    let mut models = Vec::new();
    for id in &trace.models {
        let model = config.model(id).with_context(|| format!("model `{id}` of the trace is not in {}", config.path.display()))?;
        models.push(crate::runner::model_spec(model, &config).with_context(|| id.clone())?);
    }
    let roots = crate::runtime::search_roots(config.path.parent());
    let library = RuntimeLibrary::locate(args.runtime.ort_lib.as_deref(), &roots)?;
    let request = crate::provider::ProviderRequest::Explicit(vec![args.provider]);
    let (setups, _) = crate::resolve::resolve_providers(&request, &library, &config.providers, &args.options)?;
    let setup = setups.into_iter().next().context("no provider setup")?;
    let here = crate::probe::HostInfo::current();
    let mut notes = Vec::new();
    notes.push(format!(
        "Replayed on host {} ({} cores) with ONNX Runtime {}; the profile is from host {}.",
        here.hostname, here.logical_cores, library.version, costs.host
    ));
    if here.hostname != costs.host {
        notes.push(format!(
            "The profile was measured on {}, not here: expect the replay to differ by the machines' difference.",
            costs.host
        ));
    }
    let timeout = replay::timeout_for(&simulated.run);
    let workers = match args.unload {
        UnloadMode::InProcess => "in one worker",
        UnloadMode::KillWorker => "a worker per loaded model, killed on eviction",
    };
    errln!(
        "replaying {} for real: {} requests over {:.0} s, {} loads, {workers} (at most {:.0} s)",
        simulated.plan.policy,
        trace.requests.len(),
        trace.duration_ms() / 1000.0,
        simulated.plan.loads(),
        timeout.as_secs_f64()
    );
    crate::supervise::install_interrupt_handler();
    let spec = ReplaySpec::new(setup, library, models, trace, &simulated.plan, args.unload);
    let report = replay::run(&spec, timeout)?;
    if let Some(start) = report.process_start_mb {
        notes.push(match args.unload {
            UnloadMode::InProcess => format!(
                "Replayed memory counts from the worker's {start:.0} MB of {} before the provider started, as the profile's baseline does.",
                costs.memory_kind()
            ),
            UnloadMode::KillWorker if costs.provider.memory().device_measured() => format!(
                "Replayed memory is the device's {} growth from the replay's start: the serving workers', and anything else on the device.",
                costs.memory_kind()
            ),
            UnloadMode::KillWorker => format!(
                "Replayed memory sums the serving workers' {}, each counted from {start:.0} MB (a bare worker before its provider started), as the profile's baseline is.",
                costs.memory_kind()
            ),
        });
    }
    Ok(Replay { run: report.run, measured_times: report.measured_times, notes })
}

#[derive(Serialize)]
struct PolicyRecord<'a> {
    policy: Policy,
    order: crate::simulate::policy::PolicyKind,
    keep_alive_ms: Option<f64>,
    max_models: Option<usize>,
    planned_size: crate::simulate::policy::PlannedSize,
    heeds_budget: bool,
    does_not_fit_needs_mb: Option<f64>,
    figures: Option<&'a Figures>,
    thrash_reloads: Option<usize>,
    thrash_per_hour: Option<f64>,
    preloads: Vec<&'a str>,
}

impl<'a> PolicyRecord<'a> {
    fn of(r: &'a PolicyRun, names: &'a [String]) -> PolicyRecord<'a> {
        let ok = r.outcome.as_ref().ok();
        PolicyRecord {
            policy: r.policy,
            order: r.policy.order,
            keep_alive_ms: r.policy.keep_alive_ms,
            max_models: r.policy.max_models,
            planned_size: r.policy.planned_size,
            heeds_budget: r.policy.heeds_budget,
            does_not_fit_needs_mb: r.outcome.as_ref().err().map(|e| e.needs_mb),
            figures: ok.map(|s| &s.figures),
            thrash_reloads: ok.map(|s| s.plan.thrash_reloads),
            thrash_per_hour: ok.and_then(|s| s.thrash_per_hour),
            preloads: ok.map(|s| s.plan.preloads.iter().map(|&m| names[m].as_str()).collect()).unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
struct ReplayRecord<'a> {
    policy: String,
    simulated: Figures,
    /// The same plan simulated with the times measured again after the replay.
    resimulated: Option<Figures>,
    measured_times: Option<&'a [MeasuredTimes]>,
    replayed: Figures,
    interference_simulated: Interference,
    interference_replayed: Interference,
    notes: &'a [String],
    simulated_run: &'a Run,
    /// Its memory samples thinned to at most 2000 (each the highest of the ones it stands for).
    replayed_run: Run,
}

#[derive(Serialize)]
struct Record<'a> {
    tool: String,
    profile: String,
    host: &'a str,
    provider: Provider,
    budget_mb: f64,
    unload: UnloadMode,
    seed: u64,
    interference: f64,
    trace: String,
    target_p99_ms: Option<f64>,
    costs: &'a Costs,
    policies: Vec<PolicyRecord<'a>>,
    keep_alive_sweep: Vec<PolicyRecord<'a>>,
    advice: Option<&'a Advice>,
    setting: Option<&'a advice::Setting>,
    replay: Option<ReplayRecord<'a>>,
}

/// Every file `--out` gets, rendered before any is written.
#[allow(clippy::too_many_arguments)]
fn outputs(
    setup: &Setup,
    args: &SimulateArgs,
    source: &str,
    runs: &[PolicyRun],
    sweep: &[PolicyRun],
    advice: Option<&Advice>,
    setting: Option<&advice::Setting>,
    rendered: &report::SimReport,
    chosen: Policy,
    replay: Option<&Replayed>,
    replayed_times: Option<&[MeasuredTimes]>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let names = &setup.trace.models;
    let measured_times = replayed_times;
    let record = Record {
        tool: format!("mora {}", env!("CARGO_PKG_VERSION")),
        profile: args.profile.display().to_string(),
        host: &setup.costs.host,
        provider: setup.costs.provider,
        budget_mb: setup.budget_mb,
        unload: setup.mode,
        seed: setup.seed,
        interference: setup.interference,
        trace: source.to_string(),
        target_p99_ms: args.target_p99_ms,
        costs: setup.costs,
        keep_alive_sweep: sweep.iter().map(|r| PolicyRecord::of(r, names)).collect(),
        policies: runs.iter().map(|r| PolicyRecord::of(r, names)).collect(),
        advice,
        setting,
        replay: replay.map(|r| ReplayRecord {
            policy: r.policy.to_string(),
            simulated: setup.figures(r.simulated),
            resimulated: r.resimulated.map(|run| setup.figures(run)),
            measured_times,
            replayed: setup.figures(r.replayed),
            interference_simulated: Interference::of(r.simulated),
            interference_replayed: Interference::of(r.replayed),
            notes: &r.notes,
            simulated_run: r.simulated,
            replayed_run: Run { memory: crate::simulate::run::thin(&r.replayed.memory, 2000), ..r.replayed.clone() },
        }),
    };
    let mut files = vec![
        ("simulate.md".to_string(), report::to_markdown(rendered).into_bytes()),
        ("simulate.json".to_string(), serde_json::to_vec_pretty(&record)?),
        ("simulate-trace.csv".to_string(), setup.trace.to_csv().into_bytes()),
    ];
    for (name, svg) in report::charts(setup, runs, sweep, chosen, replay) {
        files.push((name, svg.into_bytes()));
    }
    Ok(files)
}
