//! The terminal report: comfy-table tables in the spirit of the proof of concept's summary.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write as _;

use super::sections::{Report, Section};

pub fn render(report: &Report) -> String {
    let rule = "=".repeat(70);
    let mut out = format!("{rule}\n{}\n{rule}\n", report.title);
    for (label, value) in &report.facts {
        let _ = writeln!(out, "  {label}: {value}");
    }
    for s in &report.sections {
        out.push_str(&section(s));
    }
    if !report.recommendations.is_empty() {
        let _ = write!(out, "\n{rule}\nRECOMMENDATIONS FOR MODELMORA\n{rule}\n");
        for (i, r) in report.recommendations.iter().enumerate() {
            let _ = write!(out, "\n{}. {} [{}]\n   {} {}\n   💡 {}\n", i + 1, r.topic, r.provider, r.level.mark(), r.verdict, r.action);
            for e in &r.evidence {
                let _ = writeln!(out, "      - {e}");
            }
        }
    }
    for note in &report.footnotes {
        let _ = write!(out, "\n{note}");
    }
    out.push('\n');
    out
}

/// One section: its title, the table, its notes.
pub fn section(section: &Section) -> String {
    let mut out = format!("\n{}\n", section.title);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(&section.header);
    for row in &section.rows {
        table.add_row(row);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    for note in &section.notes {
        let _ = writeln!(out, "  {note}");
    }
    out
}
