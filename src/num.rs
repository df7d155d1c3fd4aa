//! The numeric rules of the language, implemented once and shared by every back end.
//!
//! - `min`/`max` follow WebAssembly (and Cranelift `fmin`/`fmax`): NaN in, NaN out, and
//!   `min(-0, +0) = -0`, `max(-0, +0) = +0`. `clamp(v, lo, hi) = min(max(v, lo), hi)`.
//! - `round` rounds half to even (Cranelift `nearest`).
//! - `pow`, `exp`, `ln` are `extern "C"` so JIT code calls exactly these functions; `sqrt`,
//!   `floor`, `ceil`, `abs` and arithmetic are correctly rounded IEEE operations everywhere.
//! - Comparisons give 1 or 0; `if c then a else b` takes `a` when `c != 0` (NaN counts as true).
//!   `and`, `or` and `not` read their operands the same way and give 1 or 0.
//! - `a % b` is the floored remainder: it has the sign of `b` (`-1 % 360` is 359), as in
//!   Python and Lua, so wrapping an angle or a cycle never gives a negative phase. It is the
//!   exact `fmod` plus `b` when their signs differ; `a % 0` is NaN.
//! - `lookup` finds an exact key (`-0` and `0` are one key) and gives NaN for a missing one;
//!   `at` interpolates linearly between a curve's points and is flat beyond its ends.

pub fn fmin(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else if b < a {
        b
    } else if a == b {
        f64::from_bits(a.to_bits() | b.to_bits())
    } else {
        f64::NAN
    }
}

pub fn fmax(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else if b > a {
        b
    } else if a == b {
        f64::from_bits(a.to_bits() & b.to_bits())
    } else {
        f64::NAN
    }
}

pub fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    fmin(fmax(v, lo), hi)
}

pub extern "C" fn pow(a: f64, b: f64) -> f64 {
    a.powf(b)
}

pub extern "C" fn exp(a: f64) -> f64 {
    a.exp()
}

pub extern "C" fn ln(a: f64) -> f64 {
    a.ln()
}

pub extern "C" fn rem(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }
}

/// The value of `key` among `keys` (sorted ascending, no NaN), NaN when it is not one.
pub fn lookup(keys: &[f64], values: &[f64], key: f64) -> f64 {
    match keys.binary_search_by(|k| k.partial_cmp(&key).unwrap_or(std::cmp::Ordering::Less)) {
        Ok(i) => values[i],
        Err(_) => f64::NAN,
    }
}

/// Which part of a curve `x` falls on: before its first point, between points `i` and
/// `i + 1`, or after its last point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Before,
    Between(usize),
    After,
}

/// The segment of the curve through `xs` (strictly increasing, at least one) that `x` is on;
/// `None` for NaN.
pub fn segment(xs: &[f64], x: f64) -> Option<Segment> {
    let last = xs.len() - 1;
    if x.is_nan() {
        None
    } else if x <= xs[0] {
        Some(Segment::Before)
    } else if x >= xs[last] {
        Some(Segment::After)
    } else {
        Some(Segment::Between(xs.partition_point(|&p| p <= x) - 1))
    }
}

/// The curve through the points `(xs[i], ys[i])` at `x`: `y0 + (x - x0) / (x1 - x0) * (y1 -
/// y0)` on the segment from `(x0, y0)` to `(x1, y1)`, the end's `y` beyond an end, NaN at NaN.
pub fn curve_at(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    match segment(xs, x) {
        None => x,
        Some(Segment::Before) => ys[0],
        Some(Segment::After) => ys[ys.len() - 1],
        Some(Segment::Between(i)) => {
            let (x0, x1, y0, y1) = (xs[i], xs[i + 1], ys[i], ys[i + 1]);
            y0 + (x - x0) / (x1 - x0) * (y1 - y0)
        }
    }
}

pub fn round(a: f64) -> f64 {
    a.round_ties_even()
}

pub fn bool_to_f64(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

pub fn truthy(c: f64) -> bool {
    c != 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_signed_zero_and_nan() {
        assert_eq!(fmin(-0.0, 0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(fmin(0.0, -0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(fmax(-0.0, 0.0).to_bits(), 0.0f64.to_bits());
        assert!(fmin(f64::NAN, 1.0).is_nan());
        assert!(fmax(1.0, f64::NAN).is_nan());
        assert_eq!(clamp(5.0, 0.0, 3.0), 3.0);
        assert_eq!(clamp(5.0, 8.0, 3.0), 3.0);
    }

    #[test]
    fn remainder_has_the_sign_of_the_divisor() {
        assert_eq!(rem(7.0, 3.0), 1.0);
        assert_eq!(rem(-1.0, 360.0), 359.0);
        assert_eq!(rem(7.0, -3.0), -2.0);
        assert_eq!(rem(-7.0, -3.0), -1.0);
        assert_eq!(rem(5.5, 2.0), 1.5);
        assert_eq!(rem(6.0, 3.0), 0.0);
        assert!(rem(1.0, 0.0).is_nan());
        assert!(rem(f64::INFINITY, 2.0).is_nan());
    }

    #[test]
    fn lookup_is_exact() {
        let (keys, values) = ([-1.0, 0.0, 2.5], [10.0, 20.0, 30.0]);
        assert_eq!(lookup(&keys, &values, -0.0), 20.0);
        assert_eq!(lookup(&keys, &values, 2.5), 30.0);
        assert!(lookup(&keys, &values, 2.4999).is_nan());
        assert!(lookup(&keys, &values, f64::NAN).is_nan());
    }

    #[test]
    fn curves_interpolate_and_are_flat_beyond_their_ends() {
        let (xs, ys) = ([0.0, 100.0, 400.0], [0.0, 0.2, 0.5]);
        assert_eq!(curve_at(&xs, &ys, -5.0), 0.0);
        assert_eq!(curve_at(&xs, &ys, 100.0), 0.2);
        assert_eq!(curve_at(&xs, &ys, 250.0), 0.35);
        assert_eq!(curve_at(&xs, &ys, 1e9), 0.5);
        assert_eq!(curve_at(&xs, &ys, f64::INFINITY), 0.5);
        assert!(curve_at(&xs, &ys, f64::NAN).is_nan());
        assert_eq!(segment(&xs, 100.0), Some(Segment::Between(1)));
        assert_eq!(segment(&xs, 99.0), Some(Segment::Between(0)));
    }
}
