//! The terminal report: tables in the spirit of the proof of concept's summary, fitted to the
//! terminal. A table wider than the terminal is never wrapped inside a number: each row becomes a
//! block of "header: value" lines instead. Piped output has no width to fit (unless COLUMNS says one)
//! and keeps whole rows. `--style plain` drops box drawing and emoji for logs, `ascii` draws with ASCII;
//! verdicts are coloured on a terminal, never when piped or with NO_COLOR.

use std::fmt::Write as _;
use std::io::IsTerminal;

use comfy_table::presets::{ASCII_FULL_CONDENSED, NOTHING, UTF8_FULL_CONDENSED};
use comfy_table::{ContentArrangement, Table};

use super::sections::{Report, Section};
use super::summary::Summary;

/// How the terminal report draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Style {
    /// Box drawing, emoji marks.
    #[default]
    Full,
    /// No box drawing, no emoji: for logs.
    Plain,
    /// ASCII borders, no emoji.
    Ascii,
}

/// Where the report goes and how it may draw there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Terminal {
    pub style: Style,
    /// Columns to fit; `None`: no limit (piped output).
    pub width: Option<usize>,
    pub color: bool,
}

impl Terminal {
    /// Standard output as it is: its width when it is a terminal (or COLUMNS), colour when it is a
    /// terminal and NO_COLOR is not set.
    pub(crate) fn stdout(style: Style) -> Terminal {
        let tty = std::io::stdout().is_terminal();
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|c: &usize| *c > 20);
        let width = columns.or_else(|| tty.then(|| Table::new().width().map(usize::from)).flatten());
        let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Terminal { style, width, color }
    }

    /// No limit, no colour, full style: what tests and files get.
    pub(crate) fn plain_full() -> Terminal {
        Terminal { style: Style::Full, width: None, color: false }
    }
}

pub(crate) fn render(report: &Report, term: Terminal) -> String {
    let rule = "=".repeat(term.width.unwrap_or(70).min(70));
    let mut out = format!("{rule}\n{}\n{rule}\n", report.title);
    if let Some(s) = &report.summary {
        out.push_str(&summary(s, term));
        out.push('\n');
    }
    for (label, value) in &report.facts {
        let _ = writeln!(out, "{}", wrap(&format!("  {label}: {value}"), term.width, 4));
    }
    for s in &report.sections {
        out.push_str(&section(s, term));
    }
    if !report.recommendations.is_empty() {
        let _ = write!(out, "\n{rule}\nRECOMMENDATIONS FOR MODELMORA\n{rule}\n");
        for (i, r) in report.recommendations.iter().enumerate() {
            let mark = match term.style {
                Style::Full => format!("{} ", r.level.mark()),
                Style::Plain | Style::Ascii => String::new(),
            };
            let level = paint(&r.level.to_string().to_uppercase(), term, level_color(r.level));
            let arrow = if term.style == Style::Full { "💡" } else { "->" };
            let _ = writeln!(out, "\n{}", wrap(&format!("{}. {} [{}]", i + 1, r.topic, r.scope()), term.width, 3));
            let _ = writeln!(out, "{}", wrap(&format!("   {mark}{level}: {}", r.verdict), term.width, 2));
            let _ = writeln!(out, "{}", wrap(&format!("   {arrow} {}", r.action), term.width, 3));
            match &r.evidence_table {
                // The per-model evidence as one small table, indented under its advice.
                Some(t) => {
                    let table = Section::with_header("", t.header.clone());
                    let table = Section { rows: t.rows.clone(), ..table };
                    let inner = Terminal { width: term.width.map(|w| w.saturating_sub(EVIDENCE_INDENT.len()).max(20)), ..term };
                    for line in draw(&table, inner).lines() {
                        let _ = writeln!(out, "{EVIDENCE_INDENT}{line}");
                    }
                }
                None => {
                    for e in &r.evidence {
                        let _ = writeln!(out, "{}", wrap(&format!("      - {e}"), term.width, 2));
                    }
                }
            }
        }
    }
    for note in &report.footnotes {
        let _ = write!(out, "\n{}", wrap(note, term.width, 2));
    }
    out.push('\n');
    out
}

/// How far a recommendation's evidence table sits in.
const EVIDENCE_INDENT: &str = "      ";

/// The summary alone (`--summary`), or as the report's opening: its title, then per provider the
/// answers, one line each where they fit, and the models' table.
pub(crate) fn summary(summary: &Summary, term: Terminal) -> String {
    let mut out = format!("{}\n", wrap(&summary.title, term.width, 2));
    let question_width = summary.blocks.iter().flat_map(|b| &b.answers).map(|a| a.question.len()).max().unwrap_or(0);
    for block in &summary.blocks {
        let _ = writeln!(out, "{}", wrap(&block.heading, term.width, 2));
        for a in &block.answers {
            let level = a.level.to_string().to_uppercase();
            let padded = format!("{level:<9}");
            let painted = padded.replacen(&level, &paint(&level, term, level_color(a.level)), 1);
            let line = format!("  {:<question_width$}  {painted} {}", a.question, a.answer);
            let _ = writeln!(out, "{}", wrap(&line, term.width, question_width + 13));
        }
        for table in block.models.iter().chain(&block.extra) {
            out.push_str(&draw(table, term));
        }
    }
    for note in &summary.notes {
        let _ = writeln!(out, "{}", wrap(note, term.width, 2));
    }
    out
}

