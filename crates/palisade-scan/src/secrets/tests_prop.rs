//! Property tests: any text is scanned without panicking and spans fall on char
//! boundaries; a token inserted at a random position in random benign text is found with
//! its exact span.

use proptest::prelude::*;

use super::*;

fn shared() -> &'static SecretRules {
    static RULES: std::sync::OnceLock<SecretRules> = std::sync::OnceLock::new();
    RULES.get_or_init(SecretRules::builtin)
}

/// Benign words, some of them keywords of rules (key, token, password, api, secret).
const WORDS: &[&str] = &[
    "the", "key", "to", "a", "token", "of", "trust", "is", "password", "policy", "api", "secret",
    "garden", "café", "naïve", "日本", "access", "auth", "\n", "=", ":", "—",
];

fn benign() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..60).prop_map(|w| w.join(" "))
}

/// Made-up tokens with their expected rule.
const TOKENS: &[(&str, &str)] = &[
    ("gitleaks:aws-access-token", "AKIAZ7Q3LMN4RT2VWXY5"),
    (
        "gitleaks:github-pat",
        "ghp_R7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iO",
    ),
    (
        "gitleaks:stripe-access-token",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dcQ9",
    ),
    (
        "gitleaks:gcp-api-key",
        "AIzaSyB7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE",
    ),
];

/// `rules` with every regex searched in its whole keyword windows (no `MatchStarts`
/// gate), or, without `windows`, over the whole text (gitleaks' own way: no byte budgets
/// or continuation checks either).
fn plain(mut rules: SecretRules, windows: bool) -> SecretRules {
    for r in &mut rules.rules {
        r.starts = None;
        if !windows {
            r.window = None;
        }
    }
    rules
}

fn ungated() -> &'static SecretRules {
    static RULES: std::sync::OnceLock<SecretRules> = std::sync::OnceLock::new();
    RULES.get_or_init(|| plain(SecretRules::builtin(), true))
}

/// Keywords in other cases, near-misses and real starts of literal-prefixed rules.
const GATED: &[&str] = &[
    "risks",
    "asks",
    "SK",
    "sk",
    "Sk",
    "s.",
    "hvs.",
    "projects.",
    "ghp_",
    "GHP_",
    "xoxb-",
    "glpat-",
    "AKIA",
    "akia",
    "0123456789abcdef",
    "ABCDEFGHIJKLMNOPQRSTUVWX",
    "deadBEEF",
    "=",
    "\n",
    "'",
];

fn unwindowed() -> &'static SecretRules {
    static RULES: std::sync::OnceLock<SecretRules> = std::sync::OnceLock::new();
    RULES.get_or_init(|| plain(SecretRules::builtin(), false))
}

/// Keywords, assignment shapes, the bytes byte budgets count (spaces, commas,
/// brackets), token-like values and prose, glued in any order.
const PIECES: &[&str] = &[
    "key",
    "api_key",
    "API",
    "token",
    "secret",
    "password",
    "passwd",
    "access",
    "auth",
    "twitch",
    "ey",
    "s.",
    "sk",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "=",
    " = ",
    ":",
    ": ",
    "=>",
    ":=",
    "||",
    "?=",
    ",",
    "'",
    "\"",
    "`",
    ";",
    "(",
    ")",
    "!",
    " ",
    "  ",
    "\t",
    "\n",
    "\\n",
    ".",
    "-",
    "_",
    "/",
    "+",
    "the",
    "keyboard",
    "café",
    "日本",
    "Kelvin \u{212A}ey",
    "API_KEY=",
    "token: ",
    "secret = '",
    "auth_token => \"",
    "access-key:",
    "password := ",
    "client_secret\t=\t",
    "TWITCH_TOKEN = ",
    "jwt: ey",
];

fn budget_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(PIECES).prop_map(str::to_owned),
            1 => "[A-Za-z0-9+/=_.-]{1,70}",
            2 => "[A-Za-z0-9]{8,40}[ '\"\n;]",
            1 => "[a-z0-9+/]{12,60}={0,2}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// Rule shapes no built-in rule has, each once a way for windows to differ from a
/// whole-text search: a keyword part before the one the continuation follows, an
/// assertion reading the character after a window's budget, keywords inside keywords,
/// dense keywords with nothing bounding what follows them.
const ODD_RULES: &str = r#"
[[rules]]
id = "keyword-part-before-continuation"
regex = '''(?i)token[\w.-]{0,20}(key)\s*=\s*(\w+)'''
keywords = ["token", "key"]

[[rules]]
id = "keyword-twice"
regex = '''apikey\s+(key)=(\w+)'''
keywords = ["key"]

