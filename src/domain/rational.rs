//! An exact rational number that stays in machine integers while it can: numerator and
//! denominator as reduced `i128` (the common case: nanoseconds, cents, percents), falling back
//! to arbitrary precision only when a product would overflow. Every operation is exact either
//! way; the representation never changes a value.
//!
//! Large values are kept unreduced: a gcd of two n-bit integers costs O(n²) here, and reducing
//! after every addition made a sum of n fractions with unrelated denominators cost O(n³) (1,000
//! runs of mixed impact under `downtime_unit_seconds` took seconds, docs/rules.md §3). Products,
//! comparisons and the one rounding at the end (docs/rules.md §5) do not need a reduced form,
//! so a big value is reduced only while it is small enough for that to be cheap. Sums of many
//! terms go through [`QSum`], which adds them pairwise so that operands stay of like size.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// An exact rational number.
#[derive(Clone, Debug)]
pub struct Q(Repr);

#[derive(Clone, Debug)]
enum Repr {
    /// Reduced, `d > 0`.
    Small(i128, i128),
    /// `n / d` with `d > 0`, reduced only while small (see [`REDUCE_BELOW_BITS`]).
    Big(BigInt, BigInt),
}

/// A big value whose denominator has fewer bits than this is reduced after each operation (the
/// gcd is then cheap, and the value may come back to machine integers); a larger one is left as
/// it is.
const REDUCE_BELOW_BITS: u64 = 256;

fn gcd(a: i128, b: i128) -> i128 {
    // Stein's binary gcd on magnitudes; i128::MIN never reaches here (callers check).
    let (a, b) = (a.unsigned_abs(), b.unsigned_abs());
    if a == 0 {
        return b as i128;
    }
    if b == 0 {
        return a as i128;
    }
    // A whole number's denominator, 1, is the usual operand, and a figure over itself (a whole
    // cycle's share) the next: Stein's loop would take a step per bit.
    if a == 1 || b == 1 {
        return 1;
    }
    if a == b {
        return a as i128;
    }
    match (u64::try_from(a), u64::try_from(b)) {
        // Most figures are seconds, nanoseconds and prices: 64-bit steps are cheaper.
        (Ok(a), Ok(b)) => stein(a, b) as i128,
        _ => stein(a, b) as i128,
    }
}

/// `a / d` and `a % d` (`d` ≠ 0), as Rust's `i128` operators give them, in one 64-bit
/// division when both fit: a 128-bit division is a software routine several times slower, and
/// nearly every figure here (seconds, nanoseconds, cents, percents) fits 64 bits.
#[inline]
pub(crate) fn div_rem(a: i128, d: i128) -> (i128, i128) {
    if let (Ok(a), Ok(d)) = (i64::try_from(a), i64::try_from(d)) {
        if let (Some(q), Some(r)) = (a.checked_div(d), a.checked_rem(d)) {
            return (q.into(), r.into());
        }
    }
    (a / d, a % d)
}

/// `a / g` for a divisor `g` > 0 of `a` (a gcd): nothing to do when it is 1, as it mostly is.
#[inline]
fn div_by(a: i128, g: i128) -> i128 {
    if g == 1 {
        a
    } else {
        div_rem(a, g).0
    }
}

/// Stein's binary gcd of two non-zero magnitudes.
fn stein<T: num_traits::PrimInt>(mut a: T, mut b: T) -> T {
    let shift = (a | b).trailing_zeros() as usize;
    a = a >> a.trailing_zeros() as usize;
    loop {
        b = b >> b.trailing_zeros() as usize;
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b = b - a;
        if b.is_zero() {
            return a << shift;
        }
    }
}

impl Q {
    /// n / d for machine integers; `d` must not be 0 (a zero denominator gives 0).
    pub fn ratio(n: i128, d: i128) -> Q {
        Q::small(n, d).unwrap_or_else(|| Q::big(BigInt::from(n), BigInt::from(d)))
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
        let (mut n, mut d) = (div_by(n, g), div_by(d, g));
        if d < 0 {
            n = -n;
            d = -d;
        }
        Some(Q(Repr::Small(n, d)))
    }

    /// A big value `n / d` (`d` ≠ 0), brought back to machine integers when it fits.
    fn big(n: BigInt, d: BigInt) -> Q {
        if d.is_zero() || n.is_zero() {
            return Q::zero();
        }
        let (mut n, mut d) = if d.is_negative() { (-n, -d) } else { (n, d) };
        if d.bits() < REDUCE_BELOW_BITS && n.bits() < 2 * REDUCE_BELOW_BITS {
            let g = n.gcd(&d);
            if !g.is_one() {
                n /= &g;
                d /= &g;
            }
            if let (Some(a), Some(b)) = (n.to_i128(), d.to_i128()) {
                if a != i128::MIN && b != i128::MIN {
                    return Q(Repr::Small(a, b));
                }
            }
        }
        Q(Repr::Big(n, d))
    }

