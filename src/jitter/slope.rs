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
    scratch.clear();
    for ((x0, y0), (x1, y1)) in pairs {
        if x1 > x0 && scratch.len() < scratch.capacity() {
            scratch.push((y1 - y0) / (x1 - x0));
        }
    }
    quantile(scratch, 0.5)
}

/// The `q` quantile (0..=1) of `values` (reordered in place); `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let k = ((values.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(*values.select_nth_unstable_by(k, f64::total_cmp).1)
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
}