[[rules]]
id = "assertion-after-budget"
regex = '''key\s*=\s*([a-z0-9+/]{8,}={0,2})\b'''
keywords = ["key"]

[[rules]]
id = "keyword-in-keyword"
regex = '''(?:xkeyx|key)[a-z]{0,3}=(\w{4,})'''
keywords = ["key", "xkeyx"]

[[rules]]
id = "dense-keywords"
regex = '''ey[a-z0-9_-]{4,}\.ey[a-z0-9_-]{4,}\b'''
keywords = ["ey"]
"#;

fn odd_rules(windowed: bool) -> &'static SecretRules {
    static RULES: std::sync::OnceLock<[SecretRules; 2]> = std::sync::OnceLock::new();
    let [with, without] = RULES.get_or_init(|| {
        let rules = SecretRules::from_toml(ODD_RULES).unwrap_or_else(|e| panic!("{e}"));
        let whole = plain(rules.clone(), false);
        [rules, whole]
    });
    if windowed { with } else { without }
}

#[test]
fn odd_rules_find_what_a_whole_text_search_finds() {
    for (text, detector, secret) in [
        // The first group is the secret.
        (
            "token_api_key=abcdef1234",
            "keyword-part-before-continuation",
            "key",
        ),
        ("apikey  key=abc", "keyword-twice", "key"),
        ("key=abcdefgh==_", "assertion-after-budget", "abcdefgh=="),
        ("xkeyx=abcd", "keyword-in-keyword", "abcd"),
    ] {
        for windowed in [true, false] {
            let mut out = Vec::new();
            odd_rules(windowed).detect(text, &mut out);
            let found: Vec<(&str, &str)> = out
                .iter()
                .map(|f| (f.detector.as_ref(), &text[f.span()]))
                .collect();
            assert!(
                found.contains(&(format!("gitleaks:{detector}").as_str(), secret)),
                "{text:?} (windowed: {windowed}): {found:?}"
            );
        }
    }
}

fn odd_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(
        &[
            "token",
            "TOKEN",
            "_api_",
            "key",
            "KEY",
            "apikey",
            "xkeyx",
            "x",
            "ey",
            "eyJ",
            "=",
            "==",
            "_",
            " ",
            "  ",
            "\n",
            ".",
            "-",
            "abcdefgh",
            "a1b2",
            "é",
            "\u{212A}ey",
            "(",
        ][..],
    );
    prop::collection::vec(pieces, 0..30).prop_map(|p| p.concat())
}

fn gated_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(GATED),
            prop::sample::select(&["", " ", "\n"][..]),
        ),
        0..40,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, sep)| format!("{w}{sep}"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn match_start_gate_changes_no_finding(text in gated_text()) {
        let (mut gated, mut all) = (Vec::new(), Vec::new());
        shared().detect(&text, &mut gated);
        ungated().detect(&text, &mut all);
        prop_assert_eq!(gated, all);
    }

    #[test]
    fn keyword_windows_change_no_finding(text in budget_text()) {
        let (mut windowed, mut whole) = (Vec::new(), Vec::new());
        shared().detect(&text, &mut windowed);
        unwindowed().detect(&text, &mut whole);
        prop_assert_eq!(windowed, whole);
    }

    #[test]
    fn keyword_windows_of_odd_rules_change_no_finding(text in odd_text()) {
        let (mut windowed, mut whole) = (Vec::new(), Vec::new());
        odd_rules(true).detect(&text, &mut windowed);
        odd_rules(false).detect(&text, &mut whole);
        prop_assert_eq!(windowed, whole);
    }

    #[test]
    fn never_panics_and_spans_are_char_boundaries(text in any::<String>()) {
        let mut out = Vec::new();
        shared().detect(&text, &mut out);
        for f in &out {
            prop_assert!(f.start < f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }

    #[test]
    fn inserted_token_is_found_exactly(
        text in benign(),
        at in any::<prop::sample::Index>(),
        which in 0..TOKENS.len(),
    ) {
        let (detector, token) = TOKENS[which];
        // Insert at a word boundary (a space), as a token is pasted between words.
        let cuts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices(' ').map(|(i, _)| i + 1))
            .collect();
        let pos = cuts[at.index(cuts.len())];
        let full = format!("{}{} {}", &text[..pos], token, &text[pos..]);
        let mut out = Vec::new();
        shared().detect(&full, &mut out);
        let start = pos;
        prop_assert!(
            out.iter().any(|f| f.detector == detector && f.span() == (start..start + token.len())),
            "{:?} in {:?}: {:?}", token, full, out
        );
    }
}
