//! The classifier's weights file: a 40-byte header (magic, version, feature config,
//! threshold, bias, window size, weight count, window penalty), `2^bits` weights as IEEE
//! half floats, and an FNV-1a-64 checksum of everything before it. All little-endian.
//! Parsing checks every field and the checksum, so corrupt or truncated bytes are an
//! error, never a panic or a silently wrong model. Version 1 files (`injection-v1.bin`)
//! are refused: version 2 hashes character n-grams differently and scales features with
//! another evidence floor, so their weights would score the wrong features.
//!
//! ```text
//! 0   8  magic "PALISINJ"        20  4  threshold (f32)
//! 8   2  version = 2             24  4  bias (f32)
//! 10  1  bits                    28  4  window tokens (u32)
//! 11  1  flags: 1 unigrams,      32  4  weight count (u32) = 2^bits
//!          2 bigrams, 4 punct    36  4  window penalty (f32, version 2 only)
//! 12  1  char n-gram min         40  2n weights (f16)
//! 13  1  char n-gram max         ..  8  checksum (u64, FNV-1a over everything before)
//! 14  1  encoding = 1 (f16)
//! 15  5  reserved, zero
//! ```

use super::features::FeatureConfig;

pub const MAGIC: &[u8; 8] = b"PALISINJ";
pub const VERSION: u16 = 2;
const ENCODING_F16: u8 = 1;
const HEADER_LEN: usize = 40;
const CHECKSUM_LEN: usize = 8;

/// Why a weights file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("model file is truncated ({0} bytes)")]
    Truncated(usize),
    #[error("not a Palisade injection model (bad magic)")]
    BadMagic,
    #[error("unsupported model version {0}")]
    UnsupportedVersion(u16),
    #[error("unsupported weight encoding {0}")]
    UnsupportedEncoding(u8),
    #[error("invalid model header: {0}")]
    BadHeader(&'static str),
    #[error("model length {actual} does not match its header ({expected} bytes)")]
    LengthMismatch { expected: usize, actual: usize },
    #[error("model checksum mismatch (file corrupt)")]
    Checksum,
    #[error("model contains a non-finite weight")]
    NonFinite,
}

/// A logistic-regression model over hashed features (version 2 features: see
/// [`super::features`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub features: FeatureConfig,
    /// Decision threshold on the probability, tuned on validation data.
    pub threshold: f32,
    pub bias: f32,
    /// Inputs longer than this many tokens are scored in windows of at most this many
    /// tokens (see [`super::classifier`]).
    pub window: u32,
    /// Subtracted from the best window's margin per natural-log unit of the number of
    /// windows scored, so that a long text is not flagged because one of its many
    /// windows scored high by chance.
    pub window_penalty: f32,
    /// `2^features.bits` weights.
    pub weights: Vec<f32>,
}

pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// f32 → IEEE 754 binary16, round to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xFF) as i32;
    let mant = bits & 0x7F_FFFF;
    if exp == 0xFF {
        return sign | 0x7C00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7C00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let mut r = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        if rem > halfway || (rem == halfway && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut h = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1FFF;
    if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// IEEE 754 binary16 → f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1F);
    let mant = u32::from(h & 0x3FF);
    if exp == 0 {
        let v = mant as f32 * (1.0 / 16_777_216.0);
        return if sign != 0 { -v } else { v };
    }
    if exp == 31 {
        return f32::from_bits(sign | 0x7F80_0000 | (mant << 13));
    }
    f32::from_bits(sign | ((exp + 112) << 23) | (mant << 13))
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

impl Model {
    /// Serialises the model; weights are rounded to half precision.
    pub fn to_bytes(&self) -> Vec<u8> {
        let f = &self.features;
        let mut out = Vec::with_capacity(HEADER_LEN + 2 * self.weights.len() + CHECKSUM_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(f.bits);
        out.push(
            u8::from(f.word_unigrams)
                | u8::from(f.word_bigrams) << 1
                | u8::from(f.punctuation) << 2,
        );
        out.push(f.char_min);
        out.push(f.char_max);
        out.push(ENCODING_F16);
        out.extend_from_slice(&[0u8; 5]);
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.window.to_le_bytes());
        let n = u32::try_from(self.weights.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&self.window_penalty.to_le_bytes());
        for &w in &self.weights {
            out.extend_from_slice(&f32_to_f16(w).to_le_bytes());
        }
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses and validates a weights file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(ModelError::Truncated(bytes.len()));
        }
        if &bytes[..8] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err(ModelError::UnsupportedVersion(version));
        }
        let window_penalty = f32::from_le_bytes([bytes[36], bytes[37], bytes[38], bytes[39]]);
        if !(window_penalty.is_finite() && (0.0..=16.0).contains(&window_penalty)) {
            return Err(ModelError::BadHeader("window penalty outside 0..=16"));
        }
        let (bits, flags, char_min, char_max, encoding) =
            (bytes[10], bytes[11], bytes[12], bytes[13], bytes[14]);
        if encoding != ENCODING_F16 {
            return Err(ModelError::UnsupportedEncoding(encoding));
        }
        if !(10..=24).contains(&bits) {
            return Err(ModelError::BadHeader("bits outside 10..=24"));
        }
        if flags > 7 || bytes[15..20].iter().any(|&b| b != 0) {
            return Err(ModelError::BadHeader("unknown flags"));
        }
        if char_max > 8
            || (char_min > 0 && (char_min > char_max))
            || (char_min == 0 && char_max != 0)
        {
            return Err(ModelError::BadHeader("bad character n-gram range"));
        }
        let threshold = f32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        let bias = f32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
        let window = le_u32(bytes, 28);
        let n = le_u32(bytes, 32) as usize;
        if !(threshold.is_finite() && (0.0..=1.0).contains(&threshold)) {
            return Err(ModelError::BadHeader("threshold outside 0..=1"));
        }
        if !bias.is_finite() {
            return Err(ModelError::NonFinite);
        }
        if !(4..=1 << 16).contains(&window) {
            return Err(ModelError::BadHeader("window outside 4..=65536 tokens"));
        }
        if n != 1usize << bits {
            return Err(ModelError::BadHeader("weight count is not 2^bits"));
        }
        let expected = HEADER_LEN + 2 * n + CHECKSUM_LEN;
        if bytes.len() != expected {
            return Err(if bytes.len() < expected {
                ModelError::Truncated(bytes.len())
            } else {
                ModelError::LengthMismatch {
                    expected,
                    actual: bytes.len(),
                }
            });
        }
        let body = &bytes[..expected - CHECKSUM_LEN];
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[expected - CHECKSUM_LEN..]);
        if fnv1a64(body) != u64::from_le_bytes(sum) {
            return Err(ModelError::Checksum);
        }
        let mut weights = Vec::with_capacity(n);
        for pair in bytes[HEADER_LEN..expected - CHECKSUM_LEN].chunks_exact(2) {
            let w = f16_to_f32(u16::from_le_bytes([pair[0], pair[1]]));
            if !w.is_finite() {
                return Err(ModelError::NonFinite);
            }
            weights.push(w);
        }
        Ok(Model {
            features: FeatureConfig {
                bits,
                word_unigrams: flags & 1 != 0,
                word_bigrams: flags & 2 != 0,
                punctuation: flags & 4 != 0,
                char_min,
                char_max,
            },
            threshold,
            bias,
            window,
            window_penalty,
            weights,
        })
    }
}
