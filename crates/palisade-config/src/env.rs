//! `${NAME}` expansion for secrets kept out of the config file. `$${` escapes a literal
//! `${`. A reference to an unset variable is an error naming the variable.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvError {
    #[error("environment variable `{0}` is not set")]
    Unset(String),
    #[error("unterminated `${{` reference")]
    Unterminated,
}

/// Expands `${NAME}` references in `input` with `lookup`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(EnvError::Unterminated)?;
            let name = &body[..end];
            let value = lookup(name).ok_or_else(|| EnvError::Unset(name.to_owned()))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_escapes() {
        let look = |n: &str| (n == "K").then(|| "v".to_owned());
        assert_eq!(expand("a${K}b$${K}c$d", look).unwrap(), "avb${K}c$d");
        assert_eq!(expand("${NOPE}", look), Err(EnvError::Unset("NOPE".into())));
        assert_eq!(expand("${K", look), Err(EnvError::Unterminated));
    }
}
