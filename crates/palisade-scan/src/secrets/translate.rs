//! Go RE2 → Rust `regex` pattern translation. The two dialects are nearly the same; the
//! differences that matter for gitleaks rules are rewritten here:
//!
//! | Go (RE2)                          | Rust `regex`                          | rewrite |
//! |-----------------------------------|---------------------------------------|---------|
//! | `\w \d \s \W \D \S` are ASCII     | Unicode by default                    | ASCII classes (`[[:word:]]`, `[0-9]`, `[\t\n\x0C\r ]`…) |
//! | `\b \B` are ASCII                 | Unicode (and slow on non-ASCII text)  | `(?-u:\b)`, `(?-u:\B)` |
//! | `{` not starting `{n}`/`{n,}`/`{n,m}` is a literal | a syntax error        | `\{` |
//! | `[` inside a class is a literal   | starts a nested class                 | `\[` |
//! | `&&`, `--`, `~~` inside a class are literals | class set operations      | escaped |
//! | `\Q…\E` quotes a literal run      | not supported                         | each char escaped |
//!
//! Anything else is passed through; what still fails is reported by the caller.

/// ASCII `\s` as Go defines it: `[\t\n\f\r ]`.
const GO_SPACE: &str = r"\t\n\x0C\r ";

/// Translates one Go regex to the Rust dialect.
pub fn go_to_rust(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    // Nesting depth of character classes (only POSIX `[:name:]` nests in Go).
    let mut in_class = false;
    // True right after the opening `[` / `[^` of a class, where `]` is a literal.
    let mut class_start = false;
    while i < chars.len() {
        let c = chars[i];
        let at_class_start = class_start;
        class_start = false;
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            i += 2;
            if n == 'Q' {
                // Quote up to `\E` (or the end).
                while i < chars.len() {
                    if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                        i += 2;
                        break;
                    }
                    push_escaped(&mut out, chars[i]);
                    i += 1;
                }
                continue;
            }
            out.push_str(&perl_class(n, in_class).unwrap_or_else(|| format!("\\{n}")));
            if matches!(n, 'p' | 'P' | 'x') && chars.get(i) == Some(&'{') {
                // `\p{Greek}`, `\x{41}`: the braces belong to the escape.
                while i < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                    if chars[i - 1] == '}' {
                        break;
                    }
                }
            }
            continue;
        }
        if in_class {
            match c {
                ']' if !at_class_start => {
                    in_class = false;
                    out.push(']');
                }
                '[' => {
                    if chars.get(i + 1) == Some(&':') {
                        // POSIX class `[:alpha:]`: copy through the closing `:]`.
                        let rest: String = chars[i..].iter().collect();
                        if let Some(end) = rest.find(":]") {
                            out.push_str(&rest[..end + 2]);
                            i += rest[..end + 2].chars().count();
                            continue;
                        }
                    }
                    out.push_str("\\[");
                }
                '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str("\\-"),
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = true;
                // A `]` right after `[` or `[^` is a literal in both dialects.
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                    class_start = false;
                }
            }
            '{' if !is_repetition(&chars[i..]) => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            _ => out.push(c),
        }
        if c == '{' && is_repetition(&chars[i..]) {
            // Copy the whole `{n,m}` so its `}` is not escaped.
            while i + 1 < chars.len() && chars[i] != '}' {
                i += 1;
                out.push(chars[i]);
            }
        }
        i += 1;
    }
    out
}

/// The Rust form of a Go Perl class or ASCII assertion escape, if `n` is one.
fn perl_class(n: char, in_class: bool) -> Option<String> {
    let inner = match n {
        'w' => "[:word:]",
        'W' => "[:^word:]",
        'd' => "0-9",
        'D' => "[:^digit:]",
        's' => GO_SPACE,
        'S' => "[:^space:]",
        'b' if !in_class => return Some("(?-u:\\b)".to_string()),
        'B' if !in_class => return Some("(?-u:\\B)".to_string()),
        _ => return None,
    };
    Some(if in_class {
        inner.to_string()
    } else {
        format!("[{inner}]")
    })
}

/// Whether `s` (starting at `{`) is a valid `{n}`, `{n,}` or `{n,m}` repetition.
fn is_repetition(s: &[char]) -> bool {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if s.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    s.get(i) == Some(&'}')
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c == ' ' || c == '#' {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::go_to_rust;

    #[test]
    fn perl_classes_become_ascii() {
        assert_eq!(go_to_rust(r"\w+"), "[[:word:]]+");
        assert_eq!(go_to_rust(r"[\w.-]"), "[[:word:].-]");
        assert_eq!(go_to_rust(r"\d{3}"), "[0-9]{3}");
        assert_eq!(go_to_rust(r"\bx\b"), r"(?-u:\b)x(?-u:\b)");
    }

    #[test]
    fn literal_braces_and_brackets() {
        assert_eq!(go_to_rust(r"^\${(?:[A-Z_]+)}$"), r"^\$\{(?:[A-Z_]+)\}$");
        assert_eq!(go_to_rust(r"a{2,5}"), "a{2,5}");
        assert_eq!(go_to_rust(r"[a[b]"), r"[a\[b]");
        assert_eq!(go_to_rust(r"[[:alnum:]]"), "[[:alnum:]]");
        assert_eq!(go_to_rust(r"[]a]"), r"[\]a]");
        assert_eq!(go_to_rust(r"[a&&b]"), r"[a\&\&b]");
    }

    #[test]
    fn quoted_runs_and_braced_escapes() {
        assert_eq!(go_to_rust(r"\Qa.b\E+"), r"a\.b+");
        assert_eq!(go_to_rust(r"\p{L}\x{41}"), r"\p{L}\x{41}");
    }

    #[test]
    fn translated_patterns_compile() {
        for p in [
            r"(?i)[\w.-]{0,50}?(?:adobe)(?:[ \t\w.-]{0,20})[\s'\x22]{0,3}",
            r"^\{\{[ \t]*[\w ().|]+[ \t]*}}$",
            r"\b(pat[[:alnum:]]{14}\.[a-f0-9]{64})\b",
        ] {
            assert!(regex::Regex::new(&go_to_rust(p)).is_ok(), "{p}");
        }
    }
}
