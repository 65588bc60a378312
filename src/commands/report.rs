//! `mora report`: re-render results files; several are merged, and trials that two files share are
//! compared side by side (a runtime build against another, one machine against another).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::ReportArgs;
use crate::report::{self, Format, sections};
use crate::results::{self, OtherRun, ResultsFile};

pub fn run(args: ReportArgs) -> Result<i32> {
    let files: Vec<(PathBuf, ResultsFile)> = args
        .results
        .iter()
        .map(|p| {
            let path = if p.is_dir() { p.join("results.json") } else { p.clone() };
            results::read(&path).map(|r| (path, r))
        })
        .collect::<Result<_>>()?;
    if let Some(dir) = &args.out {
        refuse_to_overwrite_a_run(dir, &files)?;
    }
    // Each run judged with today's rules, for the profile; the merge judges the whole again.
    let labelled: Vec<(String, ResultsFile)> = files
        .iter()
        .map(|(p, r)| {
            let mut r = r.clone();
            crate::advice::judge(&mut r);
            (label(p, &r), r)
        })
        .collect();
    let merged = merge(labelled.clone());
    let term = report::table::Terminal::stdout(args.style);
    let mut out = match args.format {
        Format::Table => report::render_table(&merged, term),
        format => report::render(&merged, &labelled, format)?,
    };
    if files.len() >= 2 && matches!(args.format, Format::Table | Format::Markdown) {
        let labelled: Vec<(String, &ResultsFile)> = files.iter().map(|(p, r)| (label(p, r), r)).collect();
        if let Some(section) = sections::comparison(&labelled) {
            out.push_str(&match args.format {
                Format::Markdown => report::markdown::section(&section),
                _ => report::table::section(&section, term),
            });
        }
    }
    print!("{out}");
    if let Some(dir) = &args.out {
        let json = dir.join("results.json");
        results::write_json_atomic(&json, &merged)?;
        for path in std::iter::once(json).chain(report::write_reports(dir, &merged, &labelled)?) {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(0)
}

/// A raw run is never overwritten by a report: `--out` may not be one of the runs read, nor any
/// folder holding a run's results.json (one `mora bench` wrote; a report's own output, which names
/// the runs it merged, may be written again).
fn refuse_to_overwrite_a_run(dir: &Path, inputs: &[(PathBuf, ResultsFile)]) -> Result<()> {
    let target = dir.join("results.json");
    let same = |p: &Path| match (std::fs::canonicalize(p), std::fs::canonicalize(&target)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let is_input = inputs.iter().any(|(p, _)| same(p));
    let holds_a_run = target.exists() && results::read(&target).map_or(true, |r| r.run.merged_from.is_empty());
    if is_input || holds_a_run {
        bail!("{} holds a run's results.json, which a report never overwrites: pass another --out (an empty or new folder)", dir.display());
    }
    Ok(())
}

fn label(path: &Path, r: &ResultsFile) -> String {
    let folder = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
    folder.unwrap_or_else(|| format!("{} {}", r.run.host.hostname, r.run.started_at))
}

/// One results file from several: the first run's facts, every model once, every trial. Where two
/// files hold the same trial, a successful one wins over a failed one, and a later one over an
/// earlier one of the same kind; the other is kept beside it in `other_runs` (and the comparison
/// section shows both measurements). Every trial says which run it came from.
pub fn merge(files: Vec<(String, ResultsFile)>) -> ResultsFile {
    let mut files = files.into_iter();
    let (first_label, mut merged) = files.next().expect("at least one results file");
    let several = files.len() > 0;
    if several {
        merged.run.merged_from.push(first_label.clone());
        for t in &mut merged.trials {
            t.run.get_or_insert_with(|| first_label.clone());
        }
    }
    for (label, next) in files {
        merged.run.merged_from.push(label.clone());
        for model in next.models {
            if !merged.models.iter().any(|m| m.id == model.id) {
                merged.models.push(model);
            }
        }
        for mut trial in next.trials {
            trial.run.get_or_insert_with(|| label.clone());
            match merged.trials.iter().position(|t| t.id == trial.id) {
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
    crate::advice::judge(&mut merged);
    merged
}
