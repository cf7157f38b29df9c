//! Percentiles and medians.

use std::time::Duration;

/// The nearest-rank percentile `p` (0..=100) of `sorted`, or zero for an empty slice.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// Latency percentiles of one measurement, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    /// 50th percentile.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Latency {
    /// Summarise samples (sorts them in place).
    pub fn of(samples: &mut [Duration]) -> Latency {
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Latency {
            p50_ms: ms(percentile(samples, 50.0)),
            p99_ms: ms(percentile(samples, 99.0)),
            max_ms: ms(samples.last().copied().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&x| Duration::from_millis(x)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<u64> = (1..=100).collect();
        let cases: [(&[u64], f64, u64); 7] = [
            (&hundred, 50.0, 50),
            (&hundred, 99.0, 99),
            (&hundred, 100.0, 100),
            (&hundred, 0.0, 1),
            (&[7], 99.0, 7),
            (&[1, 2, 3, 4], 50.0, 2),
            (&[1, 2, 3, 4], 99.0, 4),
        ];
        for (samples, p, want) in cases {
            assert_eq!(
                percentile(&ms(samples), p),
                Duration::from_millis(want),
                "p{p} of {samples:?}"
            );
        }
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn medians() {
        let cases: [(&[f64], Option<f64>); 5] = [
            (&[], None),
            (&[3.0], Some(3.0)),
            (&[3.0, 1.0, 2.0], Some(2.0)),
            (&[4.0, 1.0, 3.0, 2.0], Some(2.5)),
            (&[f64::NAN, 5.0], Some(5.0)),
        ];
        for (values, want) in cases {
            assert_eq!(median(values), want, "{values:?}");
        }
    }

    #[test]
    fn latency_summary_sorts() {
        let mut samples = ms(&[9, 1, 5, 3, 7]);
        let l = Latency::of(&mut samples);
        assert_eq!(
            l,
            Latency {
                p50_ms: 5.0,
                p99_ms: 9.0,
                max_ms: 9.0
            }
        );
    }
}
