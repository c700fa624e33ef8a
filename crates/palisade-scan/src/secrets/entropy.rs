//! Shannon entropy of a candidate secret, as gitleaks computes it: symbols are the
//! `char`s of the string, frequencies are divided by its length in bytes. A rule's
//! `entropy` is a floor: a secret whose entropy is `<=` the floor is not reported.
//!
//! Allocation-free: ASCII is counted in a fixed table; the rare non-ASCII secret falls
//! back to a small scan over its distinct characters.

/// Bits per symbol of `s` (0 for the empty string).
pub fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let inv_len = 1.0 / s.len() as f64;
    let term = |count: usize| {
        let p = count as f64 * inv_len;
        -p * p.log2()
    };
    if s.is_ascii() {
        let mut counts = [0usize; 128];
        for b in s.bytes() {
            counts[usize::from(b & 0x7f)] += 1;
        }
        return counts.iter().filter(|&&c| c > 0).map(|&c| term(c)).sum();
    }
    // Non-ASCII: count each distinct char once, at its first occurrence.
    let mut total = 0.0;
    for (i, c) in s.char_indices() {
        if s[..i].contains(c) {
            continue;
        }
        total += term(s[i..].chars().filter(|&d| d == c).count());
    }
    total
}

#[cfg(test)]
mod tests {
    use super::shannon_entropy;

    #[test]
    fn known_values() {
        assert_eq!(shannon_entropy(""), 0.0);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("ab") - 1.0).abs() < 1e-9);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        // 16 distinct hex digits, once each: 4 bits.
        assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn non_ascii_divides_by_bytes_like_gitleaks() {
        // Two distinct chars of 2 bytes each: freq = 1/4 each, entropy 2 * 0.25 * 2 = 1.0.
        assert!((shannon_entropy("éü") - 1.0).abs() < 1e-9);
    }
}
