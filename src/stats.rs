//! Summary statistics over measured samples. Pure functions, no I/O.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Median, percentiles and spread of a set of samples (milliseconds or megabytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation (n - 1); 0 for a single sample.
    pub stddev: f64,
    /// (max - min) / median, as a fraction: how far apart the repeats were.
    pub relative_spread: f64,
}

impl Summary {
    /// Whether the two ranges (min..max) share a value: two sets of repeats whose ranges overlap
    /// cannot be told apart.
    pub(crate) fn overlaps(&self, other: &Summary) -> bool {
        self.min <= other.max && other.min <= self.max
    }

    /// `None` for an empty slice: a summary of nothing is a missing figure, not a zero.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let median = percentile_sorted(&sorted, 50.0);
        let (min, max) = (sorted[0], sorted[n - 1]);
        Some(Summary {
            n,
            mean,
            median,
            p95: percentile_sorted(&sorted, 95.0),
            p99: percentile_sorted(&sorted, 99.0),
            min,
            max,
            stddev: stddev(&sorted, mean),
            relative_spread: if median != 0.0 { (max - min) / median } else { 0.0 },
        })
    }
}

/// Median of the samples; `None` when there are none.
pub fn median(samples: &[f64]) -> Option<f64> {
    percentile(samples, 50.0)
}

/// The p-th percentile (0..=100) with linear interpolation between closest ranks
/// (the definition numpy uses by default).
pub(crate) fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(percentile_sorted(&sorted, p))
}

fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let p = p.clamp(0.0, 100.0);
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = rank.ceil() as usize;
    let weight = rank - lower as f64;
    sorted[lower] * (1.0 - weight) + sorted[upper] * weight
}

fn stddev(samples: &[f64], mean: f64) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let squares: f64 = samples.iter().map(|x| (x - mean).powi(2)).sum();
    (squares / (samples.len() - 1) as f64).sqrt()
}

/// Least-squares slope of `ys` against their index (1, 2, 3, ...): growth per cycle.
/// `None` for fewer than two points.
pub(crate) fn slope_per_step(ys: &[f64]) -> Option<f64> {
    let xs: Vec<f64> = (1..=ys.len()).map(|i| i as f64).collect();
    linear_fit(&xs, ys).map(|(slope, _)| slope)
}

/// The least-squares line through (x, y): its slope and the slope's standard error (0 for two
/// points, which fit exactly). `None` for fewer than two points or no spread in x.
pub(crate) fn linear_fit(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return None;
    }
    let mean_x = xs[..n].iter().sum::<f64>() / n as f64;
    let mean_y = ys[..n].iter().sum::<f64>() / n as f64;
    let sxx: f64 = xs[..n].iter().map(|x| (x - mean_x).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = xs[..n].iter().zip(&ys[..n]).map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let slope = sxy / sxx;
    if n == 2 {
        return Some((slope, 0.0));
    }
    let intercept = mean_y - slope * mean_x;
    let residuals: f64 = xs[..n].iter().zip(&ys[..n]).map(|(x, y)| (y - intercept - slope * x).powi(2)).sum();
    Some((slope, (residuals / (n - 2) as f64 / sxx).sqrt()))
}

/// `part / whole` as a percentage; `None` when the whole is too small to divide by meaningfully.
pub(crate) fn percentage(part: f64, whole: f64) -> Option<f64> {
    if whole.abs() < 1e-9 { None } else { Some(part / whole * 100.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_nothing_is_missing() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        // numpy.percentile(range(1, 11), 95) == 9.55, 99 -> 9.91
        assert!((percentile(&xs, 95.0).unwrap() - 9.55).abs() < 1e-9);
        assert!((percentile(&xs, 99.0).unwrap() - 9.91).abs() < 1e-9);
        assert_eq!(percentile(&xs, 0.0), Some(1.0));
        assert_eq!(percentile(&xs, 100.0), Some(10.0));
    }

    #[test]
    fn summary_fields() {
        let s = Summary::of(&[10.0, 12.0, 11.0, 9.0, 13.0]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!(s.median, 11.0);
        assert_eq!(s.min, 9.0);
        assert_eq!(s.max, 13.0);
        assert!((s.mean - 11.0).abs() < 1e-12);
        assert!((s.stddev - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((s.relative_spread - 4.0 / 11.0).abs() < 1e-12);
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.stddev, one.relative_spread, one.p99), (0.0, 0.0, 7.0));
    }

    #[test]
    fn slope_of_lines() {
        assert_eq!(slope_per_step(&[5.0]), None);
        assert!((slope_per_step(&[1.0, 2.0, 3.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((slope_per_step(&[10.0, 10.0, 10.0, 10.0]).unwrap()).abs() < 1e-12);
        assert!((slope_per_step(&[100.0, 80.0, 60.0]).unwrap() + 20.0).abs() < 1e-12);
        // A step after the first cycle, then flat: a small slope, not a per-cycle leak of the step.
        let s = slope_per_step(&[0.0, 30.0, 30.0, 30.0]).unwrap();
        assert!((s - 9.0).abs() < 1e-12);
    }

    #[test]
    fn a_line_fit_gives_its_slope_and_the_slopes_uncertainty() {
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let (slope, err) = linear_fit(&xs, &[1.0, 3.0, 5.0, 7.0, 9.0]).unwrap();
        assert!((slope - 2.0).abs() < 1e-12 && err.abs() < 1e-12, "an exact line");
        let (slope, err) = linear_fit(&xs, &[1.0, 3.5, 4.5, 7.5, 8.5]).unwrap();
        assert!((slope - 1.9).abs() < 1e-9, "{slope}");
        // Residuals -0.2, 0.4, -0.5, 0.6, -0.3 around 1.2 + 1.9x: SSE 0.9, sxx 10 -> sqrt(0.9 / 3 / 10)
        // (numpy.polyfit gives the same 1.9 and 0.1732).
        assert!((err - (0.9f64 / 3.0 / 10.0).sqrt()).abs() < 1e-9, "{err}");
        assert_eq!(linear_fit(&[1.0, 1.0], &[2.0, 3.0]), None, "no spread in x");
        assert_eq!(linear_fit(&[1.0], &[2.0]), None);
    }

    #[test]
    fn percentage_of_zero_is_missing() {
        assert_eq!(percentage(1.0, 0.0), None);
        assert_eq!(percentage(45.0, 90.0), Some(50.0));
    }
}