    /// Numerator and denominator as big integers (`d > 0`).
    fn parts(&self) -> (BigInt, BigInt) {
        let (n, d) = self.parts_ref();
        (n.into_owned(), d.into_owned())
    }

    /// Numerator and denominator as big integers, borrowed when they are already big.
    fn parts_ref(&self) -> (Cow<'_, BigInt>, Cow<'_, BigInt>) {
        match &self.0 {
            Repr::Small(n, d) => (Cow::Owned(BigInt::from(*n)), Cow::Owned(BigInt::from(*d))),
            Repr::Big(n, d) => (Cow::Borrowed(n), Cow::Borrowed(d)),
        }
    }

    /// The numerator (its sign is the value's); reduced unless the value is large.
    pub fn numer(&self) -> BigInt {
        self.parts().0
    }

    /// The denominator, positive; reduced unless the value is large.
    pub fn denom(&self) -> BigInt {
        self.parts().1
    }

    /// Numerator and denominator as machine integers, when they fit.
    pub fn as_small(&self) -> Option<(i128, i128)> {
        match &self.0 {
            Repr::Small(n, d) => Some((*n, *d)),
            Repr::Big(..) => None,
        }
    }

    pub fn is_zero(&self) -> bool {
        match &self.0 {
            Repr::Small(n, _) => *n == 0,
            Repr::Big(n, _) => n.is_zero(),
        }
    }

    pub fn is_positive(&self) -> bool {
        match &self.0 {
            Repr::Small(n, _) => *n > 0,
            Repr::Big(n, _) => n.sign() == Sign::Plus,
        }
    }

    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Small(n, _) => *n < 0,
            Repr::Big(n, _) => n.sign() == Sign::Minus,
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
                let (bg, dg) = (div_by(*b, g), div_by(*d, g));
                let n = a.checked_mul(dg)?.checked_add(c.checked_mul(bg)?)?;
                let den = b.checked_mul(dg)?;
                Q::small(n, den)
            })() {
                return q;
            }
        }
        if self.is_zero() {
            return o.clone();
        }
        if o.is_zero() {
            return self.clone();
        }
        let ((a, b), (c, d)) = (self.parts_ref(), o.parts_ref());
        let (a, b, c, d) = (a.as_ref(), b.as_ref(), c.as_ref(), d.as_ref());
        if b == d {
            return Q::big(a + c, b.clone());
        }
        if d.is_one() {
            return Q::big(a + c * b, b.clone());
        }
        if b.is_one() {
            return Q::big(a * d + c, d.clone());
        }
        Q::big(a * d + c * b, b * d)
    }

    fn neg(&self) -> Q {
        match &self.0 {
            Repr::Small(n, d) if *n != i128::MIN => Q(Repr::Small(-n, *d)),
            Repr::Small(n, d) => Q::big(-BigInt::from(*n), BigInt::from(*d)),
            Repr::Big(n, d) => Q(Repr::Big(-n, d.clone())),
        }
    }

    fn mul_q(&self, o: &Q) -> Q {
        // A factor of 1 (a whole billing cycle's share, a 100 % cap) leaves the other as it is.
        if matches!(o.0, Repr::Small(1, 1)) {
            return self.clone();
        }
        if matches!(self.0, Repr::Small(1, 1)) {
            return o.clone();
        }
        if let (Repr::Small(a, b), Repr::Small(c, d)) = (&self.0, &o.0) {
            if let Some(q) = (|| {
                // Cross-reduce first so the products stay small and the result reduced.
                let g1 = gcd(*a, *d).max(1);
                let g2 = gcd(*c, *b).max(1);
                let n = div_by(*a, g1).checked_mul(div_by(*c, g2))?;
                let den = div_by(*b, g2).checked_mul(div_by(*d, g1))?;
                (n != i128::MIN).then_some(Q(Repr::Small(n, den)))
            })() {
                return q;
            }
        }
        if self.is_zero() || o.is_zero() {
            return Q::zero();
        }
        let ((a, b), (c, d)) = (self.parts_ref(), o.parts_ref());
        Q::big(a.as_ref() * c.as_ref(), b.as_ref() * d.as_ref())
    }

    fn recip(&self) -> Q {
        match &self.0 {
            Repr::Small(0, _) => Q::zero(),
            Repr::Small(n, d) if *n > 0 => Q(Repr::Small(*d, *n)),
            Repr::Small(n, d) if *n != i128::MIN => Q(Repr::Small(-d, -n)),
            _ => {
                let (n, d) = self.parts();
                Q::big(d, n)
            }
        }
    }
}

