//! report.html: the report as one self-contained page for passing around after a run or a fleet's
//! merge. Nothing is fetched: the styles, the sorting script and the SVG charts are inlined. A click
//! on a column's header sorts its table; `#sort=TABLE,COLUMN[,desc]` in the address opens the page
//! sorted (a link to a sorted view). A fleet's per-host tables sit in one collapsible block per host.

use std::fmt::Write;

use super::sections::{Report, Section};
use super::summary::Summary;

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 1.5rem 3rem; color: #1d2733; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 1.5rem 0 .8rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #dde3ea; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 1rem; font-size: .92rem; }
dl.facts dt { font-weight: 600; color: #46566a; }
dl.facts dd { margin: 0; }
nav { background: #f4f6f9; border: 1px solid #dde3ea; border-radius: 6px; padding: .5rem 1rem; font-size: .9rem; }
nav ol { margin: .3rem 0; padding-left: 1.4rem; columns: 2; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0; }
th, td { border: 1px solid #d5dbe3; padding: .25rem .5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { background: #e9eef4; position: sticky; top: 0; cursor: pointer; user-select: none; }
thead th:focus { outline: 2px solid #4c78a8; }
thead th[aria-sort="ascending"]::after { content: " \25B2"; }
thead th[aria-sort="descending"]::after { content: " \25BC"; }
tbody tr:nth-child(even) { background: #f8fafc; }
p.note { font-size: .85rem; color: #46566a; margin: .3rem 0; max-width: 110ch; }
details.host { border: 1px solid #dde3ea; border-radius: 6px; padding: 0 1rem .5rem; margin: 1.2rem 0; }
details.host > summary { cursor: pointer; font-size: 1.2rem; font-weight: 600; padding: .6rem 0; }
figure { margin: 1rem 0; overflow-x: auto; }
figcaption { font-size: .8rem; color: #46566a; }
ol.advice > li { margin: .6rem 0; }
.level { font-weight: 600; padding: 0 .3rem; border-radius: 3px; }
.level-excellent, .level-good { background: #e3f4e1; color: #1e6b1a; }
.level-moderate { background: #fdf1d8; color: #8a5a00; }
.level-poor { background: #fbe2e0; color: #9b1c13; }
ul.evidence, table.evidence { font-size: .85rem; color: #46566a; }
footer { margin-top: 2rem; font-size: .85rem; color: #46566a; }
"#;

/// Sorts a table by a column: numbers by value (the first number in the cell, so "309.8 (235..322)"
/// sorts as 309.8), other text alphabetically; cells without a figure ("—") stay last.
const SCRIPT: &str = r#"
(function () {
  function figure(cell) {
    var m = cell.textContent.trim().match(/^[+-]?\d+(\.\d+)?/);
    return m ? parseFloat(m[0]) : null;
  }
  function sortTable(table, col, descending) {
    var dir = descending ? -1 : 1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = figure(a.cells[col]), y = figure(b.cells[col]);
      if (x !== null && y !== null) return (x - y) * dir;
      if (x !== null) return -1;
      if (y !== null) return 1;
      var s = a.cells[col].textContent.trim(), t = b.cells[col].textContent.trim();
      if (s === "\u2014" || t === "\u2014") return s === t ? 0 : (s === "\u2014" ? 1 : -1);
      return s.localeCompare(t) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.setAttribute("aria-sort", i === col ? (descending ? "descending" : "ascending") : "none");
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function toggle() { sortTable(table, col, th.getAttribute("aria-sort") === "ascending"); }
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    });
  });
  var asked = /^#sort=([\w-]+),(\d+)(,desc)?$/.exec(decodeURIComponent(location.hash));
  var table = asked && document.getElementById(asked[1]);
  if (table && table.tHead && +asked[2] < table.tHead.rows[0].cells.length) sortTable(table, +asked[2], !!asked[3]);
})();
"#;

pub(crate) fn render(report: &Report, charts: &[(String, String)]) -> String {
    let mut ids = Ids::default();
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>", escape(&report.title));
    let _ = writeln!(out, "<header>\n<h1 id=\"title\">{}</h1>\n<dl class=\"facts\">", escape(&report.title));
    for (label, value) in &report.facts {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl>\n</header>\n");

    // The body first, so the table of contents can list the ids it gave out.
    let mut body = String::new();
    let mut contents: Vec<(String, String)> = Vec::new();
    if let Some(s) = &report.summary {
        let id = ids.of("summary");
        contents.push((id.clone(), "Summary".into()));
        body.push_str(&summary(s, &id, &mut ids));
    }
    let mut sections = report.sections.iter().peekable();
    while let Some(s) = sections.next() {
        match &s.host {
            None => {
                let id = ids.of(short(&s.title));
                contents.push((id.clone(), s.title.clone()));
                body.push_str(&section(s, &id, "h2"));
            }
            Some(host) => {
                let block = ids.of(&format!("host {host}"));
                let id = block.clone();
                contents.push((id.clone(), format!("Host {host}")));
                let _ = writeln!(body, "<details class=\"host\" id=\"{id}\" open>\n<summary>Host {}</summary>", escape(host));
                let suffix = format!(" — {host}");
                let mut next = Some(s);
                while let Some(s) = next {
                    // Inside the host's block its name is in the summary; the headings drop it.
                    let title = s.title.strip_suffix(&suffix).unwrap_or(&s.title);
                    let id = ids.of(&format!("{block} {}", short(title)));
                    body.push_str(&section(&Section { title: title.into(), ..s.clone() }, &id, "h3"));
                    next = sections.next_if(|n| n.host.as_ref() == Some(host));
                }
                body.push_str("</details>\n");
            }
        }
    }
    if !charts.is_empty() {
        contents.push(("charts".into(), "Charts".into()));
        body.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
        for (name, svg) in charts {
            // mora's own SVG (chart.rs escapes every label), inlined as it is.
            let _ = writeln!(body, "<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>", escape(name));
        }
        body.push_str("</section>\n");
    }
    if !report.recommendations.is_empty() {
        contents.push(("recommendations".into(), "Recommendations".into()));
        body.push_str(&recommendations(report));
    }

    out.push_str("<nav>\n<strong>Contents</strong>\n<ol>\n");
    for (id, title) in &contents {
        let _ = writeln!(out, "<li><a href=\"#{id}\">{}</a></li>", escape(title));
    }
    out.push_str("</ol>\n</nav>\n<main>\n");
    out.push_str(&body);
    out.push_str("</main>\n<footer>\n");
    for note in &report.footnotes {
        let _ = writeln!(out, "<p>{}</p>", escape(note));
    }
    let _ = writeln!(out, "<p>Written by mora {}.</p>\n</footer>", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

/// One section: its heading, a sortable table (its id is the section's with `-table`), its notes.
fn section(s: &Section, id: &str, heading: &str) -> String {
    let mut out = format!("<section id=\"{id}\">\n<{heading}>{}</{heading}>\n<div class=\"scroll\">\n", escape(&s.title));
    let _ = write!(out, "<table class=\"sortable\" id=\"{id}-table\">\n<thead><tr>");
    for h in &s.header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &s.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = if is_figure(cell) { " class=\"num\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    for note in &s.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("</section>\n");
    out
}

/// The summary: per provider its answers, each with its verdict, and its models' table.
fn summary(summary: &Summary, id: &str, ids: &mut Ids) -> String {
    let mut out = format!("<section id=\"{id}\">\n<h2>{}</h2>\n", escape(&summary.title));
    for block in &summary.blocks {
        let _ = writeln!(out, "<h3>{}</h3>\n<ul class=\"answers\">", escape(&block.heading));
        for a in &block.answers {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong>: <span class=\"level level-{level}\">{level}</span> {}</li>",
                escape(&a.question),
                escape(&a.answer),
                level = a.level
            );
        }
        out.push_str("</ul>\n");
        for table in block.models.iter().chain(&block.extra) {
            let table_id = ids.of(&format!("summary {} {}", block.heading, table.title));
            let drawn = section(&Section { title: String::new(), ..table.clone() }, &table_id, "h4");
            out.push_str(&drawn.replace("<h4></h4>\n", "").replace("<table class=\"sortable\"", "<table class=\"sortable summary\""));
        }
    }
    for note in &summary.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("</section>\n");
    out
}

/// The recommendations, grouped by what they apply to (provider, and machine class in a fleet).
fn recommendations(report: &Report) -> String {
    let mut out = String::from("<section id=\"recommendations\">\n<h2>Recommendations</h2>\n");
    // Each scope once, in the order the advice first names it (the backend advice comes last).
    let mut scopes: Vec<String> = Vec::new();
    for scope in report.recommendations.iter().map(|r| r.scope()) {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    for scope in scopes {
        let _ = writeln!(out, "<h3>{}</h3>\n<ol class=\"advice\">", escape(&scope));
        for r in report.recommendations.iter().filter(|r| r.scope() == scope) {
            // The level in words and colour, without the emoji marks of the terminal: a page may be
            // opened where no emoji font is installed.
            let _ = write!(
                out,
                "<li><span class=\"level level-{level}\">{level}</span> <strong>{}</strong>: {}\n<p>{}</p>\n",
                escape(&r.topic.to_string()),
                escape(&r.verdict),
                escape(&r.action),
                level = r.level,
            );
            if let Some(t) = &r.evidence_table {
                out.push_str("<table class=\"evidence\">\n<thead><tr>");
                for h in &t.header {
                    let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in &t.rows {
                    out.push_str("<tr>");
                    for c in row {
                        let class = if is_figure(c) { " class=\"num\"" } else { "" };
                        let _ = write!(out, "<td{class}>{}</td>", escape(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            } else if !r.evidence.is_empty() {
                out.push_str("<ul class=\"evidence\">\n");
                for e in &r.evidence {
                    let _ = writeln!(out, "<li>{}</li>", escape(e));
                }
                out.push_str("</ul>\n");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
    out
}

/// A section's title without its explanation in brackets, for its id: "Cold vs warm load (scenario
/// cold)" is `s-cold-vs-warm-load`.
fn short(title: &str) -> &str {
    title.split(" (").next().unwrap_or(title)
}

/// Whether a cell holds a figure (right-aligned): it starts with a number, signed or not.
fn is_figure(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    digits.starts_with(|c: char| c.is_ascii_digit())
}

/// Unique element ids from titles: `s-` and the lower-case words joined by `-`, `-2` on a repeat.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn of(&mut self, title: &str) -> String {
        let mut slug = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let base = if slug.starts_with("s-") { slug.to_string() } else { format!("s-{slug}") };
        let mut id = base.clone();
        let mut n = 1;
        while self.0.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        self.0.push(id.clone());
        id
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            title: "T <1>".into(),
            summary: None,
            skipped: vec![],
            facts: vec![("Host".into(), "a & b".into())],
            sections: vec![
                Section {
                    title: "Load".into(),
                    header: vec!["Model".into(), "Load ms".into()],
                    rows: vec![vec!["<script>".into(), "12.5".into()]],
                    notes: vec!["n".into()],
                    host: None,
                },
                Section { title: "Load — h1".into(), header: vec!["Model".into()], rows: vec![], notes: vec![], host: Some("h1".into()) },
                Section { title: "Leak — h1".into(), header: vec!["Model".into()], rows: vec![], notes: vec![], host: Some("h1".into()) },
            ],
            recommendations: vec![],
            footnotes: vec![],
        }
    }

    #[test]
    fn every_text_is_escaped_and_figures_are_right_aligned() {
        let html = render(&report(), &[]);
        assert!(html.contains("<td>&lt;script&gt;</td><td class=\"num\">12.5</td>"), "{html}");
        assert!(html.contains("<title>T &lt;1&gt;</title>") && html.contains("<dd>a &amp; b</dd>"));
        assert!(!html.contains("<script>\"") && html.matches("<script>").count() == 1, "one script: mora's own");
    }

    #[test]
    fn a_hosts_sections_share_one_block_and_ids_are_unique() {
        let html = render(&report(), &[("load-time.svg".into(), "<svg></svg>\n".into())]);
        assert_eq!(html.matches("<details class=\"host\"").count(), 1, "{html}");
        assert!(html.contains("<h3>Load</h3>") && html.contains("<h3>Leak</h3>"), "{html}");
        assert!(html.contains("id=\"s-load\"") && html.contains("id=\"s-host-h1-load\""), "{html}");
        assert!(html.contains("id=\"s-host-h1\" open"), "{html}");
        assert!(html.contains("<figure>\n<svg></svg>"), "charts are inlined");
        assert!(!html.contains("http://") && !html.contains("https://"), "nothing is fetched");
    }

    #[test]
    fn figures_are_told_from_text() {
        assert!(is_figure("12.5") && is_figure("+3.0 (1..4)") && is_figure("-2"));
        assert!(!is_figure("—") && !is_figure("HIT") && !is_figure("+"));
    }
}
