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

/// The Mann-Whitney U test of two independent samples (a rank test: no assumption about the
/// distributions, robust to an outlier): `u` counts the pairs where `a`'s value is the larger (ties
/// count half), `p` is the two-sided probability of a `u` this far from its middle if both samples
/// came from one distribution. Exact for small samples without ties, else the normal
/// approximation with the tie correction and a continuity correction.
/// `None` for an empty sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RankTest {
    pub u: f64,
    pub p: f64,
}

pub(crate) fn mann_whitney(a: &[f64], b: &[f64]) -> Option<RankTest> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut u = 0.0;
    for x in a {
        for y in b {
            u += match x.total_cmp(y) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let ties: Vec<usize> = all.chunk_by(|x, y| x == y).map(<[f64]>::len).filter(|&t| t > 1).collect();
    let p = if ties.is_empty() && n1 + n2 <= 60 {
        exact_two_sided(n1, n2, u)
    } else {
        let (n1f, n2f, n) = (n1 as f64, n2 as f64, (n1 + n2) as f64);
        let mean = n1f * n2f / 2.0;
        let tie_term: f64 = ties.iter().map(|&t| (t as f64).powi(3) - t as f64).sum::<f64>() / (n * (n - 1.0));
        let sd = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term)).sqrt();
        if sd <= 0.0 { 1.0 } else { (2.0 * normal_sf(((u - mean).abs() - 0.5).max(0.0) / sd)).min(1.0) }
    };
    Some(RankTest { u, p })
}

/// Two-sided exact p of U = `u` for samples of `n1` and `n2` without ties: the number of rankings
/// with a U at least this far from the middle, over all C(n1 + n2, n1) of them.
fn exact_two_sided(n1: usize, n2: usize, u: f64) -> f64 {
    // ways[i][j][k]: rankings of i values of a and j of b with U = k, built up one value at a time
    // (the largest value is a's, adding j to U, or b's, adding nothing).
    let max_u = n1 * n2;
    let mut prev: Vec<Vec<f64>> = vec![vec![0.0; max_u + 1]; n2 + 1];
    for row in prev.iter_mut() {
        row[0] = 1.0; // i = 0: U = 0 whatever j
    }
    for _i in 1..=n1 {
        let mut next: Vec<Vec<f64>> = vec![vec![0.0; max_u + 1]; n2 + 1];
        for j in 0..=n2 {
            for k in 0..=max_u {
                let from_a = if k >= j { prev[j][k - j] } else { 0.0 };
                let from_b = if j > 0 { next[j - 1][k] } else { 0.0 };
                next[j][k] = from_a + from_b;
            }
        }
        prev = next;
    }
    let counts = &prev[n2];
    let total: f64 = counts.iter().sum();
    let low = u.min(max_u as f64 - u).floor() as usize;
    let tail: f64 = counts[..=low].iter().sum();
    (2.0 * tail / total).min(1.0)
}

/// P(Z > z) for a standard normal Z (Abramowitz and Stegun 7.1.26 for erfc: error below 1.5e-7).
fn normal_sf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 { erfc / 2.0 } else { 1.0 - erfc / 2.0 }
}

/// A seeded bootstrap interval (percentile method, `level` e.g. 0.95) of median(`b`) / median(`a`):
/// how large the change is, with its uncertainty from both samples' spread. `None` for an empty
/// sample or a median of `a` of zero in a resample.
pub(crate) fn bootstrap_median_ratio(a: &[f64], b: &[f64], resamples: usize, level: f64, seed: u64) -> Option<(f64, f64)> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut state = seed;
    let mut next = |n: usize| {
        // SplitMix64: seeded, so one comparison always gives one interval.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    };
    let mut ratios = Vec::with_capacity(resamples);
    let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    for _ in 0..resamples {
        ra.iter_mut().for_each(|x| *x = a[next(a.len())]);
        rb.iter_mut().for_each(|x| *x = b[next(b.len())]);
        let (ma, mb) = (median(&ra)?, median(&rb)?);
        if ma.abs() < 1e-12 {
            return None;
        }
        ratios.push(mb / ma);
    }
    let tail = (1.0 - level) / 2.0 * 100.0;
    Some((percentile(&ratios, tail)?, percentile(&ratios, 100.0 - tail)?))
}

