//! An exact rational number that stays in machine integers while it can: numerator and
//! denominator as reduced `i128` (the common case: nanoseconds, cents, percents), falling back
//! to arbitrary precision (`BigRational`) only when a product would overflow. Every operation
//! is exact either way; the representation never changes a value.

use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

/// An exact rational number.
#[derive(Clone, Debug)]
pub struct Q(Repr);

#[derive(Clone, Debug)]
enum Repr {
    /// Reduced, `d > 0`.
    Small(i128, i128),
    Big(BigRational),
}

fn gcd(a: i128, b: i128) -> i128 {
    // Stein's binary gcd on magnitudes; i128::MIN never reaches here (callers check).
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    if a == 0 {
        return b as i128;
    }
    if b == 0 {
        return a as i128;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return (a << shift) as i128;
        }
    }
}

impl Q {
    /// n / d for machine integers; `d` must not be 0 (a zero denominator gives 0).
    pub fn ratio(n: i128, d: i128) -> Q {
        Q::small(n, d).unwrap_or_else(|| Q::big(BigRational::new(n.into(), d.into())))
    }

    /// An integer.
    pub fn int(n: i128) -> Q {
        Q::ratio(n, 1)
    }

    pub fn zero() -> Q {
        Q(Repr::Small(0, 1))
    }

    /// A reduced small value, or `None` when it cannot be held (overflow, i128::MIN).
    fn small(n: i128, d: i128) -> Option<Q> {
        if d == 0 {
            return Some(Q::zero());
        }
        if n == i128::MIN || d == i128::MIN {
            return None;
        }
        let g = gcd(n, d);
        let (mut n, mut d) = (n / g, d / g);
        if d < 0 {
            n = -n;
            d = -d;
        }
        Some(Q(Repr::Small(n, d)))
    }

    /// A big value, brought back to machine integers when it fits.
    fn big(r: BigRational) -> Q {
        match (r.numer().to_i128(), r.denom().to_i128()) {
            (Some(n), Some(d)) if n != i128::MIN => Q(Repr::Small(n, d)),
            _ => Q(Repr::Big(r)),
        }
    }

    fn to_big(&self) -> BigRational {
        match &self.0 {
            Repr::Small(n, d) => BigRational::new_raw(BigInt::from(*n), BigInt::from(*d)),
            Repr::Big(r) => r.clone(),
        }
    }

    /// The reduced numerator (its sign is the value's).
    pub fn numer(&self) -> BigInt {
        match &self.0 {
            Repr::Small(n, _) => BigInt::from(*n),
            Repr::Big(r) => r.numer().clone(),
        }
    }

    /// The reduced denominator, positive.
    pub fn denom(&self) -> BigInt {
        match &self.0 {
            Repr::Small(_, d) => BigInt::from(*d),
            Repr::Big(r) => r.denom().clone(),
        }
    }

    /// Numerator and denominator as machine integers, when they fit.
    pub fn as_small(&self) -> Option<(i128, i128)> {
        match &self.0 {
            Repr::Small(n, d) => Some((*n, *d)),
            Repr::Big(_) => None,
        }
    }

    pub fn is_zero(&self) -> bool {
        match &self.0 {
            Repr::Small(n, _) => *n == 0,
            Repr::Big(r) => r.is_zero(),
        }
    }

    pub fn is_positive(&self) -> bool {
        match &self.0 {
            Repr::Small(n, _) => *n > 0,
            Repr::Big(r) => *r > BigRational::zero(),
        }
    }

    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Small(n, _) => *n < 0,
            Repr::Big(r) => *r < BigRational::zero(),
        }
    }

    fn add_q(&self, o: &Q) -> Q {
        if let (Repr::Small(a, b), Repr::Small(c, d)) = (&self.0, &o.0) {
            if *b == *d {
                if let Some(n) = a.checked_add(*c) {
                    if let Some(q) = Q::small(n, *b) {
                        return q;
                    }
                }
            } else if let Some(q) = (|| {
                let g = gcd(*b, *d);
                let (bg, dg) = (b / g, d / g);
                let n = a.checked_mul(dg)?.checked_add(c.checked_mul(bg)?)?;
                let den = b.checked_mul(dg)?;
                Q::small(n, den)
            })() {
                return q;
            }
        }
        Q::big(self.to_big() + o.to_big())
    }

    fn neg(&self) -> Q {
        match &self.0 {
            Repr::Small(n, d) if *n != i128::MIN => Q(Repr::Small(-n, *d)),
            _ => Q::big(-self.to_big()),
        }
    }

    fn mul_q(&self, o: &Q) -> Q {
        if let (Repr::Small(a, b), Repr::Small(c, d)) = (&self.0, &o.0) {
            if let Some(q) = (|| {
                // Cross-reduce first so the products stay small and the result reduced.
                let g1 = gcd(*a, *d).max(1);
                let g2 = gcd(*c, *b).max(1);
                let n = (a / g1).checked_mul(c / g2)?;
                let den = (b / g2).checked_mul(d / g1)?;
                (n != i128::MIN).then_some(Q(Repr::Small(n, den)))
            })() {
                return q;
            }
        }
        Q::big(self.to_big() * o.to_big())
    }

    fn recip(&self) -> Q {
        match &self.0 {
            Repr::Small(0, _) => Q::zero(),
            Repr::Small(n, d) if *n > 0 => Q(Repr::Small(*d, *n)),
            Repr::Small(n, d) if *n != i128::MIN => Q(Repr::Small(-d, -n)),
            _ => {
                let r = self.to_big();
                if r.is_zero() {
                    Q::zero()
                } else {
                    Q::big(r.recip())
                }
            }
        }
    }
}

