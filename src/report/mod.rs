//! Turning results into bytes: terminal tables, Markdown, HTML, CSV, JSON and SVG charts. Exporters
//! only render; what the tables contain is decided once, in [`sections`].

pub mod chart;
pub mod compare;
pub mod csv;
pub mod html;
pub mod leak_chart;
pub mod markdown;
pub mod sections;
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
        report.sections.extend(compare::section(&labelled));
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

/// The terminal report for `term` (its width, style and colour).
pub(crate) fn render_table(results: &ResultsFile, term: table::Terminal) -> String {
    table::render(&sections::build(results), term)
}

/// The terminal report of merged runs for `term`, with the comparison of [`render`].
pub(crate) fn render_runs_table(results: &ResultsFile, runs: &[(String, ResultsFile)], term: table::Terminal) -> String {
    table::render(&build(results, runs), term)
}

/// Writes report.md, report.html, results.csv, profile.json and the charts into `dir` (results.json is the
/// caller's: the runner keeps it current trial by trial); returns what it wrote.
pub(crate) fn write_reports(dir: &Path, results: &ResultsFile, runs: &[(String, ResultsFile)]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let charts = chart::all(results);
    let files =
        [("report.md", Format::Markdown), ("report.html", Format::Html), ("results.csv", Format::Csv), ("profile.json", Format::Profile)];
    for (name, format) in files {
        let mut text = render(results, runs, format)?;
        if format == Format::Markdown {
            // The charts lie beside report.md, so relative links show them in any Markdown viewer.
            text.push_str(&markdown::charts(charts.iter().map(|(name, _)| name.as_str())));
        }
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    for (name, svg) in charts {
        let path = dir.join(name);
        write_atomic(&path, svg.as_bytes())?;
        written.push(path);
    }
    Ok(written)
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
