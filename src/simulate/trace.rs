//! The workload: a trace of requests (time, model), read from a CSV file or drawn from a Zipf
//! distribution over the models with Poisson arrivals (seeded). Models are referred to by their index
//! in [`Trace::models`] from here on. Every error in a file names its line and the fix.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::rng::{Rng, Zipf};

/// The most requests a trace may hold: every request is kept in memory, several times over.
pub(crate) const MAX_REQUESTS: usize = 10_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Request {
    /// Milliseconds after the trace's start.
    pub time_ms: f64,
    /// Index into [`Trace::models`].
    pub model: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trace {
    /// Model ids, in the order they first appear (a model never requested is not among them): a trace
    /// and the same trace read back from its CSV number their models alike, and so simulate alike.
    pub models: Vec<String>,
    /// Sorted by time.
    pub requests: Vec<Request>,
}

/// The unit of the time column.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
}

impl Trace {
    /// Reads a CSV of `time,model` lines. An optional first line `time_s,model` (or `time,model`) or
    /// `time_ms,model` names the unit (seconds without one); a leading byte order mark is skipped; blank lines and lines starting with `#` are skipped.
    /// `known` are the models the profile has, described by `known_where` in errors.
    pub(crate) fn parse_csv(text: &str, file: &str, known: &[String], known_where: &str) -> Result<Trace> {
        let mut unit = Unit::Seconds;
        let mut trace = Trace { models: vec![], requests: vec![] };
        let mut previous: Option<(usize, f64)> = None;
        let mut seen_data_or_header = false;
        // A byte order mark (spreadsheets write one) is not part of the header.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = content.split(',').map(str::trim).collect();
            if fields.len() != 2 {
                bail!("{file}:{line}: expected 2 fields (time, model), got {}: `{content}`", fields.len());
            }
            if !seen_data_or_header {
                seen_data_or_header = true;
                if fields[0].parse::<f64>().is_err() {
                    unit = match (fields[0].to_ascii_lowercase().as_str(), fields[1].to_ascii_lowercase().as_str()) {
                        ("time_s" | "time", "model") => Unit::Seconds,
                        ("time_ms", "model") => Unit::Millis,
                        _ => bail!(
                            "{file}:{line}: header `{content}` is not one mora reads: use `time_s,model` (or `time,model`) or `time_ms,model`, or start with a data line (time in seconds)"
                        ),
                    };
                    continue;
                }
            }
            let time: f64 = fields[0].parse().map_err(|_| anyhow::anyhow!("{file}:{line}: time `{}` is not a number", fields[0]))?;
            if !time.is_finite() {
                bail!("{file}:{line}: time `{}` is not a finite number", fields[0]);
            }
            let unit_name = match unit {
                Unit::Seconds => "s",
                Unit::Millis => "ms",
            };
            if time < 0.0 {
                bail!("{file}:{line}: time {time} {unit_name} is negative: times count from the trace's start (0)");
            }
            if let Some((prev_line, prev)) = previous {
                if time < prev {
                    bail!(
                        "{file}:{line}: time {time} {unit_name} comes before line {prev_line}'s {prev} {unit_name}: sort the trace by time"
                    );
                }
            }
            previous = Some((line, time));
            let id = fields[1];
            if id.is_empty() {
                bail!("{file}:{line}: the model id is empty");
            }
            if !known.iter().any(|k| k == id) {
                bail!("{file}:{line}: model `{id}` is not in {known_where} (it has: {})", known.join(", "));
            }
            if trace.requests.len() == MAX_REQUESTS {
                bail!("{file}:{line}: more than {MAX_REQUESTS} requests: split the trace");
            }
            let model = match trace.models.iter().position(|m| m == id) {
                Some(m) => m,
                None => {
                    trace.models.push(id.to_string());
                    trace.models.len() - 1
                }
            };
            let time_ms = match unit {
                Unit::Seconds => time * 1000.0,
                Unit::Millis => time,
            };
            trace.requests.push(Request { time_ms, model });
        }
        if trace.requests.is_empty() {
            bail!("{file}: the trace has no requests: give one `time_s,model` line per request");
        }
        Ok(trace)
    }

    /// `requests` requests over `models` (rank 1 first), each model drawn from a Zipf distribution of
    /// exponent `s`, arriving as a Poisson process of `rate_per_s`; the same seed gives the same trace.
    pub(crate) fn zipf(models: &[String], s: f64, requests: usize, rate_per_s: f64, seed: u64) -> Trace {
        let mut rng = Rng::new(seed);
        let zipf = Zipf::new(models.len(), s);
        let mean_gap_ms = 1000.0 / rate_per_s;
        let mut now = 0.0;
        let mut drawn = Vec::with_capacity(requests);
        for _ in 0..requests {
            now += rng.exponential(mean_gap_ms);
            // Whole microseconds, so the trace written as CSV reads back the same.
            drawn.push(Request { time_ms: (now * 1000.0).round() / 1000.0, model: zipf.sample(&mut rng) });
        }
        Trace::by_first_appearance(models, drawn)
    }

    /// Numbers the models in the order they first appear in `requests` (indexes into `models`).
    fn by_first_appearance(models: &[String], requests: Vec<Request>) -> Trace {
        let mut order: Vec<usize> = Vec::new();
        let requests = requests
            .into_iter()
            .map(|r| {
                let model = match order.iter().position(|&m| m == r.model) {
                    Some(i) => i,
                    None => {
                        order.push(r.model);
                        order.len() - 1
                    }
                };
                Request { model, ..r }
            })
            .collect();
        Trace { models: order.iter().map(|&m| models[m].clone()).collect(), requests }
    }

    /// The trace as CSV, in seconds (what [`Trace::parse_csv`] reads).
    pub(crate) fn to_csv(&self) -> String {
        let mut out = String::from("time_s,model\n");
        for r in &self.requests {
            let _ = writeln!(out, "{:.6},{}", r.time_ms / 1000.0, self.models[r.model]);
        }
        out
    }

    pub(crate) fn duration_ms(&self) -> f64 {
        self.requests.last().map_or(0.0, |r| r.time_ms)
    }

    /// Requests per model, by index.
    pub(crate) fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.models.len()];
        for r in &self.requests {
            counts[r.model] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    fn parse(text: &str) -> Result<Trace> {
        Trace::parse_csv(text, "t.csv", &known(), "the profile")
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn reads_seconds_by_default_and_milliseconds_by_header() {
        let t = parse("# a comment\n0.5,b\n\n1,a\n1,b\n").unwrap();
        assert_eq!(t.models, ["b", "a"]);
        assert_eq!(
            t.requests,
            [Request { time_ms: 500.0, model: 0 }, Request { time_ms: 1000.0, model: 1 }, Request { time_ms: 1000.0, model: 0 }]
        );
        let t = parse("time_ms, model\n250, c\n").unwrap();
        assert_eq!(t.requests, [Request { time_ms: 250.0, model: 0 }]);
        assert_eq!(parse("time_s,model\n2,a\n").unwrap().requests[0].time_ms, 2000.0);
    }

    #[test]
    fn the_headers_simulate_help_documents_are_read_with_or_without_a_byte_order_mark() {
        // `mora simulate --help` names `time,model`, `time_s,model` and `time_ms,model` (issue 25).
        for (header, ms) in [("time,model", 2000.0), ("time_s,model", 2000.0), ("time_ms,model", 2.0)] {
            for bom in ["", "\u{feff}"] {
                let t = parse(&format!("{bom}{header}\n2,a\n")).unwrap_or_else(|e| panic!("{bom:?}{header}: {e:#}"));
                assert_eq!(t.requests[0].time_ms, ms, "{header}");
            }
        }
        assert_eq!(parse("\u{feff}1,a\n").unwrap().requests[0].time_ms, 1000.0, "a data line after a BOM");
    }

    #[test]
    fn every_bad_line_is_named() {
        assert_eq!(err("0,a\n1,zz\n"), "t.csv:2: model `zz` is not in the profile (it has: a, b, c)");
        assert_eq!(err("0,a\n2,b\n1,c\n"), "t.csv:3: time 1 s comes before line 2's 2 s: sort the trace by time");
        assert_eq!(err("time_ms,model\n-5,a\n"), "t.csv:2: time -5 ms is negative: times count from the trace's start (0)");
        assert_eq!(err("0,a\nsoon,b\n"), "t.csv:2: time `soon` is not a number");
        assert_eq!(err("0,a\nNaN,b\n"), "t.csv:2: time `NaN` is not a finite number");
        assert_eq!(err("0,a,b\n"), "t.csv:1: expected 2 fields (time, model), got 3: `0,a,b`");
        assert_eq!(err("1,\n"), "t.csv:1: the model id is empty");
        assert!(err("when,what\n1,a\n").starts_with("t.csv:1: header `when,what` is not one mora reads"));
    }

    #[test]
    fn an_empty_trace_is_an_error() {
        assert_eq!(err(""), "t.csv: the trace has no requests: give one `time_s,model` line per request");
        assert_eq!(err("time_s,model\n# nothing\n"), "t.csv: the trace has no requests: give one `time_s,model` line per request");
    }

    #[test]
    fn a_synthetic_trace_is_seeded_sorted_and_round_trips_as_csv() {
        let models = known();
        let t = Trace::zipf(&models, 1.2, 500, 20.0, 42);
        assert_eq!(t, Trace::zipf(&models, 1.2, 500, 20.0, 42));
        assert_ne!(t, Trace::zipf(&models, 1.2, 500, 20.0, 43));
        assert_eq!(t.requests.len(), 500);
        assert!(t.requests.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        // 500 requests at 20/s last about 25 s.
        assert!((t.duration_ms() - 25_000.0).abs() < 3_000.0, "{}", t.duration_ms());
        let count = |id: &str| t.requests.iter().filter(|r| t.models[r.model] == id).count();
        assert!(count("a") > count("b") && count("b") > count("c"), "Zipf ranks");
        let back = Trace::parse_csv(&t.to_csv(), "x", &models, "p").unwrap();
        assert_eq!(back.models, t.models, "numbered alike");
        assert_eq!(back.requests.len(), 500);
        for (a, b) in back.requests.iter().zip(&t.requests) {
            assert!((a.time_ms - b.time_ms).abs() < 1e-6);
            assert_eq!(a.model, b.model);
        }
        // A model never drawn is not in the trace.
        let few = Trace::zipf(&models, 3.0, 2, 1.0, 1);
        assert!(few.models.len() <= 2 && few.requests.iter().all(|r| r.model < few.models.len()));
    }
}
