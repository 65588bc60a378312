//! The same model on several backends: one row of figures per provider, the break-even between a
//! backend that loads faster and one that serves faster, and which backend to serve each model with
//! when it is loaded on demand or kept resident.
//!
//! A model loaded for `n` requests costs its first answer (load + first inference) plus `n - 1`
//! steady requests. Backend B, slower to a first answer by `Δfirst` and faster per request by `Δp50`,
//! pays back after `n = 1 + Δfirst / Δp50` requests per load. Each side's spread (min..max over its
//! workers) gives the range of `n`; where the p50 ranges overlap, neither serves faster beyond noise.

use std::collections::BTreeMap;

use crate::provider::Provider;
use crate::results::recommendation::{EvidenceTable, Level, Recommendation, Topic};
use crate::results::{LeakVerdict, Measurements, ResultsFile, SingleTrial};
use crate::stats::Summary;

/// One model on one provider, from its single trial (and its leak trial, where one ran).
#[derive(Debug, Clone)]
pub(crate) struct BackendRow<'a> {
    pub provider: Provider,
    pub single: &'a SingleTrial,
    pub leak: Option<LeakVerdict>,
}

impl BackendRow<'_> {
    /// Time to a first answer in a running worker: its load plus its first inference, medians and the
    /// sum of their extremes.
    pub(crate) fn first_answer(&self) -> Option<Range> {
        let s = &self.single.summary;
        let (load, first) = (s.load_time_ms.as_ref()?, s.first_inference_ms.as_ref()?);
        Some(Range { median: load.median + first.median, min: load.min + first.min, max: load.max + first.max })
    }

    pub(crate) fn p50(&self) -> Option<Range> {
        self.single.summary.steady_p50_ms.as_ref().map(Range::of)
    }

    /// Nodes the provider ran and the model's nodes, from the first fresh worker's placement.
    pub(crate) fn placement(&self) -> Option<(usize, usize)> {
        let p = self.single.workers.iter().find_map(|w| w.first_load.as_ref()?.placement.as_ref())?;
        Some((p.on(self.provider.ort_name()), p.total()))
    }
}

/// A median with the extremes around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Range {
    fn of(s: &Summary) -> Range {
        Range { median: s.median, min: s.min, max: s.max }
    }
}

/// Every model measured on two providers or more, its rows in provider order.
pub(crate) fn compared(r: &ResultsFile) -> Vec<(String, Vec<BackendRow<'_>>)> {
    let mut by_model: BTreeMap<String, Vec<BackendRow>> = BTreeMap::new();
    for t in r.trials.iter().filter(|t| t.outcome.is_ok() && t.point.is_none()) {
        let Some(Measurements::Single(single)) = &t.measurements else { continue };
        let leak = r.trials.iter().filter(|l| l.provider == t.provider && l.models == t.models && l.outcome.is_ok()).find_map(|l| match &l
            .measurements
        {
            Some(Measurements::Leak(leak)) => {
                Some(leak.gpu.as_ref().filter(|_| t.provider.memory().device_measured()).unwrap_or(&leak.rss).verdict)
            }
            _ => None,
        });
        by_model.entry(t.model().to_string()).or_default().push(BackendRow { provider: t.provider, single, leak });
    }
    by_model
        .into_iter()
        .filter_map(|(m, mut rows)| {
            rows.sort_by_key(|r| r.provider);
            rows.dedup_by_key(|r| r.provider);
            (rows.len() > 1).then_some((m, rows))
        })
        .collect()
}

/// How backend `b` compares with `a` over requests per load.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Trade {
    /// `b` answers first sooner and serves no slower, beyond noise: better at any number of requests.
    Dominates,
    /// `b` is not faster per request beyond noise; it loses or ties.
    NotFaster,
    /// `b` serves faster but answers first later: it pays back after `n` requests per load (`low..high`
    /// from the two sides' spreads; `high` is `None` where the slowest p50 of `b` overlaps `a`'s fastest).
    BreakEven { n: f64, low: f64, high: Option<f64> },
}

