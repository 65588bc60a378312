//! The workload: a trace of requests (time, model), read from a CSV file or a JSON trace file
//! (`schema/trace.schema.json`), or drawn from a Zipf distribution over the models with Poisson
//! arrivals, steady, diurnal or in bursts (seeded). Models are referred to by their index in
//! [`Trace::models`] from here on. Every error in a file names its line (or request) and the fix.

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

/// The unit of the time column; `Timestamp`: absolute times (Unix seconds or RFC 3339, as an access
/// log has them), counted from the first request.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
    Timestamp,
}

/// How requests arrive in a drawn trace: a Poisson process whose rate is steady, swings over a period
/// (a day's traffic), or jumps for a while at regular intervals (bursts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Arrivals {
    Poisson,
    /// Rate x (1 + amplitude x sin(2 pi t / period)): from rate x (1 - amplitude) to rate x (1 + amplitude).
    Diurnal {
        amplitude: f64,
        period_ms: f64,
    },
    /// Rate x factor for `length_ms` at the start of every `every_ms`, the rate otherwise.
    Bursts {
        factor: f64,
        every_ms: f64,
        length_ms: f64,
    },
}

impl Arrivals {
    /// The rate at `t_ms` as a multiple of the base rate, and the most it ever is.
    fn factor_at(&self, t_ms: f64) -> f64 {
        match *self {
            Arrivals::Poisson => 1.0,
            Arrivals::Diurnal { amplitude, period_ms } => 1.0 + amplitude * (2.0 * std::f64::consts::PI * t_ms / period_ms).sin(),
            Arrivals::Bursts { factor, every_ms, length_ms } => {
                if t_ms % every_ms < length_ms {
                    factor
                } else {
                    1.0
                }
            }
        }
    }

    fn max_factor(&self) -> f64 {
        match *self {
            Arrivals::Poisson => 1.0,
            Arrivals::Diurnal { amplitude, .. } => 1.0 + amplitude,
            Arrivals::Bursts { factor, .. } => factor.max(1.0),
        }
    }
}

impl std::fmt::Display for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Arrivals::Poisson => write!(f, "Poisson arrivals"),
            Arrivals::Diurnal { amplitude, period_ms } => {
                write!(f, "Poisson arrivals, diurnal: the rate swings +/- {:.0} % over {} s", amplitude * 100.0, period_ms / 1000.0)
            }
            Arrivals::Bursts { factor, every_ms, length_ms } => {
                write!(f, "Poisson arrivals in bursts: {factor} x the rate for {} s every {} s", length_ms / 1000.0, every_ms / 1000.0)
            }
        }
    }
}

/// A JSON trace file (`schema/trace.schema.json`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceFile {
    trace_version: u32,
    #[serde(default = "seconds")]
    unit: String,
    requests: Vec<TraceFileRequest>,
}

