//! Splitting an exact amount by weights so the parts add back exactly
//! (largest remainder, deterministic).

use datafusion::arrow::datatypes::i256;

/// Splits `amount` (integer units of the money scale) in proportion to
/// `weights` (non-negative, not all zero). Each part gets
/// `floor(|amount| * w / W)`; the units left over go one each to the parts with
/// the largest remainders, ties to the earlier index. A negative amount is
/// split as its absolute value and negated, so a refund splits like its charge.
///
/// Products are taken in 256 bits: a 38-digit amount times a 38-digit weight
/// does not fit in 128.
pub fn split(amount: i128, weights: &[i128]) -> Vec<i128> {
    assert!(weights.iter().all(|w| *w >= 0), "weights are non-negative");
    let total: i128 = weights.iter().sum();
    assert!(total > 0, "at least one weight is positive");
    let magnitude = i256::from_i128(amount.unsigned_abs() as i128);
    let total_wide = i256::from_i128(total);
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given = 0i128;
    for (index, weight) in weights.iter().enumerate() {
        let product = magnitude.checked_mul(i256::from_i128(*weight)).expect("fits in 256 bits");
        let quotient = product.checked_div(total_wide).expect("total is positive");
        let remainder = product.checked_rem(total_wide).expect("total is positive");
        let part = quotient.to_i128().expect("a part is at most the amount");
        given += part;
        parts.push(part);
        remainders.push((remainder, index));
    }
    let left = amount.unsigned_abs() as i128 - given;
    // Largest remainder first; equal remainders keep index order.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.iter().take(left as usize) {
        parts[*index] += 1;
    }
    if amount < 0 {
        parts.iter_mut().for_each(|p| *p = -*p);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn thirds_give_the_extra_unit_to_the_first() {
        assert_eq!(split(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(split(-100, &[1, 1, 1]), vec![-34, -33, -33]);
    }

    #[test]
    fn largest_remainder_wins_the_unit() {
        // 10 * 3/7 = 4.29, 10 * 4/7 = 5.71: floors 4 + 5, the unit goes to the .71.
        assert_eq!(split(10, &[3, 4]), vec![4, 6]);
    }

    #[test]
    fn zero_weights_get_nothing() {
        assert_eq!(split(7, &[0, 2, 0, 5]), vec![0, 2, 0, 5]);
    }

    #[test]
    fn huge_amounts_and_weights_do_not_overflow() {
        let amount = 10i128.pow(37);
        let parts = split(amount, &[10i128.pow(36), 10i128.pow(36) * 2]);
        assert_eq!(parts.iter().sum::<i128>(), amount);
        assert_eq!(parts[0], 3333333333333333333333333333333333333);
    }

    proptest! {
        #[test]
        fn parts_add_back_and_stay_near_their_quota(
            amount in -10i128.pow(25)..10i128.pow(25),
            weights in proptest::collection::vec(0i128..1_000_000_000, 1..40),
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let parts = split(amount, &weights);
            prop_assert_eq!(parts.iter().sum::<i128>(), amount);
            let total: i128 = weights.iter().sum();
            for (part, weight) in parts.iter().zip(&weights) {
                // Less than one unit from the exact quota |amount| * w / W, same sign as the amount.
                let error = part.abs() * total - amount.abs() * weight;
                prop_assert!(error.abs() < total, "part {} weight {}", part, weight);
                prop_assert!(*part == 0 || part.signum() == amount.signum());
            }
        }
    }
}
