//! Latency percentiles and throughput of one phase. Pure, so the arithmetic is tested exactly.
//!
//! Percentiles use the nearest-rank method (the smallest sample with at least p % of samples at
//! or below it): every reported value is a latency that really happened, and p100 is the max.
//! Throughput counts successful operations over the phase's wall-clock time (first start to
//! last completion), which is what a provisioner working through a queue experiences.

use std::time::Duration;

use serde::Serialize;

/// Throughput and latency distribution of the successful operations of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Operations that succeeded (their latencies are the samples).
    pub ok: usize,
    /// Operations that failed.
    pub failed: usize,
    /// Wall-clock time of the phase, milliseconds.
    pub wall_ms: f64,
    /// Successful operations per second of wall-clock time.
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending); `None` when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // rank = ceil(p · n / 100), at least 1; multiplying first keeps whole products exact (99 · 100
    // / 100 is 99, while 0.99 · 100 is not). n is at most a few million, exact in f64.
    let rank = (p * sorted.len() as f64 / 100.0).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Summarises `latencies` (of the successful operations, any order), `failed` failures and the
/// phase's `wall` time.
pub fn summarize(latencies: &[Duration], failed: usize, wall: Duration) -> Summary {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let ms = |p: f64| percentile(&sorted, p).map_or(0.0, as_ms);
    let wall_secs = wall.as_secs_f64();
    Summary {
        ok: sorted.len(),
        failed,
        wall_ms: as_ms(wall),
        ops_per_sec: if wall_secs > 0.0 {
            sorted.len() as f64 / wall_secs
        } else {
            0.0
        },
        p50_ms: ms(50.0),
        p95_ms: ms(95.0),
        p99_ms: ms(99.0),
        max_ms: ms(100.0),
    }
}

/// `a / b`, or `None` when `b` is zero (no floor measured, nothing succeeded).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

pub fn as_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let samples = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 95.0), Some(Duration::from_millis(95)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            percentile(&samples, 100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(percentile(&samples, 0.5), Some(Duration::from_millis(1)));
    }

    #[test]
    fn percentiles_of_few_samples_are_real_samples() {
        let samples = ms(&[10, 20, 30, 40]);
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&samples, 51.0), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(40)));
        assert_eq!(percentile(&ms(&[7]), 99.0), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_sorts_samples_and_counts_successes_per_wall_second() {
        // 200 operations, unsorted, 4 failures, 2.5 s of wall time -> 78.4 ops/s.
        let mut samples: Vec<Duration> = (1..=196).rev().map(Duration::from_millis).collect();
        samples.swap(3, 150);
        let s = summarize(&samples, 4, Duration::from_millis(2500));
        assert_eq!(s.ok, 196);
        assert_eq!(s.failed, 4);
        assert!((s.ops_per_sec - 78.4).abs() < 1e-9, "{}", s.ops_per_sec);
        assert_eq!(s.p50_ms, 98.0);
        assert_eq!(s.p95_ms, 187.0);
        assert_eq!(s.p99_ms, 195.0);
        assert_eq!(s.max_ms, 196.0);
        assert_eq!(s.wall_ms, 2500.0);
    }

    #[test]
    fn summary_of_nothing_is_zero_not_nan() {
        let s = summarize(&[], 3, Duration::ZERO);
        assert_eq!((s.ok, s.failed), (0, 3));
        assert_eq!(s.ops_per_sec, 0.0);
        assert_eq!(s.p99_ms, 0.0);
    }

    #[test]
    fn ratio_refuses_a_zero_floor() {
        assert_eq!(ratio(90.0, 100.0), Some(0.9));
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
