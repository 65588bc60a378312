//! The terminal report: comfy-table tables in the spirit of the proof of concept's summary.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::sections::{Report, Section};

pub fn render(report: &Report) -> String {
    let rule = "=".repeat(70);
    let mut out = format!("{rule}\n{}\n{rule}\n", report.title);
    for (label, value) in &report.facts {
        out.push_str(&format!("  {label}: {value}\n"));
    }
    for s in &report.sections {
        out.push_str(&section(s));
    }
    if !report.recommendations.is_empty() {
        out.push_str(&format!("\n{rule}\nRECOMMENDATIONS FOR MODELMORA\n{rule}\n"));
        for (i, r) in report.recommendations.iter().enumerate() {
            out.push_str(&format!("\n{}. {} [{}]\n   {} {}\n   💡 {}\n", i + 1, r.topic, r.scope(), r.level.mark(), r.verdict, r.action));
            for e in &r.evidence {
                out.push_str(&format!("      - {e}\n"));
            }
        }
    }
    for note in &report.footnotes {
        out.push_str(&format!("\n{note}"));
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
        out.push_str(&format!("  {note}\n"));
    }
    out
}
