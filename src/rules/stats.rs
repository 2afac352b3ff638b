//! The statistics the rules share: robust location and spread, Theil-Sen's slope with Sen's
//! interval, and a rank test for a weekly pattern. Pure functions of their inputs.

use chrono::{Datelike, NaiveDate};

/// Median of a non-empty slice (sorts a copy).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// MAD × 1.4826 estimates the standard deviation of normal data.
const MAD_SCALE: f64 = 1.4826;
/// Mean absolute deviation × 1.2533 (√(π/2)) does the same.
const MEAN_AD_SCALE: f64 = 1.2533;

/// A robust standard deviation of `values` about their `median`: 1.4826 × the MAD, or, when
/// more than half the values sit on one value (a count that rarely moves) and the MAD is 0,
/// 1.2533 × the mean absolute deviation, which still measures how far the others stray.
pub fn robust_sd(values: &[f64], median: f64) -> f64 {
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = self::median(&deviations);
    if mad > 0.0 {
        MAD_SCALE * mad
    } else {
        MEAN_AD_SCALE * deviations.iter().sum::<f64>() / deviations.len() as f64
    }
}

/// (lowest, highest) of `values`.
pub fn range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values.into_iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)))
}

/// z for a two-sided 90% interval.
const Z90: f64 = 1.645;

/// Sen's 90% interval of the Theil-Sen slope: (lower, median, upper).
pub fn sen_interval(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let mut slopes = Vec::with_capacity(pts.len() * pts.len() / 2);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            slopes.push((pts[j].1 - pts[i].1) / (pts[j].0 - pts[i].0));
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let n = pts.len() as f64;
    let pairs = slopes.len() as f64;
    let c = Z90 * (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    let idx = |r: f64| (r.max(0.0) as usize).min(slopes.len() - 1);
    Some((slopes[idx(((pairs - c) / 2.0).floor())], median(&slopes), slopes[idx(((pairs + c) / 2.0).ceil())]))
}

/// χ² with 6 degrees of freedom exceeds this with probability 1%: a weekly pattern is claimed
/// only when the weekday ranks differ more than chance would make them 1 time in 100.
pub const WEEKLY_H: f64 = 16.81;

/// Kruskal–Wallis H of `days` grouped by weekday, corrected for ties: about χ² with 6 degrees
/// of freedom when the weekday does not matter. Ranks, so a spike or a trend does not make a
/// pattern.
pub fn weekday_h(days: &[(NaiveDate, f64)]) -> f64 {
    let n = days.len() as f64;
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by(|&a, &b| days[a].1.total_cmp(&days[b].1));
    let (mut rank_sum, mut count, mut ties) = ([0.0; 7], [0.0; 7], 0.0);
    let mut i = 0;
    while i < order.len() {
        let j = i + order[i..].iter().take_while(|&&k| days[k].1 == days[order[i]].1).count();
        let t = (j - i) as f64;
        ties += t * t * t - t;
        for &k in &order[i..j] {
            let w = days[k].0.weekday().num_days_from_monday() as usize;
            // The tied values share the mean of ranks i + 1 ..= j.
            rank_sum[w] += (i + j + 1) as f64 / 2.0;
            count[w] += 1.0;
        }
        i = j;
    }
    let spread: f64 = (0..7).filter(|&w| count[w] > 0.0).map(|w| rank_sum[w] * rank_sum[w] / count[w]).sum();
    let h = 12.0 / (n * (n + 1.0)) * spread - 3.0 * (n + 1.0);
    let correction = 1.0 - ties / (n * n * n - n);
    // All values equal: no pattern to find.
    if correction > 0.0 {
        h / correction
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_sd_is_the_scaled_mad_or_the_scaled_mean_deviation_when_the_mad_is_zero() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // Deviations from 3: 2, 1, 0, 1, 2 -> MAD 1.
        assert!((robust_sd(&[1.0, 2.0, 3.0, 4.0, 5.0], 3.0) - 1.4826).abs() < 1e-12);
        // Four of five on one value: MAD 0; the mean deviation is 10 / 5 = 2.
        assert!((robust_sd(&[5.0, 5.0, 5.0, 5.0, 15.0], 5.0) - 1.2533 * 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_weekly_pattern_shows_in_the_rank_test_and_noise_does_not() {
        let d0: NaiveDate = "2026-01-05".parse().unwrap(); // a Monday
        let days = |f: &dyn Fn(i64) -> f64| -> Vec<(NaiveDate, f64)> {
            (0..56).map(|i| (d0 + chrono::Days::new(i as u64), f(i))).collect()
        };
        let weekly = days(&|i| if i % 7 >= 5 { 10.0 } else { 100.0 + (i % 5) as f64 });
        assert!(weekday_h(&weekly) >= WEEKLY_H, "{}", weekday_h(&weekly));
        let flat = days(&|i| 100.0 + ((i * 37) % 11) as f64);
        assert!(weekday_h(&flat) < WEEKLY_H, "{}", weekday_h(&flat));
        assert_eq!(weekday_h(&days(&|_| 1.0)), 0.0);
    }
}
