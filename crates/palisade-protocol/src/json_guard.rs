//! Guards run over a raw JSON body before it is parsed: a nesting-depth bound, so a
//! hostile body of ten thousand `[` cannot cost stack or time.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum JsonGuardError {
    #[error("JSON nesting deeper than {max} levels")]
    TooDeep { max: usize },
}

/// Checks that `body` nests objects/arrays at most `max_depth` deep. Brackets inside
/// strings (including escaped quotes) are ignored. Malformed JSON is left for the parser.
pub fn check_json_depth(body: &[u8], max_depth: usize) -> Result<(), JsonGuardError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(JsonGuardError::TooDeep { max: max_depth });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_shallow_and_ignores_brackets_in_strings() {
        assert!(check_json_depth(br#"{"a":[1,{"b":"[[[[[[\"]]]"}]}"#, 3).is_ok());
    }

    #[test]
    fn rejects_deep_nesting() {
        let body = "[".repeat(65) + &"]".repeat(65);
        assert_eq!(
            check_json_depth(body.as_bytes(), 64),
            Err(JsonGuardError::TooDeep { max: 64 })
        );
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(check_json_depth(ok.as_bytes(), 64).is_ok());
    }
}
