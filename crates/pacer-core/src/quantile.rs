//! Exact quantiles with linear interpolation between closest ranks
//! (Prometheus `quantile_over_time`, numpy's default "linear" method).

/// The q-quantile of `values`, or `None` when there are no values.
///
/// For sorted v[0..n-1]: h = q*(n-1); result = v[floor(h)] + (h - floor(h)) * (v[floor(h)+1] - v[floor(h)]).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, q)
}

/// As [`quantile`] for values already sorted ascending.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = q * (n - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = h - lo as f64;
    Some(sorted[lo] + frac * (sorted[hi] - sorted[lo]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_none() {
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn single_value_is_every_quantile() {
        assert_eq!(quantile(&[7.0], 0.5), Some(7.0));
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
    }

    #[test]
    fn odd_count() {
        // sorted 1,2,3,4,100: p50 h=2 -> 3; p90 h=3.6 -> 4 + 0.6*96 = 61.6
        let v = [100.0, 3.0, 1.0, 4.0, 2.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert!((quantile(&v, 0.9).unwrap() - 61.6).abs() < 1e-9);
    }

    #[test]
    fn even_count() {
        // sorted 10,20,30,40: p50 h=1.5 -> 25; p90 h=2.7 -> 30 + 0.7*10 = 37
        let v = [40.0, 10.0, 30.0, 20.0];
        assert_eq!(quantile(&v, 0.5), Some(25.0));
        assert!((quantile(&v, 0.9).unwrap() - 37.0).abs() < 1e-9);
    }
}
