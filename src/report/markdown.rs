//! report.md: the same report as Markdown, for a pull request or a wiki.

use super::sections::{Report, Section};
use super::summary::Summary;
use crate::results::ResultsFile;
use std::fmt::Write as _;

pub(crate) fn render(results: &ResultsFile, report: &Report) -> String {
    let mut out = format!("# {}\n\n", report.title);
    if let Some(s) = &report.summary {
        out.push_str(&summary(s));
        out.push('\n');
    }
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
            match &r.evidence_table {
                // The evidence as a table inside the list item (indented, after a blank line).
                Some(t) => {
                    let table = Section { rows: t.rows.clone(), ..Section::with_header("", t.header.clone()) };
                    out.push('\n');
                    for line in rows(&table).lines() {
                        let _ = writeln!(out, "   {line}");
                    }
                    out.push('\n');
                }
                None => {
                    for e in &r.evidence {
                        let _ = writeln!(out, "   - {e}");
                    }
                }
            }
        }
    }
    out.push('\n');
    for note in &report.footnotes {
        let _ = write!(out, "_{note}_\n\n");
    }
    out
}

/// The summary: a heading per provider, its answers as a list, its models as a table.
pub(crate) fn summary(summary: &Summary) -> String {
    let mut out = format!("## {}\n", summary.title);
    for block in &summary.blocks {
        let _ = writeln!(out, "\n### {}\n", block.heading);
        for a in &block.answers {
            let _ = writeln!(out, "- **{}**: {} {}: {}", a.question, a.level.mark(), a.level.to_string().to_uppercase(), escape(&a.answer));
        }
        for table in block.models.iter().chain(&block.extra) {
            out.push('\n');
            out.push_str(&rows(table));
        }
    }
    for note in &summary.notes {
        let _ = write!(out, "\n_{}_\n", escape(note));
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
    out.push_str(&rows(section));
    for note in &section.notes {
        let _ = write!(out, "\n{note}\n");
    }
    out
}

/// A section's header and rows as a Markdown table.
fn rows(section: &Section) -> String {
    let mut out = row(&section.header);
    out.push_str(&row(&section.header.iter().map(|_| "---".to_string()).collect::<Vec<_>>()));
    for r in &section.rows {
        out.push_str(&row(r));
    }
    out
}

fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" | "))
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
