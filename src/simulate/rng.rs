//! A small seeded random number generator (SplitMix64) for the synthetic workload and the steady
//! latency draws: the same seed gives the same trace and the same figures on every machine, with no
//! dependency. Not for anything that needs unpredictability.

pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1): never 0, so its logarithm is finite.
    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Exponentially distributed with the given mean: the gap between Poisson arrivals.
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.uniform().ln()
    }

    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Draws ranks 0..n with probability proportional to 1 / (rank + 1)^s (Zipf; s = 0 is uniform).
pub(crate) struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect::<Vec<_>>();
        Zipf { cumulative: cumulative.iter().map(|c| c / total).collect() }
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.uniform();
        self.cumulative.iter().position(|&c| u <= c).unwrap_or(self.cumulative.len() - 1)
    }

    /// The probability of each rank.
    #[cfg(test)]
    pub(crate) fn probabilities(&self) -> Vec<f64> {
        let mut last = 0.0;
        self.cumulative
            .iter()
            .map(|&c| {
                let p = c - last;
                last = c;
                p
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(7);
        assert_eq!(a, (0..5).map(|_| r.next_u64()).collect::<Vec<_>>());
        let mut other = Rng::new(8);
        assert_ne!(a[0], other.next_u64());
    }

    #[test]
    fn exponential_gaps_have_the_asked_mean() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let mean = (0..n).map(|_| r.exponential(200.0)).sum::<f64>() / n as f64;
        assert!((mean - 200.0).abs() < 6.0, "{mean}");
    }

    #[test]
    fn zipf_probabilities_follow_the_ranks() {
        let z = Zipf::new(3, 1.0);
        let p = z.probabilities();
        // 1, 1/2, 1/3 over 11/6.
        assert!((p[0] - 6.0 / 11.0).abs() < 1e-12 && (p[1] - 3.0 / 11.0).abs() < 1e-12 && (p[2] - 2.0 / 11.0).abs() < 1e-12);
        let uniform = Zipf::new(4, 0.0).probabilities();
        assert!(uniform.iter().all(|p| (p - 0.25).abs() < 1e-12));
        let mut r = Rng::new(3);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[z.sample(&mut r)] += 1;
        }
        assert!((counts[0] as f64 / 30_000.0 - 6.0 / 11.0).abs() < 0.01, "{counts:?}");
    }
}
