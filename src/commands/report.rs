//! `mora report`: re-render results files; several are merged, and trials that two files share are
//! compared side by side (a runtime build against another, one machine against another).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::output::{errln, out, outln};

use crate::cli::ReportArgs;
use crate::fleet::{self, HostKey};
use crate::report::{self, Format};
use crate::results::{self, FailedRun, OtherRun, ResultsFile, RunHost};

pub(crate) fn run(args: ReportArgs) -> Result<i32> {
    if args.schema {
        outln!("{}", serde_json::to_string_pretty(&results::results_schema())?)?;
        return Ok(0);
    }
    report::compare::set_rules(report::compare::Rules { min_effect_pct: args.min_effect, ..report::compare::Rules::DEFAULT });
    let mut files: Vec<(PathBuf, ResultsFile)> = Vec::new();
    let mut failed: Vec<FailedRun> = Vec::new();
    for p in &args.results {
        match read_input(p)? {
            Input::Run(path, r) => files.push((path, *r)),
            Input::Failed(f) => failed.push(f),
        }
    }
    if files.is_empty() {
        let names: Vec<String> = failed.iter().map(|f| format!("{}: {}", f.run, f.reason.lines().last().unwrap_or(""))).collect();
        bail!("no run given has results, so there is nothing to report; the failed runs: {}", names.join("; "));
    }
    if let Some(dir) = &args.out {
        refuse_a_folder_not_a_reports(dir)?;
    }
    let in_place = if args.in_place { Some(run_folder_of(&files, &failed)?) } else { None };
    // Each run judged with today's rules, for the profile; the merge judges the whole again.
    let labelled: Vec<(String, ResultsFile)> = files
        .iter()
        .map(|(p, r)| {
            let mut r = r.clone();
            if args.plan_models.is_some() {
                r.run.settings.plan_models = args.plan_models;
            }
            crate::advice::judge(&mut r);
            (label(p, &r), r)
        })
        .collect();
    let merged = merge(labelled.clone(), failed);
    // A format the folder gets as a file is not printed as well: `--format html --out DIR` writes
    // the page, it does not also pour it onto the terminal.
    let written_as_file =
        |format: Format| report::REPORT_FILES.iter().any(|(_, f)| *f == format) || (format == Format::Json && args.out.is_some());
    let to_files = args.out.is_some() || in_place.is_some();
    let printed = match args.format {
        Format::Table if !args.summary => {
            out!("{}", report::render_runs_table(&merged, &labelled, report::table::Terminal::stdout(args.style)))
        }
        format if to_files && written_as_file(format) && format != Format::Table => Ok(()),
        format if args.summary => out!("{}", report::render_summary(&merged, format, report::table::Terminal::stdout(args.style))?),
        format => out!("{}", report::render(&merged, &labelled, format)?),
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        results::write_atomic(&dir.join(REPORT_MARKER), REPORT_MARKER_TEXT.as_bytes())?;
        let json = dir.join("results.json");
        results::write_json_atomic(&json, &merged)?;
        for path in std::iter::once(json).chain(report::write_reports(dir, &merged, &labelled).all_or_first_error()?) {
            errln!("wrote {}", path.display());
        }
    }
    if let Some(dir) = &in_place {
        // The record stays as the run wrote it; only what is rendered from it is written again.
        for path in report::write_reports(dir, &merged, &labelled).all_or_first_error()? {
            errln!("wrote {}", path.display());
        }
    }
    let code = match args.fail_on_regression {
        Some(pct) => regression_gate(&labelled, pct)?,
        None => 0,
    };
    // A closed standard output ends the command once the files are written and the gate has
    // spoken, not before.
    if code == 0 {
        printed?;
    }
    Ok(code)
}