/// `b` against `a` (e.g. openvino against cpu), or `None` where either lacks a figure.
pub(crate) fn trade(a: &BackendRow, b: &BackendRow) -> Option<Trade> {
    Some(trade_of(a.first_answer()?, a.p50()?, b.first_answer()?, b.p50()?))
}

/// The trade from the two sides' first answers and steady p50s.
fn trade_of(first_a: Range, p50_a: Range, first_b: Range, p50_b: Range) -> Trade {
    // Faster beyond noise: b's slowest request is faster than a's fastest.
    let serves_faster = p50_b.max < p50_a.min;
    if !serves_faster {
        return Trade::NotFaster;
    }
    if first_b.max <= first_a.min || first_b.median <= first_a.median {
        return Trade::Dominates;
    }
    let n = 1.0 + (first_b.median - first_a.median) / (p50_a.median - p50_b.median);
    let low = 1.0 + ((first_b.min - first_a.max).max(0.0)) / (p50_a.max - p50_b.min);
    let high = (p50_a.min > p50_b.max).then(|| 1.0 + (first_b.max - first_a.min) / (p50_a.min - p50_b.max));
    Trade::BreakEven { n, low, high }
}

impl Trade {
    /// The words a table cell shows.
    pub(crate) fn describe(&self) -> String {
        match self {
            Trade::Dominates => "faster to a first answer and per request".into(),
            Trade::NotFaster => "not faster per request beyond noise".into(),
            Trade::BreakEven { n, low, high } => {
                let range = match high {
                    Some(h) => format!("{:.0}..{:.0}", low.ceil(), h.ceil()),
                    None => format!("{:.0}..?", low.ceil()),
                };
                format!("pays back after {:.0} requests per load ({range})", n.ceil())
            }
        }
    }
}

/// The baseline every other backend of a model is compared with: the fallback (CPU) where it ran.
pub(crate) fn baseline<'r, 'a>(rows: &'r [BackendRow<'a>]) -> &'r BackendRow<'a> {
    rows.iter().find(|r| r.provider == Provider::CPU).unwrap_or(&rows[0])
}

