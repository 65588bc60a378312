//! The proof of concept's thresholds and planning rules, as pure functions of one figure each,
//! tested at every boundary. The rules version names this set: a change to any threshold or to what
//! a verdict rests on bumps it, and `mora report` says which version judged a run.

use crate::results::LeakVerdict;
use crate::results::recommendation::Level;

/// 1: mora 0.1 (leak verdicts against the baseline before the first cycle, one fresh worker).
/// 2: the worker's one-time warm-up apart: leak verdicts on the growth after the first cycle,
///    per-model figures from a warmed worker, fresh-worker figures over several workers.
/// 3: a soak's rate fails the alert only with five samples or more and more growth over the soak
///    than the leak check passes (10 MB); otherwise it is a caution that asks for a longer soak.
/// 4: a verdict grades the answer it gives: the memory verdict the state after malloc_trim where the
///    advice is to trim, the loading verdict a fresh worker's tier where the advice is to start
///    workers ahead; the warm load is after unload + trim (the cold scenario's back-to-back loads
///    only for schema 1); a cold start counts only 100 ms or more slower; plans for the models
///    benchmarked (or `--plan-models`), not ten.
/// 5: providers are data: a "Backend per model" recommendation across the providers that ran
///    (the break-even in requests per load between a faster-loading and a faster-serving backend).
/// 6: the load path is judged on time to first answer (load + first inference) against the floor
///    plus a steady inference; a configuration is chosen only where its steady p50 over its sessions
///    is not worse than the default's beyond noise (rank test, minimum effect), never on one session.
pub(crate) const RULES_VERSION: u32 = 6;

/// Load time (cached): < 2 s excellent; 2-5 s good; 5-10 s moderate; > 10 s slow.
pub(crate) fn load_level(ms: f64) -> Level {
    if ms < 2_000.0 {
        Level::Excellent
    } else if ms < 5_000.0 {
        Level::Good
    } else if ms <= 10_000.0 {
        Level::Moderate
    } else {
        Level::Poor
    }
}

pub(crate) fn load_action(level: Level) -> &'static str {
    match level {
        Level::Excellent => "lazy loading viable: load models on first request",
        Level::Good => "lazy loading acceptable",
        Level::Moderate => "consider pre-warming popular models",
        Level::Poor => "pre-warm at startup",
    }
}

/// The loading answer in a few words, for the summary.
pub(crate) fn load_answer(level: Level) -> &'static str {
    match level {
        Level::Excellent | Level::Good => "lazy loading",
        Level::Moderate => "pre-warm popular models",
        Level::Poor => "pre-warm at startup",
    }
}

/// Reclamation: > 90 % excellent; 70-90 % good; 50-70 % moderate; < 50 % poor.
pub(crate) fn reclamation_level(pct: f64) -> Level {
    if pct > 90.0 {
        Level::Excellent
    } else if pct >= 70.0 {
        Level::Good
    } else if pct >= 50.0 {
        Level::Moderate
    } else {
        Level::Poor
    }
}

pub(crate) fn reclamation_action(level: Level) -> &'static str {
    match level {
        Level::Excellent => "in-process unload is enough",
        Level::Good => "in-process unload will do; watch the memory of long-running processes",
        Level::Moderate => "run critical services' models in subprocesses",
        Level::Poor => "use subprocess isolation",
    }
}

/// The unload answer in a few words, for the summary.
pub(crate) fn reclamation_answer(level: Level) -> &'static str {
    match level {
        Level::Excellent => "in-process unload",
        Level::Good => "in-process unload, watch long-running workers",
        Level::Moderate => "isolate critical models in subprocesses",
        Level::Poor => "subprocess isolation",
    }
}

/// Growth after the first cycle from which a leak series is CAUTION, and above which it is FAIL (MB).
pub(crate) const LEAK_CAUTION_MB: f64 = 10.0;
pub(crate) const LEAK_FAIL_MB: f64 = 50.0;

/// Leak (growth over the cycles after the first, after malloc_trim): < 10 MB pass; 10-50 MB caution; > 50 MB fail.
pub(crate) fn leak_verdict(net_growth_mb: f64) -> LeakVerdict {
    if net_growth_mb < LEAK_CAUTION_MB {
        LeakVerdict::Pass
    } else if net_growth_mb <= LEAK_FAIL_MB {
        LeakVerdict::Caution
    } else {
        LeakVerdict::Fail
    }
}

pub(crate) fn leak_action(v: LeakVerdict) -> &'static str {
    match v {
        LeakVerdict::Pass => "no significant leak",
        LeakVerdict::Caution => "monitor in production",
        LeakVerdict::Fail => "memory leak detected: use subprocess isolation",
    }
}

/// A cold load counts as slower only when it also costs this much more time than a warm one: a
/// ratio of two small figures (20 ms against 4 ms) is no cold-start problem, since a model server's
/// first request already varies by more (first inferences of 4 to 175 ms in the committed runs).
pub(crate) const COLD_START_MIN_EXTRA_MS: f64 = 100.0;

