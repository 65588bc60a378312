//! Turning results into bytes: terminal tables, Markdown, HTML, CSV, JSON and SVG charts. Exporters
//! only render; what the tables contain is decided once, in [`sections`].

pub(crate) mod backends;
pub mod chart;
pub mod compare;
pub mod csv;
pub mod html;
pub mod leak_chart;
pub mod markdown;
pub mod sections;
pub mod summary;
pub mod table;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::results::{ResultsFile, write_atomic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Markdown,
    Csv,
    Json,
    /// The lifecycle profile (schema/profile.schema.json), for a model server to read at start-up.
    Profile,
    /// The same profile as YAML.
    ProfileYaml,
    /// One self-contained HTML page (styles, scripts and charts inlined): sortable tables, the charts,
    /// the hosts compared and the recommendations.
    Html,
}

/// The report of one results file; `runs` are the runs it was merged from: several runs of one
/// machine add the comparison of the trials the first and the last share (a fleet's report compares
/// its hosts instead).
fn build(results: &ResultsFile, runs: &[(String, ResultsFile)]) -> sections::Report {
    let mut report = sections::build(results);
    if runs.len() >= 2 && !crate::fleet::is_fleet(results) {
        let labelled: Vec<(String, &ResultsFile)> = runs.iter().map(|(label, r)| (label.clone(), r)).collect();
        report.sections.extend(compare::sections(&labelled, &compare::rules()));
    }
    report
}

/// One results file rendered in `format`; `runs` are the runs it was merged from, by label (the
/// profile keeps their hosts apart).
pub fn render(results: &ResultsFile, runs: &[(String, ResultsFile)], format: Format) -> Result<String> {
    Ok(match format {
        Format::Table => table::render(&build(results, runs), table::Terminal::plain_full()),
        Format::Markdown => markdown::render(results, &build(results, runs)),
        Format::Html => html::render(&build(results, runs), &chart::all(results)),
        Format::Csv => csv::render(results),
        Format::Json => serde_json::to_string_pretty(results)?,
        Format::Profile => serde_json::to_string_pretty(&crate::profile::build(runs))? + "\n",
        Format::ProfileYaml => serde_yaml::to_string(&crate::profile::build(runs))?,
    })
}

/// The terminal report at the end of `mora bench` for `term` (its width, style and colour): the run
/// said why it skipped a provider when it started, so the report does not say it again.
pub(crate) fn render_table(results: &ResultsFile, term: table::Terminal) -> String {
    table::render(&sections::build(results).without_skip_reasons(), term)
}

/// The terminal report of merged runs for `term`, with the comparison of [`render`].
pub(crate) fn render_runs_table(results: &ResultsFile, runs: &[(String, ResultsFile)], term: table::Terminal) -> String {
    table::render(&build(results, runs), term)
}

/// Only the summary (`--summary`) in `format`: a table for `term`, Markdown or an HTML page; an
/// error for the formats that hold figures rather than a report.
pub(crate) fn render_summary(results: &ResultsFile, format: Format, term: table::Terminal) -> Result<String> {
    let Some(summary) = summary::build(results) else {
        anyhow::bail!("the results hold no advice to summarise: no single-scenario trial succeeded (drop --summary for the tables)")
    };
    Ok(match format {
        Format::Table => table::summary(&summary, term),
        Format::Markdown => markdown::summary(&summary),
        Format::Html => {
            let report = sections::Report {
                title: "ModelMora: Model Lifecycle Benchmark".into(),
                summary: Some(summary),
                skipped: vec![],
                facts: vec![],
                sections: vec![],
                recommendations: vec![],
                footnotes: vec![],
            };
            html::render(&report, &[])
        }
        other => anyhow::bail!("--summary prints a report: use it with --format table, markdown or html, not {other:?}"),
    })
}

/// The reports [`write_reports`] writes, with the format each holds.
pub(crate) const REPORT_FILES: [(&str, Format); 4] =
    [("report.md", Format::Markdown), ("report.html", Format::Html), ("results.csv", Format::Csv), ("profile.json", Format::Profile)];

/// What [`write_reports`] did: every file it wrote, and every one it could not, with why.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub files: Vec<PathBuf>,
    pub failed: Vec<(PathBuf, anyhow::Error)>,
}

impl Written {
    /// The files written, or the first failure (for a command whose output the reports are).
    pub(crate) fn all_or_first_error(self) -> Result<Vec<PathBuf>> {
        match self.failed.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(self.files),
        }
    }
}

/// Writes report.md, report.html, results.csv, profile.json and the charts into `dir` (results.json is the
/// caller's: the runner keeps it current trial by trial). Each file is written on its own: one that
/// cannot be (a full disk) leaves the others written and says why.
pub(crate) fn write_reports(dir: &Path, results: &ResultsFile, runs: &[(String, ResultsFile)]) -> Written {
    let mut written = Written::default();
    let mut put = |path: PathBuf, bytes: Result<String>| match bytes.and_then(|b| write_atomic(&path, b.as_bytes())) {
        Ok(()) => written.files.push(path),
        Err(e) => written.failed.push((path, e)),
    };
    let charts = chart::all(results);
    for (name, format) in REPORT_FILES {
        let text = render(results, runs, format).map(|mut text| {
            if format == Format::Markdown {
                // The charts lie beside report.md, so relative links show them in any Markdown viewer.
                text.push_str(&markdown::charts(charts.iter().map(|(name, _)| name.as_str())));
            }
            text
        });
        put(dir.join(name), text);
    }
    for (name, svg) in charts {
        put(dir.join(name), Ok(svg));
    }
    written
}

/// "1 model", "2 models".
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// A figure for a table cell: `—` where it is missing.
pub(crate) fn num(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "—".into(),
    }
}

/// A median with its range where there are several samples, e.g. "309.8 (235.4-321.8)"; the bare
/// median for one sample.
pub(crate) fn spread(summary: Option<&crate::stats::Summary>, decimals: usize, with_sign: bool) -> String {
    let Some(s) = summary else { return "—".into() };
    let fmt = |v: f64| if with_sign { signed(Some(v), decimals) } else { num(Some(v), decimals) };
    if s.n > 1 { format!("{} ({}..{})", fmt(s.median), num(Some(s.min), decimals), num(Some(s.max), decimals)) } else { fmt(s.median) }
}

/// A signed figure, e.g. "+12.3".
pub(crate) fn signed(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:+.decimals$}"),
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_figures_show_as_a_dash() {
        assert_eq!(num(None, 1), "—");
        assert_eq!(num(Some(f64::NAN), 1), "—");
        assert_eq!(num(Some(1.26), 1), "1.3");
        assert_eq!(signed(Some(2.0), 0), "+2");
        assert_eq!(signed(Some(-2.04), 1), "-2.0");
    }
}
