//! `mora report`: re-render results files; several are merged, and trials that two files share are
//! compared side by side (a runtime build against another, one machine against another).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::ReportArgs;
use crate::report::{self, Format, sections};
use crate::results::{self, ResultsFile};

pub fn run(args: ReportArgs) -> Result<i32> {
    let files: Vec<(PathBuf, ResultsFile)> = args
        .results
        .iter()
        .map(|p| {
            let path = if p.is_dir() { p.join("results.json") } else { p.clone() };
            results::read(&path).map(|r| (path, r))
        })
        .collect::<Result<_>>()?;
    let merged = merge(files.iter().map(|(_, r)| r.clone()).collect());
    let mut out = report::render(&merged, args.format)?;
    if files.len() >= 2 && matches!(args.format, Format::Table | Format::Markdown) {
        let labelled: Vec<(String, &ResultsFile)> = files.iter().map(|(p, r)| (label(p, r), r)).collect();
        if let Some(section) = sections::comparison(&labelled) {
            out.push_str(&match args.format {
                Format::Markdown => report::markdown::section(&section),
                _ => report::table::section(&section),
            });
        }
    }
    print!("{out}");
    if let Some(dir) = &args.out {
        let json = dir.join("results.json");
        results::write_json_atomic(&json, &merged)?;
        for path in std::iter::once(json).chain(report::write_reports(dir, &merged)?) {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(0)
}

fn label(path: &Path, r: &ResultsFile) -> String {
    let folder = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
    folder.unwrap_or_else(|| format!("{} {}", r.run.host.hostname, r.run.started_at))
}

/// One results file from several: the first run's facts, every model once, every trial; where two
/// files hold the same trial the later one wins (the comparison section shows both).
pub fn merge(mut files: Vec<ResultsFile>) -> ResultsFile {
    let mut merged = files.remove(0);
    for next in files {
        for model in next.models {
            if !merged.models.iter().any(|m| m.id == model.id) {
                merged.models.push(model);
            }
        }
        for trial in next.trials {
            merged.trials.retain(|t| t.id != trial.id);
            merged.trials.push(trial);
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
        merged.run.notes.push(format!("merged with the run of {} started {}", next.run.host.hostname, next.run.started_at));
    }
    crate::advice::judge(&mut merged);
    merged
}
