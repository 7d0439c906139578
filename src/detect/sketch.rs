//! The value sketch of `percentile` rules: DDSketch's logarithmic buckets
//! with 1% relative accuracy. A value `v > 0` falls in bucket
//! `i = ceil(log_γ v)` with `γ = (1 + α) / (1 − α)`, `α = 0.01`, which holds
//! `(γ^(i−1), γ^i]`; the bucket stands for `2γ^i / (γ + 1)`, within `α` of
//! every value in it. Negative values mirror positive ones; magnitudes
//! below `γ^−2047` (about 1.7e−18) count as 0, and above `γ^2047` (about
//! 5.9e17) as that bound. A percentile read from the buckets is therefore
//! within 1% of the exact one (the nearest-rank value of the same records)
//! for magnitudes between 1e−17 and 5e17.
//!
//! A bucket is a number below `2^BITS`, ordered as the values are: the
//! counts of a rule keep one per record under `second · 2^BITS + bucket`,
//! so a rule's memory is that of its distinct (group, second, bucket)
//! triples, spilled to disk like every other count.

/// Bits of a bucket.
pub const BITS: u32 = 13;
/// Buckets, ordered as values.
pub const BUCKETS: usize = 1 << BITS;
/// The relative accuracy.
pub const ALPHA: f64 = 0.01;
/// The bucket of 0.
const ZERO: i64 = 1 << (BITS - 1);
/// Bucket indexes `i` run over `-HALF..=HALF` on each side of 0.
const HALF: i64 = (1 << (BITS - 2)) - 1;

/// `ln γ`, `ln((1 + α) / (1 − α))` (a test checks it): a constant, not a
/// logarithm per record.
const LN_GAMMA: f64 = 0.020000666706669435;

/// The bucket of `v` (finite).
pub fn bucket(v: f64) -> i64 {
    let m = v.abs();
    if m == 0.0 || m.is_nan() {
        return ZERO;
    }
    let i = (m.ln() / LN_GAMMA).ceil();
    if i < -(HALF as f64) {
        return ZERO;
    }
    let i = if i > HALF as f64 { HALF } else { i as i64 };
    if v > 0.0 {
        ZERO + HALF + 1 + i
    } else {
        ZERO - HALF - 1 - i
    }
}

/// The value a bucket stands for.
pub fn value(bucket: i64) -> f64 {
    let g = LN_GAMMA;
    let at = |i: i64| 2.0 * (i as f64 * g).exp() / (g.exp() + 1.0);
    match bucket.cmp(&ZERO) {
        std::cmp::Ordering::Equal => 0.0,
        std::cmp::Ordering::Greater => at(bucket - ZERO - HALF - 1),
        std::cmp::Ordering::Less => -at(ZERO - HALF - 1 - bucket),
    }
}

/// Counts per bucket that can be added to, taken from and asked for the
/// `k`-th smallest value in `O(BITS)` (a Fenwick tree).
pub struct Histogram {
    tree: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { tree: vec![0; BUCKETS + 1], total: 0 }
    }
}

impl Histogram {
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds `n` records to `bucket`, or takes them away (`add = false`).
    pub fn change(&mut self, bucket: i64, n: u64, add: bool) {
        let mut i = bucket as usize + 1;
        while i <= BUCKETS {
            if add {
                self.tree[i] += n;
            } else {
                self.tree[i] -= n;
            }
            i += i & i.wrapping_neg();
        }
        if add {
            self.total += n
        } else {
            self.total -= n
        }
    }

    /// The bucket of the `k`-th smallest record (`1 <= k <= total`).
    pub fn kth(&self, k: u64) -> i64 {
        let (mut pos, mut left) = (0usize, k);
        let mut step = BUCKETS;
        while step > 0 {
            let next = pos + step;
            if next <= BUCKETS && self.tree[next] < left {
                pos = next;
                left -= self.tree[next];
            }
            step /= 2;
        }
        pos as i64
    }

    /// The bucket of the `p`-th percentile (nearest rank) of what it holds.
    pub fn percentile(&self, p: f64) -> i64 {
        self.kth(rank(p, self.total))
    }
}

/// The nearest rank of percentile `p` among `n` records: `ceil(p/100 · n)`,
/// at least 1.
pub fn rank(p: f64, n: u64) -> u64 {
    // p/100·n rounded up, without a float product such as 0.95·100 = 95.00000000000001.
    let exact = p * n as f64 / 100.0;
    let r = exact.ceil();
    let r = if r - exact > 1.0 - 1e-9 { r - 1.0 } else { r };
    (r as u64).clamp(1, n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_ordered_as_values() {
        let vs = [
            -1e20, -5e17, -3.0, -1.0, -0.001, -1e-19, 0.0, 1e-19, 1e-17, 0.001, 0.5, 1.0, 1.01,
            2.0, 1500.0, 5e17, 1e20,
        ];
        let bs: Vec<i64> = vs.iter().map(|&v| bucket(v)).collect();
        assert!(bs.windows(2).all(|w| w[0] <= w[1]), "{bs:?}");
        assert!(bs.iter().all(|&b| (0..BUCKETS as i64).contains(&b)));
        assert_eq!(bucket(1e-19), bucket(0.0));
        assert_eq!(value(bucket(0.0)), 0.0);
    }

    #[test]
    fn ln_gamma_is_that_of_alpha() {
        assert_eq!(LN_GAMMA, ((1.0 + ALPHA) / (1.0 - ALPHA)).ln());
    }

    #[test]
    fn ranks() {
        assert_eq!(rank(95.0, 100), 95);
        assert_eq!(rank(95.0, 20), 19);
        assert_eq!(rank(95.0, 1), 1);
        assert_eq!(rank(50.0, 3), 2);
        assert_eq!(rank(100.0, 7), 7);
        assert_eq!(rank(0.1, 7), 1);
    }

    proptest! {
        #[test]
        fn within_one_percent(v in prop_oneof![1e-17f64..5e17, -5e17f64..-1e-17, 1e-3f64..1e4]) {
            let e = value(bucket(v));
            prop_assert!((e - v).abs() <= ALPHA * v.abs() * (1.0 + 1e-9), "{v} -> {e}");
        }

        #[test]
        fn kth_is_the_sorted_kth(mut bs in proptest::collection::vec(0i64..BUCKETS as i64, 1..200), k in 0usize..200) {
            let mut h = Histogram::default();
            for &b in &bs {
                h.change(b, 1, true);
            }
            bs.sort();
            let k = k % bs.len();
            prop_assert_eq!(h.kth(k as u64 + 1), bs[k]);
            for &b in &bs[..k] {
                h.change(b, 1, false);
            }
            prop_assert_eq!(h.kth(1), bs[k]);
        }
    }
}
