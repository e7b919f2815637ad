//! Deterministic identifiers and small random helpers.
//!
//! Resource ids, line item ids and ARNs are derived from counters through
//! bijective mixers, so they look random but can never collide.

use rand_core::RngCore;

/// SplitMix64 finaliser: a bijection on `u64` (xor-shifts and odd multipliers
/// are invertible), so distinct inputs always give distinct outputs.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A 32-bit bijective mixer (lowbias32), for short unique name suffixes.
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^ (x >> 16)
}

/// Stable hash of text (FNV-1a, then mixed), independent of the seed.
pub fn hash_text(text: &str) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
    }
    mix64(hash)
}

/// Appends the low `digits` hex digits of `value` (lowercase, zero padded).
pub fn push_hex(out: &mut String, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..digits).rev() {
        out.push(HEX[((value >> (shift * 4)) & 0xF) as usize] as char);
    }
}

/// A 16-character AWS-style product SKU (`2ZP4J8GPBP6QFK3Y`) for a price.
pub fn sku(key: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKMNPQRSTUVWXYZ234567890";
    let (a, b) = (hash_text(key), mix64(hash_text(key) ^ 0x5EED));
    let bits = (u128::from(a) << 64) | u128::from(b);
    (0..16).map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect()
}

/// A UUID-shaped identifier (`8-4-4-4-12` hex) derived from `key`.
pub fn uuid(key: u64) -> String {
    let (hi, lo) = (mix64(key), mix64(!key));
    let mut out = String::with_capacity(36);
    push_hex(&mut out, hi >> 32, 8);
    out.push('-');
    push_hex(&mut out, hi >> 16, 4);
    out.push('-');
    push_hex(&mut out, hi, 4);
    out.push('-');
    push_hex(&mut out, lo >> 48, 4);
    out.push('-');
    push_hex(&mut out, lo, 12);
    out
}

/// A uniform draw from `low..=high` (tiny modulo bias is irrelevant here).
pub fn between(rng: &mut impl RngCore, low: i64, high: i64) -> i64 {
    debug_assert!(low <= high);
    let span = (high - low) as u64 + 1;
    low + ((u128::from(rng.next_u64()) * u128::from(span)) >> 64) as i64
}

/// True with probability `basis_points / 10_000`.
pub fn chance(rng: &mut impl RngCore, basis_points: i64) -> bool {
    between(rng, 0, 9_999) < basis_points
}

/// Index drawn with probability proportional to `weights`.
pub fn weighted_index(rng: &mut impl RngCore, weights: impl Iterator<Item = u32> + Clone) -> usize {
    let total: i64 = weights.clone().map(i64::from).sum();
    let mut ticket = between(rng, 0, total - 1);
    for (index, weight) in weights.enumerate() {
        ticket -= i64::from(weight);
        if ticket < 0 {
            return index;
        }
    }
    unreachable!("ticket drawn below the total weight")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_well_formed() {
        let sku = sku("USE1-BoxUsage:m5.xlarge/RunInstances");
        assert_eq!(sku.len(), 16);
        assert!(sku.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        let uuid = uuid(7);
        assert_eq!(uuid.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        let mut hex = String::new();
        push_hex(&mut hex, 0xABC, 5);
        assert_eq!(hex, "00abc");
    }

    #[test]
    fn mixers_do_not_collide_on_counters() {
        let mut short = std::collections::HashSet::new();
        assert!((0..100_000u32).all(|i| short.insert(mix32(i))));
        let mut long = std::collections::HashSet::new();
        assert!((0..100_000u64).all(|i| long.insert(mix64(i))));
    }
}