impl Default for Q {
    fn default() -> Q {
        Q::zero()
    }
}

impl PartialEq for Q {
    fn eq(&self, o: &Q) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Q {}

impl PartialOrd for Q {
    fn partial_cmp(&self, o: &Q) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Q {
    fn cmp(&self, o: &Q) -> Ordering {
        if let (Repr::Small(a, b), Repr::Small(c, d)) = (&self.0, &o.0) {
            if let (Some(l), Some(r)) = (a.checked_mul(*d), c.checked_mul(*b)) {
                return l.cmp(&r);
            }
        }
        self.to_big().cmp(&o.to_big())
    }
}

macro_rules! binary_op {
    ($trait:ident, $method:ident, $body:expr) => {
        impl $trait<Q> for Q {
            type Output = Q;
            fn $method(self, o: Q) -> Q {
                $body(&self, &o)
            }
        }
        impl $trait<&Q> for Q {
            type Output = Q;
            fn $method(self, o: &Q) -> Q {
                $body(&self, o)
            }
        }
        impl $trait<Q> for &Q {
            type Output = Q;
            fn $method(self, o: Q) -> Q {
                $body(self, &o)
            }
        }
        impl $trait<&Q> for &Q {
            type Output = Q;
            fn $method(self, o: &Q) -> Q {
                $body(self, o)
            }
        }
    };
}

binary_op!(Add, add, |a: &Q, b: &Q| a.add_q(b));
binary_op!(Sub, sub, |a: &Q, b: &Q| a.add_q(&b.neg()));
binary_op!(Mul, mul, |a: &Q, b: &Q| a.mul_q(b));
binary_op!(Div, div, |a: &Q, b: &Q| a.mul_q(&b.recip()));

impl AddAssign<Q> for Q {
    fn add_assign(&mut self, o: Q) {
        *self = self.add_q(&o);
    }
}

impl AddAssign<&Q> for Q {
    fn add_assign(&mut self, o: &Q) {
        *self = self.add_q(o);
    }
}

impl SubAssign<Q> for Q {
    fn sub_assign(&mut self, o: Q) {
        *self = self.add_q(&o.neg());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(n: i128, d: i128) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn small_and_big_agree() {
        let values = [
            (1, 3),
            (-7, 12),
            (i128::MAX / 3, 7),
            (5, i128::MAX / 11),
            (i128::MAX, 1),
            (-i128::MAX, 2),
            (0, 5),
            (1_000_000_000_000_000_000, 2_674_800_000_000_000),
        ];
        for (a, b) in values {
            for (c, d) in values {
                let (x, y) = (Q::ratio(a, b), Q::ratio(c, d));
                let (bx, by) = (big(a, b), big(c, d));
                assert_eq!((&x + &y).to_big(), &bx + &by, "{a}/{b} + {c}/{d}");
                assert_eq!((&x - &y).to_big(), &bx - &by, "{a}/{b} - {c}/{d}");
                assert_eq!((&x * &y).to_big(), &bx * &by, "{a}/{b} * {c}/{d}");
                if c != 0 {
                    assert_eq!((&x / &y).to_big(), &bx / &by, "{a}/{b} / {c}/{d}");
                }
                assert_eq!(x.cmp(&y), bx.cmp(&by), "{a}/{b} cmp {c}/{d}");
            }
        }
    }

    #[test]
    fn big_values_come_back_small() {
        let huge = Q::ratio(i128::MAX, 1) * Q::ratio(4, 1);
        assert!(huge.as_small().is_none());
        let back = huge / Q::ratio(8, 1);
        assert_eq!(back.as_small(), Some((i128::MAX, 2)));
    }
}