/// Per model: which backend answers a load soonest, which serves fastest, and from how many
/// requests per load the faster-serving one is the better choice.
pub(crate) fn recommend(r: &ResultsFile) -> Vec<Recommendation> {
    let models = compared(r);
    if models.is_empty() {
        return vec![];
    }
    let mut evidence = Vec::new();
    let mut table = EvidenceTable::new(&["Model", "Against", "First answer ms", "p50 ms", "Serve with"]);
    let mut figures = BTreeMap::new();
    // Per provider compared with the baseline: models it wins outright, break-evens, models it loses.
    let mut tally: BTreeMap<Provider, (Provider, usize, Vec<f64>, usize)> = BTreeMap::new();
    for (model, rows) in &models {
        let base = baseline(rows);
        for row in rows.iter().filter(|x| x.provider != base.provider) {
            let (Some(fa), Some(fb), Some(pa), Some(pb)) = (base.first_answer(), row.first_answer(), base.p50(), row.p50()) else {
                continue;
            };
            let partial = row
                .placement()
                .filter(|(on, total)| on < total)
                .map(|(on, total)| format!("; {on} of {total} nodes on {}", row.provider))
                .unwrap_or_default();
            let entry = tally.entry(row.provider).or_insert((base.provider, 0, vec![], 0));
            let choice = match trade(base, row) {
                Some(Trade::Dominates) => {
                    entry.1 += 1;
                    format!("{} whether loaded on demand or resident", row.provider)
                }
                Some(Trade::BreakEven { n, .. }) => {
                    entry.2.push(n.ceil());
                    figures.insert(format!("{model}.{}.break_even_requests", row.provider), n.ceil());
                    format!(
                        "{} resident or for more than {:.0} requests per load, {} on demand for fewer",
                        row.provider,
                        n.ceil(),
                        base.provider
                    )
                }
                Some(Trade::NotFaster) | None => {
                    entry.3 += 1;
                    format!("{}: {} is not faster per request beyond noise", base.provider, row.provider)
                }
            };
            table.rows.push(vec![
                model.clone(),
                format!("{} / {}", base.provider, row.provider),
                format!("{:.0} / {:.0}", fa.median, fb.median),
                format!("{:.2} / {:.2}", pa.median, pb.median),
                format!("{choice}{partial}"),
            ]);
            evidence.push(format!(
                "{model}: {choice}; first answer {} {:.0} ms ({:.0}..{:.0}) vs {} {:.0} ms ({:.0}..{:.0}); p50 {:.2} ms ({:.2}..{:.2}) vs {:.2} ms ({:.2}..{:.2}){partial}",
                base.provider, fa.median, fa.min, fa.max, row.provider, fb.median, fb.min, fb.max, pa.median, pa.min, pa.max, pb.median, pb.min, pb.max
            ));
        }
    }
    if tally.is_empty() {
        return vec![];
    }
    // One short line per provider: how many models it wins outright, from how many requests per
    // load it wins the others, and how many it does not serve faster (the baseline keeps those).
    let verdict: Vec<String> = tally
        .iter()
        .map(|(provider, (_, wins, breaks, loses))| {
            let mut parts = Vec::new();
            if *wins > 0 {
                parts.push(format!("{wins} outright"));
            }
            if !breaks.is_empty() {
                let lo = breaks.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = breaks.iter().copied().fold(0.0, f64::max);
                let range = if lo < hi { format!("{lo:.0}..{hi:.0}") } else { format!("{lo:.0}") };
                parts.push(format!("{} from {range} requests/load", breaks.len()));
            }
            if *loses > 0 {
                parts.push(format!("{} not faster", loses));
            }
            format!("{provider}: {}", parts.join(", "))
        })
        .collect();
    vec![Recommendation {
        machine_class: None,
        topic: Topic::BackendChoice,
        provider: baseline(&models[0].1).provider,
        level: Level::Good,
        verdict: verdict.join("; "),
        action: "serve each model with the backend its lifecycle favours: loaded on demand for few requests, the faster first answer (warm load + first inference in a running worker); resident or loaded for many, the faster steady state; per model below".into(),
        evidence,
        figures,
        evidence_table: Some(table),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(first: (f64, f64, f64), p50: (f64, f64, f64), first_b: (f64, f64, f64), p50_b: (f64, f64, f64)) -> Trade {
        let r = |(median, min, max)| Range { median, min, max };
        trade_of(r(first), r(p50), r(first_b), r(p50_b))
    }

    #[test]
    fn the_break_even_is_the_extra_first_answer_over_the_saving_per_request() {
        // The figures: CPU loads in ~70 ms and serves in ~19 ms, OpenVINO ~190 ms and ~5.7 ms.
        let t = t((75.0, 60.0, 90.0), (19.0, 17.4, 21.4), (195.0, 175.0, 210.0), (5.7, 5.5, 6.0));
        let Trade::BreakEven { n, low, high } = t else { panic!("{t:?}") };
        assert!((n - (1.0 + 120.0 / 13.3)).abs() < 1e-9, "{n}");
        assert!(low < n && high.unwrap() > n, "{low} {n} {high:?}");
        assert!(t.describe().starts_with("pays back after 11 requests per load ("), "{}", t.describe());
    }

    #[test]
    fn overlapping_p50s_are_not_a_win_and_a_faster_load_too_dominates() {
        assert_eq!(t((75.0, 60.0, 90.0), (19.0, 17.0, 21.0), (195.0, 175.0, 210.0), (18.0, 16.0, 20.0)), Trade::NotFaster);
        assert_eq!(t((75.0, 60.0, 90.0), (19.0, 17.0, 21.0), (50.0, 45.0, 55.0), (10.0, 9.0, 11.0)), Trade::Dominates);
    }
}
