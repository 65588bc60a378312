//! leak.svg: memory per load/unload cycle, one small panel per series (a model's RAM, its VRAM where
//! read), with the lines the verdict is judged against, so a reader sees why a series passed.

use std::fmt::Write as _;

use crate::advice::rules::{LEAK_CAUTION_MB, LEAK_FAIL_MB};
use crate::results::LeakSeries;

/// One panel: its title and the series it draws.
pub(crate) struct Panel<'a> {
    pub title: String,
    pub series: &'a LeakSeries,
}

const COLUMNS: usize = 3;
const PANEL_W: f64 = 330.0;
const PANEL_H: f64 = 190.0;
const PLOT: (f64, f64, f64, f64) = (48.0, 36.0, 300.0, 160.0); // left, top, right, bottom inside a panel
const UNLOAD: &str = "#f58518";
const TRIM: &str = "#4c78a8";
const CAUTION: &str = "#d4a017";
const FAIL: &str = "#d62728";

/// The chart for every panel, or `None` when there is none.
pub(crate) fn render(panels: &[Panel<'_>]) -> Option<String> {
    if panels.is_empty() {
        return None;
    }
    let rows = panels.len().div_ceil(COLUMNS);
    let (width, height) = (PANEL_W * COLUMNS.min(panels.len()) as f64 + 20.0, PANEL_H * rows as f64 + 70.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"10\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Memory above the baseline after each load/unload cycle (MB)</text>\n"
    );
    legend(&mut svg);
    for (i, panel) in panels.iter().enumerate() {
        let (col, row) = (i % COLUMNS, i / COLUMNS);
        let _ = writeln!(svg, "<g transform=\"translate({},{})\">", 10.0 + col as f64 * PANEL_W, 56.0 + row as f64 * PANEL_H);
        draw_panel(&mut svg, panel);
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

fn legend(svg: &mut String) {
    let items = [
        (UNLOAD, "", "after unload"),
        (TRIM, "", "after unload + malloc_trim (judged)"),
        (CAUTION, "4 3", "caution: first cycle + 10 MB"),
        (FAIL, "4 3", "fail: first cycle + 50 MB"),
    ];
    for (i, (color, dash, name)) in items.iter().enumerate() {
        let x = 10.0 + i as f64 * 215.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{x}\" y1=\"36\" x2=\"{}\" y2=\"36\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/><text x=\"{}\" y=\"40\">{name}</text>",
            x + 20.0,
            x + 24.0
        );
    }
}

/// Cycle 0 is the baseline (0 MB); cycle 1 the first (the worker's warm-up, not judged); the
/// verdict rests on the growth of the after-trim line over the cycles after the first.
fn draw_panel(svg: &mut String, panel: &Panel<'_>) {
    let s = panel.series;
    let above = |v: &f64| v - s.baseline_mb;
    let unload: Vec<f64> = std::iter::once(0.0).chain(s.after_unload_mb.iter().map(above)).collect();
    let trim: Vec<f64> = std::iter::once(0.0).chain(s.after_trim_mb.iter().map(above)).collect();
    let first = trim.get(1).copied().unwrap_or(0.0);
    let (caution, fail) = (first + LEAK_CAUTION_MB, first + LEAK_FAIL_MB);
    let finite = unload.iter().chain(&trim).copied().filter(|v| v.is_finite());
    let top = finite.clone().fold(fail, f64::max) * 1.08;
    let bottom = finite.fold(0.0, f64::min);
    let (left, plot_top, right, plot_bottom) = PLOT;
    let cycles = unload.len().max(trim.len()).max(2) - 1;
    let x = |i: usize| left + (right - left) * i as f64 / cycles as f64;
    let y = |v: f64| plot_bottom - (plot_bottom - plot_top) * (v - bottom) / (top - bottom).max(1e-9);
    let _ = writeln!(svg, "<text x=\"4\" y=\"14\" font-size=\"10.5\" font-weight=\"bold\">{}</text>", xml(&panel.title));
    let _ = writeln!(
        svg,
        "<text x=\"4\" y=\"27\">{}: growth after the first cycle {:+.1} MB</text>",
        s.verdict.to_string().to_uppercase(),
        s.growth_after_trim_mb
    );
    // Axes, with the y range's ends labelled.
    let _ = writeln!(
        svg,
        "<path d=\"M{left} {plot_top} V{plot_bottom} H{right}\" fill=\"none\" stroke=\"#888\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{top:.0}</text><text x=\"{}\" y=\"{plot_bottom}\" text-anchor=\"end\">{bottom:.0}</text>",
        left - 3.0,
        plot_top + 4.0,
        left - 3.0
    );
    for i in 0..=cycles {
        let label = if i == 0 { "base".to_string() } else { i.to_string() };
        let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>", x(i), plot_bottom + 12.0);
    }
    // The thresholds apply from the first cycle on: growth is measured against it.
    for (level, color) in [(caution, CAUTION), (fail, FAIL)] {
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{right}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/>",
            x(1),
            y(level),
            y(level)
        );
    }
    for (values, color) in [(&unload, UNLOAD), (&trim, TRIM)] {
        let points: Vec<String> =
            values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
        let _ = writeln!(svg, "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>", points.join(" "));
        for p in &points {
            let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(svg, "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"2.5\" fill=\"{color}\"/>");
        }
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::LeakVerdict;

    fn series(after_trim: Vec<f64>) -> LeakSeries {
        LeakSeries {
            baseline_mb: 100.0,
            after_unload_mb: after_trim.iter().map(|v| v + 5.0).collect(),
            after_trim_mb: after_trim,
            net_growth_mb: 0.0,
            net_growth_after_trim_mb: 0.0,
            first_cycle_retained_mb: 60.0,
            growth_mb: 0.0,
            growth_after_trim_mb: 1.0,
            judged_cycles: 3,
            slope_mb_per_cycle: None,
            slope_after_trim_mb_per_cycle: None,
            verdict: LeakVerdict::Pass,
            verdict_rests_on: String::new(),
        }
    }

    #[test]
    fn the_threshold_lines_sit_above_the_first_cycle() {
        let s = series(vec![160.0, 160.5, 161.0, 161.0]);
        let svg = render(&[Panel { title: "gpt2 (cpu) <RAM>".into(), series: &s }]).unwrap();
        assert!(svg.contains("gpt2 (cpu) &lt;RAM&gt;") && svg.contains("PASS: growth after the first cycle +1.0 MB"));
        // The panel's y axis spans 0 to (60 + 50) x 1.08 MB: the fail line is at 110 MB.
        let y = |v: f64| PLOT.3 - (PLOT.3 - PLOT.1) * v / (110.0 * 1.08);
        let line = |v: f64| format!("y1=\"{:.1}\"", y(v));
        assert!(svg.contains(&line(70.0)), "caution at first cycle + 10 MB\n{svg}");
        assert!(svg.contains(&line(110.0)), "fail at first cycle + 50 MB\n{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2, "after unload and after trim");
        assert_eq!(svg.matches("<circle").count(), 2 * 5, "the baseline and four cycles per line");
    }

    #[test]
    fn no_series_no_chart_and_panels_wrap_in_rows_of_three() {
        assert!(render(&[]).is_none());
        let s = series(vec![1.0, 1.0]);
        let panels: Vec<Panel<'_>> = (0..4).map(|i| Panel { title: format!("m{i}"), series: &s }).collect();
        let svg = render(&panels).unwrap();
        assert!(svg.contains("translate(10,56)") && svg.contains("translate(670,56)") && svg.contains("translate(10,246)"));
    }
}