/// Indices of the samples farther than `k` scaled median absolute deviations from the median (a
/// robust outlier rule: one wild sample cannot hide itself by widening the spread it is judged by).
/// None where the samples hardly vary (MAD 0) or are fewer than 3.
pub(crate) fn outliers(samples: &[f64], k: f64) -> Vec<usize> {
    let Some(m) = median(samples).filter(|_| samples.len() >= 3) else { return vec![] };
    let deviations: Vec<f64> = samples.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&deviations).unwrap_or(0.0) * 1.4826;
    if mad <= 1e-12 {
        return vec![];
    }
    (0..samples.len()).filter(|&i| deviations[i] > k * mad).collect()
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

    /// Every split of 1..=n1+n2 into a of size n1 and b: the exact distribution, by brute force.
    fn brute_force_p(a: &[f64], b: &[f64]) -> f64 {
        let all: Vec<f64> = a.iter().chain(b).copied().collect();
        let (n, n1) = (all.len(), a.len());
        let u_of = |xa: &[f64], xb: &[f64]| xa.iter().map(|x| xb.iter().filter(|y| x > *y).count()).sum::<usize>() as f64;
        let observed = u_of(a, b);
        let mid = (n1 * b.len()) as f64 / 2.0;
        let (mut extreme, mut total) = (0usize, 0usize);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != n1 {
                continue;
            }
            let xa: Vec<f64> = (0..n).filter(|i| mask & (1 << i) != 0).map(|i| all[i]).collect();
            let xb: Vec<f64> = (0..n).filter(|i| mask & (1 << i) == 0).map(|i| all[i]).collect();
            total += 1;
            if (u_of(&xa, &xb) - mid).abs() >= (observed - mid).abs() - 1e-9 {
                extreme += 1;
            }
        }
        extreme as f64 / total as f64
    }

    #[test]
    fn the_exact_rank_test_matches_brute_force() {
        // [1..5] against [6..10]: U 0, the two most extreme of C(10, 5) = 252 rankings.
        let t = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(t.u, 0.0);
        assert!((t.p - 2.0 / 252.0).abs() < 1e-12, "{}", t.p);
        for (a, b) in [
            (vec![1.0, 3.0, 5.0, 7.0, 9.0], vec![2.0, 4.0, 6.0, 8.0, 10.0]),
            (vec![10.0, 11.5, 12.0], vec![9.0, 13.0, 14.0, 15.0, 16.0, 17.0]),
            (vec![3.1, 0.2, 5.5, 7.7], vec![1.1, 2.2, 4.4, 6.6, 8.8, 9.9, 10.5]),
        ] {
            let t = mann_whitney(&a, &b).unwrap();
            assert!((t.p - brute_force_p(&a, &b)).abs() < 1e-12, "{a:?} {b:?}: {} vs {}", t.p, brute_force_p(&a, &b));
        }
        // Three against three can never reach p < 0.05 (2 of 20 rankings at best): why a gate needs 5.
        assert!((mann_whitney(&[1.0, 2.0, 3.0], &[7.0, 8.0, 9.0]).unwrap().p - 0.1).abs() < 1e-12);
        assert_eq!(mann_whitney(&[], &[1.0]), None);
    }

    #[test]
    fn the_normal_rank_test_handles_ties() {
        // U: 1 beats nothing, each 2 ties b's 2 (0.5 + 0.5), 3 and 4 beat 2, 5 beats 2 and ties 5: 4.5.
        // Ties 2 x3, 5 x2, 6 x2: sd = sqrt(36/12 * (13 - 36/132)) = 6.179; z = (13.5 - 0.5) / 6.179
        // = 2.1039; p = erfc(z / sqrt 2) = 0.035391 (worked with Python's math.erfc).
        let t = mann_whitney(&[1.0, 2.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 5.0, 6.0, 6.0, 7.0, 8.0]).unwrap();
        assert_eq!(t.u, 4.5);
        assert!((t.p - 0.035391).abs() < 1e-5, "{}", t.p);
        // All equal: nothing to tell.
        assert_eq!(mann_whitney(&[1.0, 1.0], &[1.0, 1.0]).unwrap().p, 1.0);
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-6 && (normal_sf(0.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn the_bootstrap_interval_holds_the_ratio_and_is_seeded() {
        let a = [10.0, 10.5, 9.8, 10.2, 10.1];
        let b = [20.0, 21.0, 19.5, 20.4, 20.2];
        let (lo, hi) = bootstrap_median_ratio(&a, &b, 2000, 0.95, 7).unwrap();
        assert!(lo <= 2.0 && 2.0 <= hi && lo > 1.8 && hi < 2.2, "{lo}..{hi}");
        assert_eq!(bootstrap_median_ratio(&a, &b, 2000, 0.95, 7), Some((lo, hi)));
        assert_eq!(bootstrap_median_ratio(&[], &b, 10, 0.95, 7), None);
    }

    #[test]
    fn outliers_are_judged_by_the_median_absolute_deviation() {
        assert_eq!(outliers(&[17.0, 17.4, 16.9, 49.0, 17.2], 3.0), vec![3]);
        assert!(outliers(&[17.0, 17.4, 16.9, 17.6, 17.2], 3.0).is_empty());
        assert!(outliers(&[5.0, 5.0, 5.0, 9.0], 3.0).is_empty(), "MAD 0: nothing to judge by");
    }
}
