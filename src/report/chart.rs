//! SVG charts next to the report: grouped horizontal bars, drawn by hand (no plotting dependency).

use crate::results::{Measurements, ResultsFile};
use std::fmt::Write as _;

const COLORS: [&str; 4] = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"];

/// One labelled group of bars, one bar per series.
pub struct Group {
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
    let label = |t: &crate::results::TrialRecord| {
        let random = if t.weights == "random" { ", random weights" } else { "" };
        format!("{} ({}{random})", t.model(), t.provider)
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
                &["fresh worker load", "warm worker load", "first inference", "p50"],
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
pub fn bars(title: &str, unit: &str, series: &[&str], groups: &[Group]) -> String {
    let (label_w, plot_w, bar_h, gap) = (300.0, 520.0, 14.0, 10.0);
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
}
