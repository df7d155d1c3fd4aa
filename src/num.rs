//! The numeric rules of the language, implemented once and shared by every back end.
//!
//! - `min`/`max` follow WebAssembly (and Cranelift `fmin`/`fmax`): NaN in, NaN out, and
//!   `min(-0, +0) = -0`, `max(-0, +0) = +0`. `clamp(v, lo, hi) = min(max(v, lo), hi)`.
//! - `round` rounds half to even (Cranelift `nearest`).
//! - `pow`, `exp`, `ln` are `extern "C"` so JIT code calls exactly these functions; `sqrt`,
//!   `floor`, `ceil`, `abs` and arithmetic are correctly rounded IEEE operations everywhere.
//! - Comparisons give 1 or 0; `if c then a else b` takes `a` when `c != 0` (NaN counts as true).

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
}