/// Cold start: the cold/warm ratio, < 1.5x excellent, 1.5-3x good, >= 3x moderate, each only where
/// the cold load is also at least [`COLD_START_MIN_EXTRA_MS`] slower; otherwise excellent.
pub(crate) fn cold_start_level(ratio: f64, extra_ms: f64) -> Level {
    if extra_ms < COLD_START_MIN_EXTRA_MS || ratio < 1.5 {
        Level::Excellent
    } else if ratio < 3.0 {
        Level::Good
    } else {
        Level::Moderate
    }
}

/// A startup probe's budget in whole seconds, rounded up (Kubernetes counts probe periods in
/// seconds): 398 ms -> 1 s, 1000 ms -> 1 s, 1001 ms -> 2 s.
pub(crate) fn probe_seconds(budget_ms: f64) -> f64 {
    (budget_ms / 1000.0).ceil().max(1.0)
}

/// Planning: a worker reserves 1.5 x its model's footprint plus what every worker pays once: the
/// provider baseline and the warm-up its first model triggers.
pub(crate) fn worker_budget_mb(footprint_mb: f64, provider_baseline_mb: f64, warmup_mb: f64) -> f64 {
    1.5 * footprint_mb + provider_baseline_mb + warmup_mb
}

/// Planning: N concurrent models need N x largest x 1.5, plus a 10 % buffer.
pub(crate) fn concurrent_budget_mb(n: usize, largest_mb: f64) -> f64 {
    n as f64 * largest_mb * 1.5 * 1.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_levels_at_every_boundary() {
        let table = [
            (0.0, Level::Excellent),
            (1_999.9, Level::Excellent),
            (2_000.0, Level::Good),
            (4_999.9, Level::Good),
            (5_000.0, Level::Moderate),
            (10_000.0, Level::Moderate),
            (10_000.1, Level::Poor),
        ];
        for (ms, level) in table {
            assert_eq!(load_level(ms), level, "{ms} ms");
        }
    }

    #[test]
    fn reclamation_levels_at_every_boundary() {
        let table = [
            (100.0, Level::Excellent),
            (90.1, Level::Excellent),
            (90.0, Level::Good),
            (70.0, Level::Good),
            (69.9, Level::Moderate),
            (50.0, Level::Moderate),
            (49.9, Level::Poor),
            (-5.0, Level::Poor),
        ];
        for (pct, level) in table {
            assert_eq!(reclamation_level(pct), level, "{pct}%");
        }
    }

    #[test]
    fn leak_verdicts_at_every_boundary() {
        let table = [
            (-20.0, LeakVerdict::Pass),
            (0.0, LeakVerdict::Pass),
            (9.99, LeakVerdict::Pass),
            (10.0, LeakVerdict::Caution),
            (50.0, LeakVerdict::Caution),
            (50.01, LeakVerdict::Fail),
        ];
        for (mb, verdict) in table {
            assert_eq!(leak_verdict(mb), verdict, "{mb} MB");
        }
    }

    #[test]
    fn planning_rules() {
        // The seed's example: 420.5 MB largest -> 631 MB per worker (no provider baseline in Python).
        assert!((worker_budget_mb(420.5, 0.0, 0.0) - 630.75).abs() < 1e-9);
        assert!((worker_budget_mb(100.0, 40.0, 0.0) - 190.0).abs() < 1e-9);
        // A CUDA worker: 256 MB of arena for the model, 536 MB baseline, 16 MB warm-up.
        assert!((worker_budget_mb(256.0, 536.0, 16.0) - 936.0).abs() < 1e-9);
        // The seed's example: 10 x 420.5 x 1.5 = 6307.5 MB, + 10 % = 6938.25 MB.
        assert!((concurrent_budget_mb(10, 420.5) - 6938.25).abs() < 1e-9);
    }

    #[test]
    fn cold_start_levels_need_a_ratio_and_a_difference_that_matters() {
        let table = [
            // (ratio, extra ms, level)
            (4.6, 16.0, Level::Excellent),
            (10.0, 99.9, Level::Excellent),
            (1.49, 500.0, Level::Excellent),
            (1.5, 100.0, Level::Good),
            (2.99, 1000.0, Level::Good),
            (3.0, 100.0, Level::Moderate),
            (3.0, 99.9, Level::Excellent),
        ];
        for (ratio, extra, level) in table {
            assert_eq!(cold_start_level(ratio, extra), level, "{ratio}x, +{extra} ms");
        }
    }

    #[test]
    fn a_probe_budget_rounds_up_to_whole_seconds() {
        for (ms, s) in [(0.0, 1.0), (398.0, 1.0), (1000.0, 1.0), (1000.1, 2.0), (2999.0, 3.0), (3000.0, 3.0)] {
            assert_eq!(probe_seconds(ms), s, "{ms} ms");
        }
    }

    #[test]
    fn levels_order_from_best_to_worst() {
        assert!(Level::Excellent < Level::Good && Level::Good < Level::Moderate && Level::Moderate < Level::Poor);
        assert_eq!(Level::Poor.mark(), "❌");
    }
}
