//! `${NAME}` expansion for secrets kept out of the config file. `$${` escapes a literal
//! `${`. A reference to an unset variable is an error naming the variable. Only a
//! variable's name (`[A-Za-z_][A-Za-z0-9_]*`) between the braces makes a reference:
//! other `${…}` text (a banned term like `${jndi:`) stays as written.

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
            let name_len = body
                .char_indices()
                .find(|&(i, c)| {
                    !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
                })
                .map_or(body.len(), |(i, _)| i);
            match body[name_len..].chars().next() {
                Some('}') if name_len > 0 => {
                    let name = &body[..name_len];
                    let value = lookup(name).ok_or_else(|| EnvError::Unset(name.to_owned()))?;
                    out.push_str(&value);
                    rest = &body[name_len + 1..];
                }
                // `${NAME` and nothing after: a reference missing its brace.
                None if name_len > 0 => return Err(EnvError::Unterminated),
                _ => {
                    out.push_str("${");
                    rest = body;
                }
            }
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
        // Not a variable name between the braces: left as written.
        for literal in [
            "${jndi:ldap://x}",
            "${jndi:",
            "${}",
            "${ K}",
            "${9A}",
            "a ${K b",
        ] {
            assert_eq!(expand(literal, look).as_deref(), Ok(literal), "{literal}");
        }
        assert_eq!(
            expand("${K}${_K2}", |n: &str| Some(n.to_owned())).unwrap(),
            "K_K2"
        );
    }
}
