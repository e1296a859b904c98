//! The one robust slope estimator: the median of the slopes between pairs of points.
//!
//! Theil–Sen over all pairs (the delay trend) and over pairs a baseline apart (the drift
//! estimator) both come down to this: outliers and steps bend only the pairs that touch them,
//! and the median ignores those while they are fewer than half.

/// Median of `(y1 - y0) / (x1 - x0)` over `pairs` with `x1 > x0`, computed in `scratch` (which
/// never grows past its capacity, so a preallocated one makes this allocation-free); `None`
/// without a single usable pair.
pub fn median_slope(
    scratch: &mut Vec<f64>,
    pairs: impl Iterator<Item = ((f64, f64), (f64, f64))>,
) -> Option<f64> {
    fill_slopes(scratch, pairs);
    quantile(scratch, 0.5)
}

/// The `q` quantile (0..=1) of `values` (reordered in place); `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(
        *values
            .select_nth_unstable_by(rank(values.len(), q), f64::total_cmp)
            .1,
    )
}

/// The index of the `q` quantile among `len` sorted values (nearest rank).
fn rank(len: usize, q: f64) -> usize {
    ((len - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize
}

/// The first quartile, the median and the third quartile of `values` (reordered in place):
/// the same values as three calls of [`quantile`], but the quartiles are looked for only on
/// their side of the median once it is in place.
pub fn quartiles(values: &mut [f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let (k1, km, k3) = (rank(n, 0.25), rank(n, 0.5), rank(n, 0.75));
    let (below, median, above) = values.select_nth_unstable_by(km, f64::total_cmp);
    let median = *median;
    // The km smallest values are `below`, so the k1-th smallest of all is the k1-th of them.
    let q1 = if k1 < km {
        *below.select_nth_unstable_by(k1, f64::total_cmp).1
    } else {
        median
    };
    let q3 = if k3 > km {
        *above.select_nth_unstable_by(k3 - km - 1, f64::total_cmp).1
    } else {
        median
    };
    Some((q1, median, q3))
}

/// Fills `scratch` with `(y1 - y0) / (x1 - x0)` over `pairs` with `x1 > x0`, up to its capacity.
pub fn fill_slopes(scratch: &mut Vec<f64>, pairs: impl Iterator<Item = ((f64, f64), (f64, f64))>) {
    scratch.clear();
    for ((x0, y0), (x1, y1)) in pairs {
        if x1 > x0 && scratch.len() < scratch.capacity() {
            scratch.push((y1 - y0) / (x1 - x0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_slope_ignores_a_minority_of_outliers() {
        let mut scratch = Vec::with_capacity(100);
        let points: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64, 2.0 * i as f64 + if i == 4 { 50.0 } else { 0.0 }))
            .collect();
        let pairs = (0..10).flat_map(|a| (a + 1..10).map(move |b| (a, b)));
        let s = median_slope(&mut scratch, pairs.map(|(a, b)| (points[a], points[b])));
        assert_eq!(s, Some(2.0));
        assert_eq!(median_slope(&mut scratch, std::iter::empty()), None);
    }

    #[test]
    fn quartiles_equal_three_quantiles() {
        let mut rng = crate::jitter::test_rng::TestRng::new(9);
        for len in 1..200usize {
            // Few distinct values, so that ties straddle the ranks.
            let values: Vec<f64> = (0..len).map(|_| (rng.below(20) as f64) - 7.5).collect();
            let one_by_one: Vec<f64> = [0.25, 0.5, 0.75]
                .iter()
                .map(|&q| quantile(&mut values.clone(), q).expect("non-empty"))
                .collect();
            let (q1, m, q3) = quartiles(&mut values.clone()).expect("non-empty");
            assert_eq!([q1, m, q3].as_slice(), one_by_one.as_slice(), "len {len}");
        }
        assert_eq!(quartiles(&mut []), None);
    }
}