fn seconds() -> String {
    "s".into()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceFileRequest {
    time: f64,
    model: String,
}

/// The trace file version this mora reads.
pub(crate) const TRACE_VERSION: u32 = 1;

impl Trace {
    /// Reads a CSV of `time,model` lines. An optional first line `time_s,model` (or `time,model`) or
    /// `time_ms,model` names the unit (seconds without one); a leading byte order mark is skipped; blank lines and lines starting with `#` are skipped.
    /// `known` are the models the profile has, described by `known_where` in errors.
    pub(crate) fn parse_csv(text: &str, file: &str, known: &[String], known_where: &str) -> Result<Trace> {
        let mut unit = Unit::Seconds;
        let mut trace = Trace { models: vec![], requests: vec![] };
        let mut previous: Option<(usize, f64)> = None;
        let mut seen_data_or_header = false;
        let mut first_stamp: Option<f64> = None;
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
                        ("timestamp", "model") => Unit::Timestamp,
                        _ => bail!(
                            "{file}:{line}: header `{content}` is not one mora reads: use `time_s,model` (or `time,model`), `time_ms,model` or `timestamp,model`, or start with a data line (time in seconds)"
                        ),
                    };
                    continue;
                }
            }
            let time: f64 = match unit {
                Unit::Timestamp => {
                    let t = timestamp_s(fields[0]).ok_or_else(|| {
                        anyhow::anyhow!(
                            "{file}:{line}: timestamp `{}` is neither Unix seconds nor RFC 3339 (e.g. 1733300000.25 or 2026-12-04T18:00:00.250Z)",
                            fields[0]
                        )
                    })?;
                    let first = *first_stamp.get_or_insert(t);
                    t - first
                }
                _ => fields[0].parse().map_err(|_| anyhow::anyhow!("{file}:{line}: time `{}` is not a number", fields[0]))?,
            };
            if !time.is_finite() {
                bail!("{file}:{line}: time `{}` is not a finite number", fields[0]);
            }
            let unit_name = match unit {
                Unit::Seconds | Unit::Timestamp => "s",
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
                Unit::Seconds | Unit::Timestamp => time * 1000.0,
                Unit::Millis => time,
            };
            trace.requests.push(Request { time_ms, model });
        }
        if trace.requests.is_empty() {
            bail!("{file}: the trace has no requests: give one `time_s,model` line per request");
        }
        Ok(trace)
    }

    /// A trace file: JSON (`schema/trace.schema.json`) when it starts with `{`, else CSV
    /// ([`Trace::parse_csv`]).
    pub(crate) fn parse(text: &str, file: &str, known: &[String], known_where: &str) -> Result<Trace> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if !text.trim_start().starts_with('{') {
            return Trace::parse_csv(text, file, known, known_where);
        }
        let parsed: TraceFile = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!("{file}:{}:{}: {e}: a JSON trace is {{\"trace_version\": 1, \"unit\": \"s\", \"requests\": [{{\"time\": 0.5, \"model\": \"ID\"}}, ...]}} (schema/trace.schema.json)", e.line(), e.column())
        })?;
        if parsed.trace_version != TRACE_VERSION {
            bail!("{file}: trace_version {} is not one this mora reads ({TRACE_VERSION})", parsed.trace_version);
        }
        let header = match parsed.unit.as_str() {
            "s" => "time_s,model",
            "ms" => "time_ms,model",
            other => bail!("{file}: unit `{other}` is not one mora reads: use \"s\" or \"ms\""),
        };
        // The same checks as a CSV's, each error naming the request by its index.
        let mut csv = format!("{header}\n");
        for r in &parsed.requests {
            if r.model.contains([',', '\n']) {
                bail!("{file}: model `{}` has a comma or a line break, which no model id has", r.model);
            }
            let _ = writeln!(csv, "{},{}", r.time, r.model);
        }
        Trace::parse_csv(&csv, file, known, known_where).map_err(|e| {
            let msg = format!("{e:#}");
            // CSV line n + 1 is request n - 1 (the header is line 1).
            match msg
                .strip_prefix(&format!("{file}:"))
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)))
            {
                Some((line, rest)) => anyhow::anyhow!("{file}: requests[{}]:{rest}", line - 2),
                None => e,
            }
        })
    }

    /// `requests` requests over `models` (rank 1 first), each model drawn from a Zipf distribution of
    /// exponent `s`, arriving as a Poisson process of `rate_per_s`; the same seed gives the same trace.
    #[cfg(test)]
    pub(crate) fn zipf(models: &[String], s: f64, requests: usize, rate_per_s: f64, seed: u64) -> Trace {
        Trace::drawn(models, s, requests, rate_per_s, Arrivals::Poisson, seed)
    }

    /// As [`Trace::zipf`], with `arrivals` shaping the rate over time (a Poisson process thinned to
    /// the rate at each moment: candidates at the highest rate, each kept with the rate's share).
    pub(crate) fn drawn(models: &[String], s: f64, requests: usize, rate_per_s: f64, arrivals: Arrivals, seed: u64) -> Trace {
        let mut rng = Rng::new(seed);
        let zipf = Zipf::new(models.len(), s);
        let max = arrivals.max_factor();
        let mean_gap_ms = 1000.0 / (rate_per_s * max);
        let mut now = 0.0;
        let mut drawn = Vec::with_capacity(requests);
        while drawn.len() < requests {
            now += rng.exponential(mean_gap_ms);
            if arrivals != Arrivals::Poisson && rng.uniform() * max > arrivals.factor_at(now) {
                continue;
            }
            // Whole microseconds, so the trace written as CSV reads back the same.
            drawn.push(Request { time_ms: (now * 1000.0).round() / 1000.0, model: zipf.sample(&mut rng) });
        }
        Trace::by_first_appearance(models, drawn)
    }

    /// Requests per `bucket_ms`, from the start (a drawn trace's shape, for tests and notes).
    #[cfg(test)]
    pub(crate) fn per_bucket(&self, bucket_ms: f64) -> Vec<usize> {
        let mut counts = vec![0; (self.duration_ms() / bucket_ms) as usize + 1];
        for r in &self.requests {
            counts[(r.time_ms / bucket_ms) as usize] += 1;
        }
        counts
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

/// Unix seconds (a number) or an RFC 3339 time, in seconds since the epoch.
fn timestamp_s(text: &str) -> Option<f64> {
    if let Ok(v) = text.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs_f64())
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

    #[test]
    fn an_access_logs_timestamps_count_from_the_first_request() {
        let t = parse("timestamp,model\n1733300000.5,a\n1733300002,b\n").unwrap();
        assert_eq!(t.requests.iter().map(|r| r.time_ms).collect::<Vec<_>>(), [0.0, 1500.0]);
        let t = parse("timestamp,model\n2026-12-04T18:00:00Z,a\n2026-12-04T18:00:01.250Z,c\n").unwrap();
        assert_eq!(t.requests[1].time_ms, 1250.0);
        assert!(err("timestamp,model\nyesterday,a\n").starts_with("t.csv:2: timestamp `yesterday` is neither Unix seconds nor RFC 3339"));
    }

    #[test]
    fn a_json_trace_reads_as_its_csv_and_names_the_bad_request() {
        let json = r#"{"trace_version": 1, "unit": "ms", "requests": [{"time": 0, "model": "b"}, {"time": 250, "model": "a"}]}"#;
        let t = Trace::parse(json, "t.json", &known(), "the profile").unwrap();
        assert_eq!(t, parse("time_ms,model\n0,b\n250,a\n").unwrap());
        let bad = r#"{"trace_version": 1, "requests": [{"time": 0, "model": "a"}, {"time": 1, "model": "zz"}]}"#;
        assert_eq!(
            format!("{:#}", Trace::parse(bad, "t.json", &known(), "the profile").unwrap_err()),
            "t.json: requests[1]: model `zz` is not in the profile (it has: a, b, c)"
        );
        let typo = r#"{"trace_version": 1, "requests": [{"tme": 0, "model": "a"}]}"#;
        let e = format!("{:#}", Trace::parse(typo, "t.json", &known(), "the profile").unwrap_err());
        assert!(e.starts_with("t.json:1:") && e.contains("unknown field `tme`"), "{e}");
    }

    #[test]
    fn diurnal_and_bursty_arrivals_follow_their_rate() {
        let models = known();
        // 4000 requests at 10/s, swinging +/- 90 % over 100 s: the first half of each period is busier.
        let d = Trace::drawn(&models, 1.0, 4000, 10.0, Arrivals::Diurnal { amplitude: 0.9, period_ms: 100_000.0 }, 3);
        assert_eq!(d.requests.len(), 4000);
        let halves = d.per_bucket(50_000.0);
        let (busy, quiet): (usize, usize) = (halves.iter().step_by(2).sum(), halves.iter().skip(1).step_by(2).sum());
        // Expected share of the busy halves: (1 + 2 x 0.9 / pi) / 2 = 79 %.
        let share = busy as f64 / (busy + quiet) as f64;
        assert!((share - 0.786).abs() < 0.04, "{share}");
        // Bursts of 10x for 2 s every 20 s: those 10 % of the time hold 10 / 19 of the requests.
        let b = Trace::drawn(&models, 1.0, 4000, 5.0, Arrivals::Bursts { factor: 10.0, every_ms: 20_000.0, length_ms: 2000.0 }, 3);
        let in_bursts = b.requests.iter().filter(|r| r.time_ms % 20_000.0 < 2000.0).count() as f64 / 4000.0;
        assert!((in_bursts - 10.0 / 19.0).abs() < 0.04, "{in_bursts}");
        assert_eq!(Trace::drawn(&models, 1.0, 50, 2.0, Arrivals::Poisson, 9), Trace::zipf(&models, 1.0, 50, 2.0, 9), "the same draws");
    }
}