/// `--fail-on-regression PCT`: exit 5 when a later run is significantly worse than the first by more
/// than PCT; the settings that differ and the warnings about noise come first.
fn regression_gate(runs: &[(String, ResultsFile)], pct: f64) -> Result<i32> {
    use report::compare::{self, Verdict};
    if runs.len() < 2 {
        bail!("--fail-on-regression compares runs: give two results files or more (the first is the baseline)");
    }
    let rules = compare::rules();
    let runs: Vec<(String, &ResultsFile)> = runs.iter().map(|(label, r)| (label.clone(), r)).collect();
    let changes = compare::changes(&runs, &rules);
    if changes.is_empty() {
        bail!("--fail-on-regression: the runs share no successful single-scenario trial to compare");
    }
    if let Some(settings) = compare::settings_section(&runs) {
        for row in &settings.rows {
            errln!("setting differs: {} = {}", row[0], row[1..].join(" / "));
        }
    }
    for w in compare::noise_warnings(&runs, &rules) {
        errln!("warning: {w}");
    }
    let few = changes.iter().filter(|c| matches!(c.verdict, Verdict::TooFewSamples { .. })).count();
    if few > 0 {
        errln!(
            "warning: {few} of {} figures have fewer than {} workers on a side and cannot fail the gate: run `mora bench --workers {}`",
            changes.len(),
            rules.min_samples,
            rules.min_samples
        );
    }
    let regressed = compare::regressions(&changes, pct);
    for c in &regressed {
        let p = match c.verdict {
            Verdict::Worse { p, .. } => p,
            _ => f64::NAN,
        };
        errln!(
            "regression: {} {} in {}: {:.2} -> {:.2} (medians of {} and {} workers; ranges {:.2}..{:.2} and {:.2}..{:.2}), {}, p {p:.3}",
            c.trial,
            c.figure,
            c.run,
            c.first.median,
            c.later.median,
            c.first.n,
            c.later.n,
            c.first.min,
            c.first.max,
            c.later.min,
            c.later.max,
            c.effect()
        );
    }
    if regressed.is_empty() {
        errln!(
            "no significant regression beyond {pct}% ({} figures compared; minimum effect {}%, p < {})",
            changes.len(),
            rules.min_effect_pct,
            rules.alpha
        );
        Ok(0)
    } else {
        errln!("{} of {} figures regressed significantly by more than {pct}%", regressed.len(), changes.len());
        Ok(5)
    }
}

/// `--in-place`: the one run's folder, whose results.json was read.
fn run_folder_of(files: &[(PathBuf, ResultsFile)], failed: &[FailedRun]) -> Result<PathBuf> {
    match files {
        [(path, _)] if failed.is_empty() => Ok(path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))),
        _ => bail!("--in-place re-renders one run in its own folder: give exactly one run (use --out DIR for a merge)"),
    }
}

/// What a path given to `mora report` holds: a run, or a failed run's record.
enum Input {
    Run(PathBuf, Box<ResultsFile>),
    Failed(FailedRun),
}

/// A run folder or its results.json; or a folder holding only `failed.json` (a fleet task that
/// ended without results, docs/fleet.md), or that file itself.
fn read_input(path: &Path) -> Result<Input> {
    let (results, failure) = if path.is_dir() {
        (path.join("results.json"), path.join("failed.json"))
    } else if path.file_name().is_some_and(|n| n == "failed.json") {
        (PathBuf::new(), path.to_path_buf())
    } else {
        (path.to_path_buf(), PathBuf::new())
    };
    // Whatever is there is read (and refused when it is not a regular file), so a FIFO is named.
    let there = |p: &Path| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_ok();
    if there(&results) || !there(&failure) {
        if path.is_dir() && !there(&results) {
            bail!("{} holds neither results.json nor failed.json: pass a run folder (or its results.json)", path.display());
        }
        return results::read(&results).map(|r| Input::Run(results, Box::new(r)));
    }
    // Written by a shell script from a task's stderr: read it lossily rather than refuse a byte.
    let bytes = crate::limits::read_file(&failure, crate::limits::FAILED_RUN_FILE)?;
    let mut record: FailedRun = serde_json::from_str(&String::from_utf8_lossy(&bytes)).with_context(|| {
        format!("{} is not a failed run's record (docs/fleet.md, \"Reading the merged report\", names its fields)", failure.display())
    })?;
    if record.run.is_empty() {
        record.run = failure.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    }
    Ok(Input::Failed(record))
}

/// The file that marks a folder as a report's own, written by `mora report --out`.
pub(crate) const REPORT_MARKER: &str = ".mora-report";
const REPORT_MARKER_TEXT: &str =
    "This folder holds a report written by `mora report --out`; the next `mora report --out` here rewrites its files.\n";

/// `--out` writes into a new folder, an empty one or a report's own (one holding [`REPORT_MARKER`]),
/// never anywhere else: not into a run's folder, not beside run folders, not over files a report did
/// not write.
fn refuse_a_folder_not_a_reports(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) if dir.exists() && !dir.is_dir() => bail!("--out {} is a file: pass a folder (a new one)", dir.display()),
        Err(e) => return Err(e).with_context(|| format!("cannot read the folder {}", dir.display())),
        Ok(entries) => entries,
    };
    let names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    if names.is_empty() || dir.join(REPORT_MARKER).is_file() {
        return Ok(());
    }
    let what = if names.iter().any(|n| n == "results.json") {
        "holds a run's results.json, which a report never overwrites".to_string()
    } else if names.iter().any(|n| dir.join(n).join("results.json").is_file()) {
        "holds run folders, and a report never goes beside runs".to_string()
    } else {
        format!("holds {} that a report did not write", report::count(names.len(), "file"))
    };
    bail!(
        "{} {what}: pass another --out (a new or empty folder; a folder a report wrote, marked by its {REPORT_MARKER}, is written again)",
        dir.display()
    )
}

fn label(path: &Path, r: &ResultsFile) -> String {
    let folder = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
    folder.unwrap_or_else(|| format!("{} {}", r.run.host.hostname, r.run.started_at))
}

