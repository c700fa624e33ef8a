//! Check-digit algorithms over ASCII digit slices: Luhn, ISO 7064 MOD 11-10 and
//! MOD 11-2, Verhoeff, the Dutch 11-proof, ICAO 9303 7-3-1, and plain modulo of a long
//! decimal. All allocation-free; inputs are pre-validated ASCII.

/// Value of an ASCII digit.
pub(crate) fn dv(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0;
    for (i, &b) in digits.iter().rev().enumerate() {
        let mut d = dv(b);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// ISO 7064 MOD 11,10 (hybrid): the last digit checks the others.
pub(crate) fn iso7064_mod11_10(digits: &[u8]) -> bool {
    let Some((&check, body)) = digits.split_last() else {
        return false;
    };
    let mut product = 10;
    for &b in body {
        let mut sum = (dv(b) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let expected = (11 - product) % 10;
    dv(check) == expected
}

/// ISO 7064 MOD 11-2 with `X` for 10, as in Chinese resident ids (17 digits + check).
pub(crate) fn iso7064_mod11_2(body: &[u8], check: u8) -> bool {
    let mut sum = 0u32;
    for &b in body {
        sum = ((sum + dv(b)) * 2) % 11;
    }
    let c = (12 - sum % 11) % 11;
    match check {
        b'X' | b'x' => c == 10,
        b'0'..=b'9' => c == dv(check),
        _ => false,
    }
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 8, 5],
];

pub(crate) fn verhoeff(digits: &[u8]) -> bool {
    let mut c = 0usize;
    for (i, &b) in digits.iter().rev().enumerate() {
        let p = VERHOEFF_P[i % 8][(dv(b) as usize) % 10];
        c = VERHOEFF_D[c][p as usize] as usize;
    }
    !digits.is_empty() && c == 0
}

/// Dutch BSN 11-proof over 9 digits: Σ dᵢ·(9−i) for the first 8, minus the last.
pub(crate) fn elfproef(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, &b) in digits[..8].iter().enumerate() {
        sum += i64::from(dv(b)) * (9 - i as i64);
    }
    sum -= i64::from(dv(digits[8]));
    sum % 11 == 0 && digits.iter().any(|&b| b != b'0')
}

/// ICAO 9303 character value: digits, letters A=10…, `<` = 0.
fn mrz_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(dv(b)),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// ICAO 9303 check digit (weights 7, 3, 1) of `field` against `check`.
pub(crate) fn mrz_check(field: &[u8], check: u8) -> bool {
    let mut sum = 0;
    for (i, &b) in field.iter().enumerate() {
        let Some(v) = mrz_value(b) else {
            return false;
        };
        sum += v * [7, 3, 1][i % 3];
    }
    let check = if check == b'<' { b'0' } else { check };
    check.is_ascii_digit() && sum % 10 == dv(check)
}

/// Remainder of a decimal number given as ASCII digits.
pub(crate) fn mod_decimal(digits: &[u8], m: u64) -> u64 {
    digits
        .iter()
        .fold(0u64, |acc, &b| (acc * 10 + u64::from(dv(b))) % m)
}
