//! report.md: the same report as Markdown, for a pull request or a wiki.

use super::sections::{Report, Section};
use crate::results::ResultsFile;
use std::fmt::Write as _;

pub(crate) fn render(results: &ResultsFile, report: &Report) -> String {
    let mut out = format!("# {}\n\n", report.title);
    for (label, value) in &report.facts {
        let _ = writeln!(out, "- **{label}**: {}", escape(value));
    }
    let _ = writeln!(
        out,
        "- **Config**: {} (sha256 {})",
        results.run.config.path,
        &results.run.config.sha256[..12.min(results.run.config.sha256.len())]
    );
    for s in &report.sections {
        out.push_str(&section(s));
    }
    if !report.recommendations.is_empty() {
        out.push_str("\n## Recommendations\n\n");
        for (i, r) in report.recommendations.iter().enumerate() {
            let _ = writeln!(out, "{}. **{} ({})**: {} {}. {}", i + 1, r.topic, r.scope(), r.level.mark(), r.verdict, r.action);
            for e in &r.evidence {
                let _ = writeln!(out, "   - {e}");
            }
        }
    }
    out.push('\n');
    for note in &report.footnotes {
        let _ = write!(out, "_{note}_\n\n");
    }
    out
}

/// The charts written beside report.md, embedded by relative link.
pub(crate) fn charts<'a>(files: impl IntoIterator<Item = &'a str>) -> String {
    let links: Vec<String> = files.into_iter().map(|f| format!("![{}]({f})\n", f.trim_end_matches(".svg"))).collect();
    if links.is_empty() { String::new() } else { format!("## Charts\n\n{}", links.join("\n")) }
}

/// One section as a Markdown heading, table and notes.
pub(crate) fn section(section: &Section) -> String {
    let mut out = format!("\n## {}\n\n", section.title);
    out.push_str(&row(&section.header));
    out.push_str(&row(&section.header.iter().map(|_| "---".to_string()).collect::<Vec<_>>()));
    for r in &section.rows {
        out.push_str(&row(r));
    }
    for note in &section.notes {
        let _ = write!(out, "\n{note}\n");
    }
    out
}

fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" | "))
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
