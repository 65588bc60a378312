//! SVG charts next to the report: grouped horizontal bars and line charts, drawn by hand (no plotting
//! dependency).

use crate::results::{Measurements, ResultsFile};
use std::fmt::Write as _;

const COLORS: [&str; 4] = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"];

/// One labelled group of bars, one bar per series.
pub(crate) struct Group {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

/// Every chart the results support, as (file name, SVG).
pub fn all(r: &ResultsFile) -> Vec<(String, String)> {
    let mut charts = Vec::new();
    let singles: Vec<_> = r
        .trials
        .iter()
        .filter(|t| t.outcome.is_ok())
        .filter_map(|t| match &t.measurements {
            Some(Measurements::Single(m)) => Some((t, m)),
            _ => None,
        })
        .collect();
    // A fleet's bars name their host too: the same model from two machines is two bars.
    let fleet = crate::fleet::is_fleet(r);
    let label = |t: &crate::results::TrialRecord| {
        let random = if t.weights.is_random() { ", random weights" } else { "" };
        let host = t.host.as_ref().filter(|_| fleet).map(|h| format!(", {h}")).unwrap_or_default();
        format!("{} ({}{random}{host})", t.model_label(), t.provider)
    };
    let med = |s: &Option<crate::stats::Summary>| s.as_ref().map(|s| s.median);
    // Per-worker figures without a summary of their own: the median over the workers.
    let over_workers = |m: &crate::results::SingleTrial, get: fn(&crate::results::UnloadFigures) -> Option<f64>| {
        crate::stats::median(&m.workers.iter().filter_map(|w| get(&w.figures)).collect::<Vec<_>>())
    };
    if !singles.is_empty() {
        let groups = singles
            .iter()
            .map(|(t, m)| Group {
                label: label(t),
                values: vec![
                    med(&m.summary.first_load_ms),
                    med(&m.summary.load_time_ms),
                    med(&m.summary.first_inference_ms),
                    med(&m.summary.steady_p50_ms),
                ],
            })
            .collect::<Vec<_>>();
        charts.push((
            "load-time.svg".into(),
            bars(
                "Load and inference time (medians over fresh workers)",
                "ms",
                &["fresh worker load", "warm load (after unload + trim)", "first inference", "p50"],
                &groups,
            ),
        ));
        let groups = singles
            .iter()
            .map(|(t, m)| Group {
                label: label(t),
                values: vec![
                    med(&m.summary.memory_increase_mb),
                    over_workers(m, |f| f.memory_reclaimed_mb),
                    over_workers(m, |f| f.memory_reclaimed_after_trim_mb),
                ],
            })
            .collect::<Vec<_>>();
        charts.push((
            "memory.svg".into(),
            bars(
                "Footprint and what unload gives back (RSS)",
                "MB",
                &["footprint", "reclaimed by unload", "reclaimed after trim"],
                &groups,
            ),
        ));
        // GPU memory only where a trial read it (CUDA runs); a CPU-only run gets no empty chart.
        let groups = singles
            .iter()
            .filter(|(_, m)| m.summary.gpu_memory_increase_mb.is_some())
            .map(|(t, m)| Group {
                label: label(t),
                values: vec![med(&m.summary.gpu_memory_increase_mb), over_workers(m, |f| f.gpu_memory_reclaimed_mb)],
            })
            .collect::<Vec<_>>();
        if !groups.is_empty() {
            charts.push((
                "gpu-memory.svg".into(),
                bars(
                    "VRAM the CUDA arena reserved for the model and what unload gives back",
                    "MB",
                    &["arena reservation", "reclaimed by unload"],
                    &groups,
                ),
            ));
        }
    }
    let leaks: Vec<(String, &crate::results::LeakSeries)> = r
        .trials
        .iter()
        .filter(|t| t.outcome.is_ok())
        .filter_map(|t| match &t.measurements {
            Some(Measurements::Leak(m)) => Some((t, m)),
            _ => None,
        })
        // VRAM, where a CUDA trial read it, as a panel of its own after the RSS one.
        .flat_map(|(t, m)| {
            std::iter::once((format!("{} RAM", label(t)), &m.rss)).chain(m.gpu.as_ref().map(|g| (format!("{} VRAM", label(t)), g)))
        })
        .collect();
    let panels: Vec<_> = leaks.into_iter().map(|(title, series)| super::leak_chart::Panel { title, series }).collect();
    if let Some(svg) = super::leak_chart::render(&panels) {
        charts.push(("leak.svg".into(), svg));
    }
    charts
}

/// A grouped horizontal bar chart. Negative values draw left of the axis.
pub(crate) fn bars(title: &str, unit: &str, series: &[&str], groups: &[Group]) -> String {
    // Wide enough for the longest label (about 6.5 px a character at 11 px), so none is cut off.
    let longest = groups.iter().map(|g| g.label.chars().count()).max().unwrap_or(0);
    let (label_w, plot_w, bar_h, gap) = ((longest as f64 * 6.5 + 12.0).max(300.0).round(), 520.0, 14.0, 10.0);
    let group_h = bar_h * series.len() as f64 + gap;
    let top = 50.0;
    let height = top + group_h * groups.len() as f64 + 40.0;
    let values = groups.iter().flat_map(|g| g.values.iter().flatten().copied());
    let max = values.clone().fold(0.0_f64, f64::max);
    let min = values.fold(0.0_f64, f64::min);
    let span = (max - min).max(1e-9);
    let x = |v: f64| label_w + (v - min) / span * plot_w;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        label_w + plot_w + 90.0,
        xml(title)
    );
    for (i, name) in series.iter().enumerate() {
        let lx = label_w + i as f64 * 170.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"30\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"39\">{}</text>",
            COLORS[i % COLORS.len()],
            lx + 14.0,
            xml(name)
        );
    }
    for (gi, group) in groups.iter().enumerate() {
        let y0 = top + gi as f64 * group_h;
        let _ =
            writeln!(svg, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", label_w - 6.0, y0 + group_h / 2.0, xml(&group.label));
        for (si, value) in group.values.iter().enumerate() {
            let Some(v) = value else { continue };
            let y = y0 + si as f64 * bar_h;
            let (a, b) = (x(0.0_f64.max(min)), x(*v));
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{v:.1} {unit}</text>",
                a.min(b),
                (b - a).abs().max(0.5),
                bar_h - 2.0,
                COLORS[si % COLORS.len()],
                a.max(b) + 4.0,
                y + bar_h - 4.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// One line of a line chart: its name and its (x, y) points, in order of x.
pub(crate) struct Line<'a> {
    pub name: &'a str,
    pub points: &'a [(f64, f64)],
}

/// A line chart (x from 0), with an optional dashed horizontal line (a limit, e.g. a budget).
pub(crate) fn lines(title: &str, x_unit: &str, y_unit: &str, series: &[Line], limit: Option<(&str, f64)>) -> String {
    let (left, plot_w, top, plot_h) = (70.0, 700.0, 50.0, 300.0);
    let points = series.iter().flat_map(|l| l.points.iter().copied());
    let x_max = points.clone().map(|p| p.0).fold(0.0_f64, f64::max).max(1e-9);
    let y_max = points.map(|p| p.1).chain(limit.map(|l| l.1)).fold(0.0_f64, f64::max).max(1e-9) * 1.05;
    let x = |v: f64| left + v / x_max * plot_w;
    let y = |v: f64| top + plot_h - v / y_max * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        left + plot_w + 40.0,
        top + plot_h + 50.0,
        xml(title)
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>",
        top + plot_h,
        left + plot_w,
        top + plot_h,
        top + plot_h
    );
    for i in 0..=4 {
        let (xv, yv) = (x_max * i as f64 / 4.0, y_max * i as f64 / 4.0);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{xv:.0} {}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{yv:.0} {}</text>",
            x(xv),
            top + plot_h + 16.0,
            xml(x_unit),
            left - 4.0,
            y(yv) + 4.0,
            xml(y_unit)
        );
    }
    if let Some((name, value)) = limit {
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/><text x=\"{2:.1}\" y=\"{3:.1}\" fill=\"#d62728\">{4} {value:.0} {5}</text>",
            y(value),
            left + plot_w,
            left + 6.0,
            y(value) - 4.0,
            xml(name),
            xml(y_unit)
        );
    }
    for (i, line) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = line.points.iter().map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b))).collect();
        let _ = writeln!(svg, "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>", path.join(" "));
        let lx = left + i as f64 * 220.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"30\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"39\">{}</text>",
            lx + 14.0,
            xml(line.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_labels_escaped() {
        let groups = vec![
            Group { label: "a<b>".into(), values: vec![Some(100.0), None] },
            Group { label: "c".into(), values: vec![Some(50.0), Some(25.0)] },
        ];
        let svg = bars("T & U", "ms", &["x", "y"], &groups);
        assert!(svg.contains("a&lt;b&gt;") && svg.contains("T &amp; U"));
        assert!(svg.contains("width=\"520.0\""), "the largest bar spans the plot");
        assert!(svg.contains("width=\"260.0\""), "half the value, half the width");
        assert_eq!(svg.matches("<rect").count(), 1 + 2 + 3, "background, legend, three bars (one value missing)");
    }

    #[test]
    fn lines_scale_to_the_largest_point_and_draw_the_limit() {
        let a = [(0.0, 0.0), (10.0, 50.0)];
        let b = [(0.0, 10.0), (5.0, 100.0)];
        let svg = lines(
            "Memory <over> time",
            "s",
            "MB",
            &[Line { name: "sim", points: &a }, Line { name: "real", points: &b }],
            Some(("budget", 80.0)),
        );
        assert!(svg.contains("Memory &lt;over&gt; time"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // x: 10 s spans the plot (70 + 700); y: the top is 1.05 x 100 MB.
        assert!(svg.contains("770.0,"), "{svg}");
        assert!(svg.contains("budget 80 MB"));
    }
}