/// One section: its title, the table (or one block per row where the table would not fit), its notes.
pub(crate) fn section(section: &Section, term: Terminal) -> String {
    let mut out = format!("\n{}\n", wrap(&section.title, term.width, 2));
    out.push_str(&draw(section, term));
    for note in &section.notes {
        let _ = writeln!(out, "{}", wrap(&format!("  {note}"), term.width, 2));
    }
    out
}

/// A section's table as it fits `term`: drawn whole, or one block per row where it would not fit.
fn draw(section: &Section, term: Terminal) -> String {
    let rows: Vec<Vec<String>> = section.rows.iter().map(|r| r.iter().map(|c| cell(c, term)).collect()).collect();
    let mut table = Table::new();
    let preset = match term.style {
        Style::Full => UTF8_FULL_CONDENSED,
        Style::Ascii => ASCII_FULL_CONDENSED,
        Style::Plain => NOTHING,
    };
    // Disabled: comfy-table never wraps a cell; whether the whole fits is decided below.
    table.load_preset(preset).set_content_arrangement(ContentArrangement::Disabled).set_header(&section.header);
    for row in &rows {
        table.add_row(row);
    }
    let drawn = table.to_string();
    let widest = drawn.lines().map(console_width).max().unwrap_or(0);
    match term.width.filter(|w| widest > *w) {
        Some(width) => blocks(section, &rows, width),
        None => drawn + "\n",
    }
}

/// Each row as a block: its first cell (and its provider, where the table has one) as a heading,
/// then "header: value" for the others, wrapped at `width` between words.
fn blocks(section: &Section, rows: &[Vec<String>], width: usize) -> String {
    let mut out = String::new();
    let provider = section.header.iter().position(|h| h == "Provider");
    for row in rows {
        let heading = row.first().map(String::as_str).unwrap_or("");
        let heading = match provider.and_then(|i| row.get(i)) {
            Some(p) if !p.is_empty() => format!("  {heading} ({p})"),
            _ => format!("  {heading}"),
        };
        let _ = writeln!(out, "{}", wrap(&heading, Some(width), 2));
        for (i, (header, value)) in section.header.iter().zip(row).enumerate().skip(1) {
            if !value.is_empty() && Some(i) != provider {
                let _ = writeln!(out, "{}", wrap(&format!("      {header}: {value}"), Some(width), 2));
            }
        }
    }
    out
}

/// `text` folded to lines of at most `width` columns (`None`: as it is), between words: only a word
/// longer than a whole line (a long path) is cut, after a `/` where it has one. Each line of `text`
/// is folded on its own; its continuation lines are indented by its own indentation plus `hang`
/// spaces, and keep their own spacing between words.
pub(crate) fn wrap(text: &str, width: Option<usize>, hang: usize) -> String {
    let Some(width) = width else { return text.to_string() };
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if console_width(line) <= width {
            out.push_str(line);
            continue;
        }
        let body = line.trim_start_matches(' ');
        let lead = line.len() - body.len();
        let indent = " ".repeat(lead + hang);
        let mut current = " ".repeat(lead);
        let mut words_on_line = 0;
        // Each word with the spaces before it: a line keeps its own spacing (aligned columns), a
        // fold drops the spaces where it breaks.
        let mut gap = 0;
        for word in body.split(' ') {
            if word.is_empty() {
                gap += 1;
                continue;
            }
            let spaces = gap + 1;
            gap = 0;
            if words_on_line > 0 && console_width(&current) + spaces + console_width(word) > width {
                out.push_str(&current);
                out.push('\n');
                current.clone_from(&indent);
                words_on_line = 0;
            }
            if words_on_line > 0 {
                current.push_str(&" ".repeat(spaces));
            }
            // A word wider than what is left of a fresh line: cut it where the line ends.
            let mut word = word;
            while console_width(&current) + console_width(word) > width && words_on_line == 0 {
                let room = width.saturating_sub(console_width(&current)).max(1);
                let Some(cut) = cut_point(word, room) else { break };
                current.push_str(&word[..cut]);
                out.push_str(&current);
                out.push('\n');
                current.clone_from(&indent);
                word = &word[cut..];
            }
            current.push_str(word);
            words_on_line += 1;
        }
        out.push_str(&current);
    }
    out
}

/// Where to cut a word so that at most `room` characters of it stay on the line: after the last `/`
/// that fits, else at `room` characters; `None` when the word fits or has escapes (never cut those).
fn cut_point(word: &str, room: usize) -> Option<usize> {
    if word.contains('\u{1b}') || word.chars().count() <= room {
        return None;
    }
    let end = word.char_indices().nth(room).map_or(word.len(), |(i, _)| i);
    let cut = word[..end].rfind('/').map(|i| i + 1).filter(|&i| i > 0 && i < word.len()).unwrap_or(end);
    Some(cut)
}

