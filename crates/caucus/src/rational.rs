//! Exact rational arithmetic for caucus math (spec/caucus.md §3).
//!
//! Every quantity the rules compare — raw delegate shares, their decimal
//! remainders, state delegate equivalents — is a ratio of small integers, so
//! it is represented exactly as `num / den` over `i128` and never as a float.
//! All operations are checked: an overflow is a [`CaucusError::Overflow`],
//! never a wrap-around or a panic.
//!
//! A dedicated crate (`num-rational`) would do the same job; the few
//! operations the rules need fit in this file and keep the dependency list
//! short, which matters for a verifier others must audit.

use core::cmp::Ordering;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CaucusError;

/// An exact rational number `num / den`, always in lowest terms with `den > 0`.
///
/// Equality and ordering are those of the rational numbers (the canonical
/// form makes structural equality exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(i128, i128)", into = "(i128, i128)")]
pub struct Rational {
    num: i128,
    den: i128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Rational {
    /// Zero.
    pub const ZERO: Rational = Rational { num: 0, den: 1 };
    /// One.
    pub const ONE: Rational = Rational { num: 1, den: 1 };
    /// One half, the rounding boundary of spec/caucus.md §4.2.
    pub const HALF: Rational = Rational { num: 1, den: 2 };

    /// `num / den` in lowest terms.
    ///
    /// Errors: [`CaucusError::ZeroDenominator`] when `den == 0`;
    /// [`CaucusError::Overflow`] when normalising the sign overflows.
    pub fn new(num: i128, den: i128) -> Result<Self, CaucusError> {
        if den == 0 {
            return Err(CaucusError::ZeroDenominator);
        }
        let (num, den) = if den < 0 {
            (
                num.checked_neg().ok_or(CaucusError::Overflow)?,
                den.checked_neg().ok_or(CaucusError::Overflow)?,
            )
        } else {
            (num, den)
        };
        let g = gcd(num.unsigned_abs(), den.unsigned_abs());
        // g >= 1 because den != 0, and g divides both, so the casts are exact.
        let g = i128::try_from(g).map_err(|_| CaucusError::Overflow)?;
        Ok(Rational {
            num: num / g,
            den: den / g,
        })
    }

    /// The integer `n` as a rational.
    pub fn from_integer(n: i128) -> Self {
        Rational { num: n, den: 1 }
    }

    /// Numerator (lowest terms, carries the sign).
    pub fn numer(&self) -> i128 {
        self.num
    }

    /// Denominator (lowest terms, always positive).
    pub fn denom(&self) -> i128 {
        self.den
    }

    /// Checked addition.
    pub fn checked_add(self, rhs: Rational) -> Result<Rational, CaucusError> {
        let g = i128::try_from(gcd(self.den.unsigned_abs(), rhs.den.unsigned_abs()))
            .map_err(|_| CaucusError::Overflow)?;
        let l = self.den / g;
        let r = rhs.den / g;
        let num = self
            .num
            .checked_mul(r)
            .and_then(|a| rhs.num.checked_mul(l).and_then(|b| a.checked_add(b)))
            .ok_or(CaucusError::Overflow)?;
        let den = self.den.checked_mul(r).ok_or(CaucusError::Overflow)?;
        Rational::new(num, den)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, rhs: Rational) -> Result<Rational, CaucusError> {
        let neg = Rational {
            num: rhs.num.checked_neg().ok_or(CaucusError::Overflow)?,
            den: rhs.den,
        };
        self.checked_add(neg)
    }

    /// Checked multiplication.
    pub fn checked_mul(self, rhs: Rational) -> Result<Rational, CaucusError> {
        // Cross-reduce first to keep intermediates small.
        let g1 = i128::try_from(gcd(self.num.unsigned_abs(), rhs.den.unsigned_abs()).max(1))
            .map_err(|_| CaucusError::Overflow)?;
        let g2 = i128::try_from(gcd(rhs.num.unsigned_abs(), self.den.unsigned_abs()).max(1))
            .map_err(|_| CaucusError::Overflow)?;
        let num = (self.num / g1)
            .checked_mul(rhs.num / g2)
            .ok_or(CaucusError::Overflow)?;
        let den = (self.den / g2)
            .checked_mul(rhs.den / g1)
            .ok_or(CaucusError::Overflow)?;
        Rational::new(num, den)
    }

    /// Checked division. Errors with [`CaucusError::ZeroDenominator`] on `rhs == 0`.
    pub fn checked_div(self, rhs: Rational) -> Result<Rational, CaucusError> {
        if rhs.num == 0 {
            return Err(CaucusError::ZeroDenominator);
        }
        self.checked_mul(Rational::new(rhs.den, rhs.num)?)
    }

    /// Largest integer `<= self`.
    pub fn floor(&self) -> i128 {
        self.num.div_euclid(self.den)
    }

    /// Smallest integer `>= self`.
    pub fn ceil(&self) -> i128 {
        let f = self.floor();
        if self.num.rem_euclid(self.den) == 0 {
            f
        } else {
            f + 1
        }
    }

    /// The decimal remainder `self - floor(self)`, in `[0, 1)`.
    pub fn fract(&self) -> Rational {
        Rational {
            num: self.num.rem_euclid(self.den),
            den: self.den,
        }
    }

    /// Round to the nearest integer, halves upward: `floor(self + 1/2)`
    /// (spec/caucus.md §4.2).
    pub fn round_half_up(&self) -> Result<i128, CaucusError> {
        Ok(self.checked_add(Rational::HALF)?.floor())
    }

    /// Round to `decimals` decimal places, halves away from zero
    /// (spec/caucus.md §5: the display and comparison rounding of SDEs).
    pub fn round_to_decimals(&self, decimals: u32) -> Result<Rational, CaucusError> {
        let scale = 10i128.checked_pow(decimals).ok_or(CaucusError::Overflow)?;
        let scaled = self.checked_mul(Rational::from_integer(scale))?;
        let magnitude = Rational {
            num: scaled.num.checked_abs().ok_or(CaucusError::Overflow)?,
            den: scaled.den,
        };
        let rounded = magnitude.round_half_up()?;
        let signed = if scaled.num < 0 { -rounded } else { rounded };
        Rational::new(signed, scale)
    }

    /// Decimal text with exactly `decimals` places, rounded as
    /// [`Rational::round_to_decimals`]; e.g. `0.1569`.
    pub fn to_fixed(&self, decimals: u32) -> Result<String, CaucusError> {
        let r = self.round_to_decimals(decimals)?;
        let scale = 10i128.checked_pow(decimals).ok_or(CaucusError::Overflow)?;
        // r * scale is an integer by construction.
        let units = r
            .num
            .checked_mul(scale / r.den)
            .ok_or(CaucusError::Overflow)?;
        let sign = if units < 0 { "-" } else { "" };
        let units = units.unsigned_abs();
        let scale_u = scale.unsigned_abs();
        let int = units / scale_u;
        let frac = units % scale_u;
        if decimals == 0 {
            Ok(format!("{sign}{int}"))
        } else {
            Ok(format!(
                "{sign}{int}.{frac:0width$}",
                width = decimals as usize
            ))
        }
    }

    /// Parse a plain decimal such as `0.6274509803921569`, `12`, `-0.5` or
    /// `.25` exactly (no exponent, at most 36 digits).
    pub fn parse_decimal(text: &str) -> Result<Rational, CaucusError> {
        let bad = || CaucusError::InvalidDecimal(text.chars().take(64).collect());
        let t = text.trim();
        let (neg, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if int_part.len() + frac_part.len() > 36 {
            return Err(bad());
        }
        let mut num: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            num = num
                .checked_mul(10)
                .and_then(|n| n.checked_add(i128::from(b - b'0')))
                .ok_or_else(bad)?;
        }
        let den = 10i128
            .checked_pow(u32::try_from(frac_part.len()).map_err(|_| bad())?)
            .ok_or_else(bad)?;
        Rational::new(if neg { -num } else { num }, den)
    }
}

impl From<u32> for Rational {
    fn from(n: u32) -> Self {
        Rational::from_integer(i128::from(n))
    }
}

impl From<u64> for Rational {
    fn from(n: u64) -> Self {
        Rational::from_integer(i128::from(n))
    }
}

impl TryFrom<(i128, i128)> for Rational {
    type Error = CaucusError;
    fn try_from((n, d): (i128, i128)) -> Result<Self, Self::Error> {
        Rational::new(n, d)
    }
}

impl From<Rational> for (i128, i128) {
    fn from(r: Rational) -> Self {
        (r.num, r.den)
    }
}

impl Ord for Rational {
    fn cmp(&self, other: &Self) -> Ordering {
        // Compare a/b with c/d (b, d > 0) without overflow: first by integer
        // part, then by remainder, recursively (continued-fraction style).
        let (mut a, mut b, mut c, mut d) = (self.num, self.den, other.num, other.den);
        let mut flipped = false;
        loop {
            let (qa, ra) = (a.div_euclid(b), a.rem_euclid(b));
            let (qc, rc) = (c.div_euclid(d), c.rem_euclid(d));
            let ord = qa.cmp(&qc);
            if ord != Ordering::Equal {
                return if flipped { ord.reverse() } else { ord };
            }
            match (ra == 0, rc == 0) {
                (true, true) => return Ordering::Equal,
                (true, false) => {
                    return if flipped {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, true) => {
                    return if flipped {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, false) => {
                    // ra/b vs rc/d  <=>  d/rc vs b/ra (reversed).
                    (a, b, c, d) = (b, ra, d, rc);
                    flipped = !flipped;
                }
            }
        }
    }
}

impl PartialOrd for Rational {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn r(n: i128, d: i128) -> Rational {
        Rational::new(n, d).unwrap()
    }

    #[test]
    fn normalises() {
        assert_eq!(r(2, 4), r(1, 2));
        assert_eq!(r(-2, -4), r(1, 2));
        assert_eq!(r(2, -4), r(-1, 2));
        assert_eq!(r(0, -7), Rational::ZERO);
        assert_eq!(Rational::new(1, 0), Err(CaucusError::ZeroDenominator));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(r(1, 2).checked_add(r(1, 3)).unwrap(), r(5, 6));
        assert_eq!(r(1, 2).checked_sub(r(1, 3)).unwrap(), r(1, 6));
        assert_eq!(r(2, 3).checked_mul(r(9, 4)).unwrap(), r(3, 2));
        assert_eq!(r(2, 3).checked_div(r(4, 9)).unwrap(), r(3, 2));
        assert_eq!(
            r(1, 2).checked_div(Rational::ZERO),
            Err(CaucusError::ZeroDenominator)
        );
        assert_eq!(
            Rational::from_integer(i128::MAX).checked_add(Rational::ONE),
            Err(CaucusError::Overflow)
        );
    }

    #[test]
    fn floor_ceil_fract_round() {
        assert_eq!(r(7, 2).floor(), 3);
        assert_eq!(r(-7, 2).floor(), -4);
        assert_eq!(r(7, 2).ceil(), 4);
        assert_eq!(r(6, 2).ceil(), 3);
        assert_eq!(r(-7, 2).ceil(), -3);
        assert_eq!(r(7, 2).fract(), r(1, 2));
        assert_eq!(r(-7, 2).fract(), r(1, 2));
        assert_eq!(r(5, 2).round_half_up().unwrap(), 3);
        assert_eq!(r(49, 100).round_half_up().unwrap(), 0);
        assert_eq!(r(1, 2).round_half_up().unwrap(), 1);
    }

    #[test]
    fn ordering() {
        assert!(r(1, 3) < r(1, 2));
        assert!(r(-1, 2) < r(-1, 3));
        assert!(r(7, 3) > r(9, 4));
        assert_eq!(r(4, 6).cmp(&r(2, 3)), Ordering::Equal);
        let big = r(i128::MAX - 1, i128::MAX);
        let big2 = r(i128::MAX - 2, i128::MAX - 1);
        assert!(big > big2);
    }

    #[test]
    fn decimals() {
        assert_eq!(
            Rational::parse_decimal("0.6274509803921569").unwrap(),
            r(6274509803921569, 10_000_000_000_000_000)
        );
        assert_eq!(Rational::parse_decimal("0").unwrap(), Rational::ZERO);
        assert_eq!(Rational::parse_decimal("0.0").unwrap(), Rational::ZERO);
        assert_eq!(Rational::parse_decimal("-1.5").unwrap(), r(-3, 2));
        assert_eq!(Rational::parse_decimal(".25").unwrap(), r(1, 4));
        for bad in ["", ".", "1e5", "abc", "1.2.3", "--1", " - 1"] {
            assert!(Rational::parse_decimal(bad).is_err(), "{bad}");
        }
        assert!(Rational::parse_decimal(&"9".repeat(37)).is_err());
    }

    #[test]
    fn fixed_rounding() {
        assert_eq!(r(1, 2).to_fixed(4).unwrap(), "0.5000");
        assert_eq!(r(8, 51).to_fixed(4).unwrap(), "0.1569");
        assert_eq!(r(4, 51).to_fixed(4).unwrap(), "0.0784");
        // Halves go away from zero.
        assert_eq!(r(1, 20000).to_fixed(4).unwrap(), "0.0001");
        assert_eq!(r(-1, 20000).to_fixed(4).unwrap(), "-0.0001");
        assert_eq!(r(1, 20001).to_fixed(4).unwrap(), "0.0000");
        assert_eq!(r(5, 1).to_fixed(0).unwrap(), "5");
        assert_eq!(
            r(12345, 100000).round_to_decimals(4).unwrap(),
            r(1235, 10000)
        );
    }
}