/// An exact sum of many terms, added pairwise (a binary-counter tree): every addition joins two
/// partial sums of about the same number of terms, so the cost of n terms with unrelated
/// denominators is that of a few multiplications of the final size, not n of them.
#[derive(Clone, Debug, Default)]
pub struct QSum {
    /// Partial sums with their levels: the one at level k holds 2^k terms; levels decrease.
    stack: Vec<(u32, Q)>,
}

impl QSum {
    pub fn push(&mut self, term: Q) {
        if term.is_zero() {
            return;
        }
        let mut level = 0;
        let mut acc = term;
        while let Some((top, _)) = self.stack.last() {
            if *top != level {
                break;
            }
            if let Some((_, q)) = self.stack.pop() {
                acc = q.add_q(&acc);
            }
            level += 1;
        }
        self.stack.push((level, acc));
    }

    /// No term, or only zeros, was added.
    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }

    /// The sum, smallest partial sums first.
    pub fn total(&self) -> Q {
        let mut acc = Q::zero();
        for (_, q) in self.stack.iter().rev() {
            acc = acc.add_q(q);
        }
        acc
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
        let ((a, b), (c, d)) = (self.parts_ref(), o.parts_ref());
        (a.as_ref() * d.as_ref()).cmp(&(c.as_ref() * b.as_ref()))
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

    use num_rational::BigRational;

    fn big(n: i128, d: i128) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    fn to_big(q: &Q) -> BigRational {
        let (n, d) = q.parts();
        BigRational::new(n, d)
    }

    #[test]
    fn gcd_agrees_with_num_integer_on_both_sides_of_64_bits() {
        use num_integer::Integer;
        let edge = u64::MAX as i128;
        let values = [
            0,
            1,
            2,
            12,
            -18,
            2_678_400_000_000_000,
            edge - 1,
            edge,
            edge + 1,
            -(edge + 3),
            (edge + 1) * 6,
            i128::MAX,
            -i128::MAX,
        ];
        for a in values {
            for b in values {
                assert_eq!(gcd(a, b), a.gcd(&b), "gcd({a}, {b})");
            }
        }
    }

    #[test]
    fn div_rem_agrees_with_the_i128_operators() {
        let edge = [i64::MIN as i128, i64::MAX as i128];
        let values = [
            0,
            1,
            -1,
            5,
            -7,
            1_000_000_000,
            edge[0],
            edge[0] + 1,
            edge[1],
            edge[1] + 1,
            edge[0] - 1,
            i128::MAX,
            i128::MIN + 1,
        ];
        for a in values {
            for d in values.into_iter().filter(|d| *d != 0) {
                assert_eq!(div_rem(a, d), (a / d, a % d), "{a} / {d}");
            }
        }
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
                assert_eq!(to_big(&(&x + &y)), &bx + &by, "{a}/{b} + {c}/{d}");
                assert_eq!(to_big(&(&x - &y)), &bx - &by, "{a}/{b} - {c}/{d}");
                assert_eq!(to_big(&(&x * &y)), &bx * &by, "{a}/{b} * {c}/{d}");
                if c != 0 {
                    assert_eq!(to_big(&(&x / &y)), &bx / &by, "{a}/{b} / {c}/{d}");
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

    #[test]
    fn pairwise_sums_of_unrelated_denominators_are_exact() {
        // Σ 1/(k(k+1)) = 1 − 1/(n+1), whatever the order of the additions.
        let n = 3000i128;
        let mut sum = QSum::default();
        let mut plain = BigRational::zero();
        for k in 1..=n {
            sum.push(Q::ratio(1, k * (k + 1)));
            plain += big(1, k * (k + 1));
        }
        assert_eq!(to_big(&sum.total()), plain);
        assert_eq!(sum.total(), Q::ratio(n, n + 1));
        // Unrelated large denominators stay exact and compare exactly.
        let mut s2 = QSum::default();
        let mut p2 = BigRational::zero();
        for k in 0..400i128 {
            let d = 1_000_000_007 + 2 * k;
            s2.push(Q::ratio(3 * k + 1, d));
            p2 += big(3 * k + 1, d);
        }
        let t = s2.total();
        assert!(t.as_small().is_none());
        assert_eq!(to_big(&t), p2);
        assert_eq!(t.cmp(&(&t + Q::ratio(1, i128::MAX))), Ordering::Less);
        assert_eq!(to_big(&(&t * &t / &t - &t)), BigRational::zero());
    }
}