/// A cell as the style and the terminal want it: emoji marks dropped outside the full style,
/// verdicts coloured on a terminal.
fn cell(text: &str, term: Terminal) -> String {
    let mut text = text.to_string();
    if term.style != Style::Full {
        for mark in ["✅ ", "⚠️ ", "❌ "] {
            text = text.replace(mark, "");
        }
    }
    for (word, color) in [("PASS", Color::Green), ("CAUTION", Color::Yellow), ("FAIL", Color::Red)] {
        if text.ends_with(word) {
            let cut = text.len() - word.len();
            text = format!("{}{}", &text[..cut], paint(word, term, color));
            break;
        }
    }
    text
}

#[derive(Clone, Copy)]
enum Color {
    Green,
    Yellow,
    Red,
}

fn level_color(level: crate::results::recommendation::Level) -> Color {
    use crate::results::recommendation::Level;
    match level {
        Level::Excellent | Level::Good => Color::Green,
        Level::Moderate => Color::Yellow,
        Level::Poor => Color::Red,
    }
}

fn paint(text: &str, term: Terminal, color: Color) -> String {
    if !term.color {
        return text.to_string();
    }
    let code = match color {
        Color::Green => 32,
        Color::Yellow => 33,
        Color::Red => 31,
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// Width on screen: characters, escape sequences left out; the emoji marks mora prints take two
/// columns (and the variation selector after ⚠ none), as terminals draw them.
pub(crate) fn console_width(line: &str) -> usize {
    let mut width = 0;
    let mut escape = false;
    for c in line.chars() {
        match (escape, c) {
            (false, '\u{1b}') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, '\u{fe0f}') => {}
            (false, '\u{2600}'..='\u{27bf}' | '\u{1f300}'..='\u{1faff}') => width += 2,
            (false, _) => width += 1,
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> Section {
        Section {
            title: "Load".into(),
            header: vec!["Model".into(), "Load ms".into(), "Verdict".into()],
            rows: vec![vec!["gpt2".into(), "812.9 (741.9..1984.5)".into(), "✅ PASS".into()]],
            notes: vec![],
            host: None,
        }
    }

    #[test]
    fn a_table_too_wide_becomes_blocks_and_never_splits_a_number() {
        let narrow = Terminal { style: Style::Full, width: Some(40), color: false };
        let out = super::section(&section(), narrow);
        assert!(out.contains("  gpt2\n      Load ms: 812.9 (741.9..1984.5)\n      Verdict: ✅ PASS"), "{out}");
        // Narrower than a block's line: it folds between words, a hanging indent after the header.
        let narrower = super::section(&section(), Terminal { width: Some(24), ..narrow });
        assert!(narrower.contains("      Load ms: 812.9\n        (741.9..1984.5)\n"), "{narrower}");
        let wide = Terminal { style: Style::Full, width: Some(200), color: false };
        let table = super::section(&section(), wide);
        assert!(table.contains("│ gpt2  ┆ 812.9 (741.9..1984.5) ┆ ✅ PASS"), "{table}");
        let piped = Terminal::plain_full();
        assert!(super::section(&section(), piped).contains("812.9 (741.9..1984.5)"), "no width: whole rows");
    }

    #[test]
    fn prose_wraps_between_words_with_a_hanging_indent() {
        let text = "  gpt2: models/gpt2/model.onnx missing; make it with: .venv/bin/python scripts/export_models.py --models gpt2";
        let wrapped = wrap(text, Some(40), 2);
        assert_eq!(
            wrapped,
            "  gpt2: models/gpt2/model.onnx missing;\n    make it with: .venv/bin/python\n    scripts/export_models.py --models\n    gpt2"
        );
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(text), "no word split or lost");
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40), "{wrapped}");
        // A word longer than a whole line is cut where the line ends, after a '/' where it has one.
        assert_eq!(wrap("a 0123456789abcdef b", Some(8), 0), "a\n01234567\n89abcdef\nb");
        assert_eq!(wrap("  lib: /tmp/venv/lib/onnxruntime.so", Some(20), 2), "  lib:\n    /tmp/venv/lib/\n    onnxruntime.so");
        assert_eq!(wrap(text, None, 2), text);
        assert_eq!(wrap("short", Some(80), 2), "short");
    }

    #[test]
    fn plain_drops_box_drawing_and_emoji_and_colour_only_on_a_terminal() {
        let plain = super::section(&section(), Terminal { style: Style::Plain, width: None, color: false });
        assert!(!plain.contains('│') && !plain.contains('✅') && plain.contains("PASS"), "{plain}");
        let ascii = super::section(&section(), Terminal { style: Style::Ascii, width: None, color: false });
        assert!(ascii.contains('|') && !ascii.contains('✅'), "{ascii}");
        let colored = super::section(&section(), Terminal { style: Style::Full, width: None, color: true });
        assert!(colored.contains("\u{1b}[32mPASS\u{1b}[0m"), "{colored}");
        assert!(!super::section(&section(), Terminal::plain_full()).contains('\u{1b}'));
    }
}