/// One results file from several: the first run's facts, every model once, every trial. Trials are
/// told apart by host and id: the same trial from two machines is two records. Where two files hold
/// the same trial of one host, a successful one wins over a failed one, and a later one over an
/// earlier one of the same kind; the other is kept beside it in `other_runs` (and the comparison
/// section shows both measurements). Every trial says which run and host it came from; the merge
/// lists its hosts and the runs that failed without results.
pub(crate) fn merge(files: Vec<(String, ResultsFile)>, failed: Vec<FailedRun>) -> ResultsFile {
    let several = files.len() > 1 || !failed.is_empty();
    let (hosts, trial_hosts) = hosts_of(&files);
    let host_label = |i: usize| Some(hosts[i].label.clone());
    let mut files = files.into_iter().zip(trial_hosts);
    let ((first_label, mut merged), first_hosts) = files.next().expect("at least one results file");
    if several {
        merged.run.merged_from.push(first_label.clone());
        for (t, &h) in merged.trials.iter_mut().zip(&first_hosts) {
            t.run.get_or_insert_with(|| first_label.clone());
            t.host = host_label(h);
        }
    }
    for ((label, next), next_hosts) in files {
        merged.run.merged_from.push(label.clone());
        for model in next.models {
            if !merged.models.iter().any(|m| m.id == model.id) {
                merged.models.push(model);
            }
        }
        for (mut trial, h) in next.trials.into_iter().zip(next_hosts) {
            trial.run.get_or_insert_with(|| label.clone());
            trial.host = host_label(h);
            match merged.trials.iter().position(|t| t.id == trial.id && t.host == trial.host) {
                None => merged.trials.push(trial),
                Some(i) => {
                    let earlier = &mut merged.trials[i];
                    if earlier.outcome.is_ok() && !trial.outcome.is_ok() {
                        earlier.other_runs.push(OtherRun { run: label.clone(), outcome: trial.outcome });
                    } else {
                        let replaced = std::mem::replace(earlier, trial);
                        let run = replaced.run.clone().unwrap_or_default();
                        earlier.other_runs.extend(replaced.other_runs);
                        earlier.other_runs.push(OtherRun { run, outcome: replaced.outcome });
                    }
                }
            }
        }
        for provider in next.run.providers {
            if !merged.run.providers.iter().any(|p| p.provider == provider.provider && p.ran) {
                merged.run.providers.retain(|p| p.provider != provider.provider);
                merged.run.providers.push(provider);
            }
        }
        for gpu in next.run.gpus {
            if !merged.run.gpus.contains(&gpu) {
                merged.run.gpus.push(gpu);
            }
        }
        merged.run.complete &= next.run.complete;
    }
    if several {
        merged.run.hosts = hosts;
        merged.run.failed_runs.extend(failed);
    }
    crate::advice::judge(&mut merged);
    merged
}

/// The machines of a merge (a merged input brings its own), labelled; and for every file, the
/// machine of each of its trials, as an index into them.
fn hosts_of(files: &[(String, ResultsFile)]) -> (Vec<RunHost>, Vec<Vec<usize>>) {
    let mut keys: Vec<HostKey> = Vec::new();
    let mut hosts: Vec<RunHost> = Vec::new();
    let mut add = |key: HostKey, host: RunHost| match keys.iter().position(|k| *k == key) {
        Some(i) => {
            let runs = &mut hosts[i].runs;
            runs.extend(host.runs.into_iter().filter(|r| !runs.contains(r)).collect::<Vec<_>>());
            i
        }
        None => {
            keys.push(key);
            hosts.push(host);
            hosts.len() - 1
        }
    };
    let mut trial_hosts = Vec::new();
    for (label, file) in files {
        let run = &file.run;
        if run.hosts.is_empty() {
            let own = RunHost {
                label: String::new(),
                machine_class: fleet::machine_class(&run.host, &run.gpus),
                host: run.host.clone(),
                gpus: run.gpus.clone(),
                runtime_version: run.runtime.version.clone(),
                runs: vec![label.clone()],
            };
            trial_hosts.push(vec![add(HostKey::of_run(run), own); file.trials.len()]);
        } else {
            // A merge merged again: its trials keep the machines they name.
            let inner: Vec<(&str, usize)> = run.hosts.iter().map(|h| (h.label.as_str(), add(HostKey::of_host(h), h.clone()))).collect();
            let of_trial =
                |t: &crate::results::TrialRecord| inner.iter().find(|(l, _)| t.host.as_deref() == Some(*l)).map_or(inner[0].1, |(_, i)| *i);
            trial_hosts.push(file.trials.iter().map(of_trial).collect());
        }
    }
    for (host, label) in hosts.iter_mut().zip(fleet::labels(&keys)) {
        host.label = label;
    }
    (hosts, trial_hosts)
}
