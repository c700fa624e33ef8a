//! Loader and gitleaks-semantics tests: builtin accounting, entropy floor, secretGroup
//! span, allowlists (regex / stopwords / regexTarget / AND-OR), keywords, path rules,
//! failures reported rather than dropped, and `extend`.

use super::*;

fn rules(toml: &str) -> SecretRules {
    match SecretRules::from_toml(toml) {
        Ok(r) => r,
        Err(e) => panic!("rule file does not load: {e}"),
    }
}

fn spans(r: &SecretRules, text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    r.detect(text, &mut out);
    out.iter()
        .map(|f| (f.detector.to_string(), text[f.span()].to_string()))
        .collect()
}

#[test]
fn builtin_compiles_fully_except_path_only() {
    let r = SecretRules::builtin();
    let rep = r.report();
    assert!(rep.failed.is_empty(), "{rep}");
    assert_eq!(rep.path_only, vec!["gitleaks:pkcs12-file".to_string()]);
    assert_eq!(rep.loaded, 221 + 15, "{rep}");
    assert_eq!(r.len(), rep.loaded);
    assert_eq!(r.unfiltered_rules(), 0);
    assert!(r.windowed_rules() > 50);
    assert_eq!(r.name(), "secrets");
}

#[test]
fn unbounded_rules_get_windows_bounded_by_their_byte_budgets() {
    let r = SecretRules::builtin();
    let generic = r
        .rules
        .iter()
        .find(|x| x.id == "generic-api-key")
        .expect("generic-api-key");
    let window = generic
        .window
        .as_ref()
        .expect("generic-api-key is windowed");
    let prose = "Our keyboard layout team (the one in Oslo) met today, and the new split \
                 design, the wrist rest and the key caps, ReviewedAndApproved2024 by everyone \
                 there (after a long and careful review of the prototypes that we had printed).";
    let at = prose.find("key caps").expect("keyword");
    let (ws, we) = window.windows(prose, [(at, at + 3)].into_iter())[0];
    // No space before the keyword; after it at most 29 spaces, one comma and no `(`
    // (the window takes that one character more, for an assertion at a match's end).
    assert_eq!(ws, at, "{:?}", &prose[ws..at]);
    assert_eq!(&prose[we - 1..we + 5], "(after", "{:?}", &prose[at..we]);
    // An occurrence the rule's continuation (`\s*=…`) does not follow opens no window.
    let board = prose.find("keyboard").expect("keyword");
    assert!(
        window
            .windows(prose, [(board, board + 3)].into_iter())
            .is_empty()
    );
    let assignment = "export API_KEY='kq9X2mLw7ZpR4tVb8NcJ'";
    let key = assignment.find("KEY").expect("keyword");
    let (ws, we) = window.windows(assignment, [(key, key + 3)].into_iter())[0];
    assert_eq!(&assignment[ws..we], "API_KEY='kq9X2mLw7ZpR4tVb8NcJ'");
    let mut out = Vec::new();
    r.detect(assignment, &mut out);
    assert!(
        out.iter().any(|f| f.detector == "gitleaks:generic-api-key"),
        "{out:?}"
    );
    assert!(r.rules.iter().any(|x| x.id == "jwt" && x.window.is_some()));
}

#[test]
fn case_sensitive_starts_gate_keyword_windows() {
    let r = SecretRules::builtin();
    let rule = |id: &str| r.rules.iter().find(|x| x.id == id).expect(id);
    // Twilio: keyword `sk` (any case), every match starts with `SK`.
    let twilio = rule("twilio-api-key");
    let starts = twilio.starts.as_ref().expect("twilio has a literal start");
    assert!(!starts.occur_in(b"the risks and tasks she asks about"));
    assert!(starts.occur_in(b"key SK0123456789abcdef0123456789abcdef"));
    let mut out = Vec::new();
    r.detect("the risks: SK0123456789abcdef0123456789abcdef", &mut out);
    assert!(
        out.iter().any(|f| f.detector == "gitleaks:twilio-api-key"),
        "{out:?}"
    );
    // Vault: keyword and start `s.`, which ends sentences; a match goes on with a letter
    // or digit, so a sentence's end is no start (nor a Twilio key without its hex).
    let vault = rule("vault-service-token");
    let starts = vault.starts.as_ref().expect("vault has a literal start");
    assert!(!starts.occur_in(b"for the other teams. Please add goals.\nThanks"));
    assert!(starts.occur_in(b"token s.AbCdEfGhIjKlMnOpQrStUvWx here"));
    assert!(
        starts.occur_in(b"token hvs."),
        "a start cut by the window's end counts"
    );
    assert!(!twilio.starts.as_ref().unwrap().occur_in(b"ASK SKY SKIING"));
    let mut out = Vec::new();
    r.detect("Goals. token s.Zq4Lm9XkP2vR7tW1yB8nC3dF end", &mut out);
    assert!(
        out.iter()
            .any(|f| f.detector == "gitleaks:vault-service-token"),
        "{out:?}"
    );
    // A start literal overlapping itself: the match starts at its second occurrence.
    let custom = SecretRules::from_toml(
        "[[rules]]\nid = \"xx-token\"\nregex = '''xx[0-9a-f]{32}'''\nkeywords = [\"xx\"]\n",
    )
    .unwrap();
    let mut out = Vec::new();
    custom.detect("id xxx0123456789abcdef0123456789abcdef here", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    // A rule whose matches may start with anything has no gate.
    assert!(rule("generic-api-key").starts.is_none());
    assert!(r.rules.iter().filter(|x| x.starts.is_some()).count() > 10);
}

const ENTROPY: &str = r#"
title = "t"
[[rules]]
id = "tok"
regex = '''tok_[a-z0-9]{12}'''
entropy = 3.0
keywords = ["tok_"]
"#;

#[test]
fn entropy_floor_rejects_low_entropy() {
    let r = rules(ENTROPY);
    assert!(spans(&r, "x tok_aaaaaaaaaaaa y").is_empty());
    assert_eq!(
        spans(&r, "x tok_a8f3k2m9q7z1 y"),
        vec![("gitleaks:tok".into(), "tok_a8f3k2m9q7z1".into())]
    );
}

#[test]
fn keywords_select_rules_case_insensitively() {
    let r = rules(
        r#"
[[rules]]
id = "k"
regex = '''\b(zz[0-9]{6})\b'''
keywords = ["Widget"]
"#,
    );
    assert!(
        spans(&r, "code zz123456 here").is_empty(),
        "no keyword, no scan"
    );
    assert_eq!(spans(&r, "WIDGET code zz123456 here").len(), 1);
}

#[test]
fn secret_group_and_first_group() {
    let r = rules(
        r#"
[[rules]]
id = "two"
regex = '''(user|svc)=([A-Za-z0-9]{10})'''
secretGroup = 2
keywords = ["user", "svc"]
[[rules]]
id = "first"
regex = '''key:(?:(a[0-9]{8})|(b[0-9]{8}))'''
keywords = ["key:"]
"#,
    );
    assert_eq!(
        spans(&r, "login user=Xy7Pq2Lm9Z now"),
        vec![("gitleaks:two".into(), "Xy7Pq2Lm9Z".into())]
    );
    assert_eq!(
        spans(&r, "key:b12345678"),
        vec![("gitleaks:first".into(), "b12345678".into())]
    );
}

const ALLOW: &str = r#"
[allowlist]
regexes = ['''^GLOB''']
[[rules]]
id = "a"
regex = '''sec_([A-Za-z0-9]{10})'''
keywords = ["sec_"]
[[rules.allowlists]]
regexes = ['''^EXAMPLE''']
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''^sec_TEST''']
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''fixture''']
[[rules.allowlists]]
stopwords = ["dummy"]
[[rules.allowlists]]
condition = "AND"
regexes = ['''Q$''']
stopwords = ["zz"]
"#;

#[test]
fn allowlists_regex_target_stopwords_and_condition() {
    let r = rules(ALLOW);
    let found = |t: &str| spans(&r, t).len();
    assert_eq!(found("x sec_Ab3De6Gh9K y"), 1);
    assert_eq!(found("x sec_EXAMPLE123 y"), 0, "regex on secret");
    assert_eq!(found("x sec_TESTab12cd y"), 0, "regexTarget = match");
    assert_eq!(found("fixture: sec_Ab3De6Gh9K"), 0, "regexTarget = line");
    assert_eq!(found("fixture\nsec_Ab3De6Gh9K"), 1, "another line");
    assert_eq!(found("x sec_abDUMMYx12 y"), 0, "stopword, case-insensitive");
    assert_eq!(found("x sec_GLOBxx12ab y"), 0, "global allowlist");
    assert_eq!(found("x sec_ab12zz789Q y"), 0, "AND: both hold");
    assert_eq!(found("x sec_ab12zz789R y"), 1, "AND: stopword only");
    assert_eq!(found("x sec_ab12yy789Q y"), 1, "AND: regex only");
}

#[test]
fn older_rule_allowlist_form_and_and_with_paths() {
    let r = rules(
        r#"
[[rules]]
id = "old"
regex = '''k_[a-z0-9]{8}'''
keywords = ["k_"]
[rules.allowlist]
regexes = ['''k_00''']
[[rules]]
id = "paths"
regex = '''p_[a-z0-9]{8}'''
keywords = ["p_"]
[[rules.allowlists]]
condition = "AND"
paths = ['''\.md$''']
regexes = ['''.''']
"#,
    );
    assert_eq!(spans(&r, "k_00aa11bb").len(), 0);
    assert_eq!(spans(&r, "k_a1b2c3d4").len(), 1);
    assert_eq!(
        spans(&r, "p_a1b2c3d4").len(),
        1,
        "AND with paths never allows"
    );
}

#[test]
fn bad_and_path_only_rules_are_reported_not_dropped() {
    let r = rules(
        r#"
title = "mixed"
[extend]
useDefault = true
[[rules]]
id = "good"
regex = '''good_[0-9]{6}'''
keywords = ["good_"]
[[rules]]
id = "bad"
regex = '''(unclosed'''
[[rules]]
id = "file"
path = '''\.p12$'''
[[rules]]
id = "group"
regex = '''x(y)'''
secretGroup = 3
"#,
    );
    let rep = r.report();
    assert_eq!(rep.loaded, 1);
    assert_eq!(rep.path_only, vec!["gitleaks:file".to_string()]);
    let failed: Vec<&str> = rep.failed.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(failed, ["gitleaks:bad", "gitleaks:group"]);
    assert_eq!(rep.extend_ignored, 1);
    assert_eq!(rep.total(), 4);
    assert!(SecretRules::from_toml("rules = 3").is_err());
}

#[test]
fn go_syntax_is_translated() {
    // `\w` is ASCII in Go; `{` that is not a repetition is a literal.
    let r = rules(
        r#"
[[rules]]
id = "go"
regex = '''tpl\${\w{6}}'''
keywords = ["tpl"]
"#,
    );
    assert_eq!(spans(&r, "tpl${abc123}").len(), 1);
    assert!(spans(&r, "tpl${abcdé1}").is_empty());
}

#[test]
fn extend_adds_and_overrides_by_id() {
    let mut r = rules(ENTROPY);
    let other = rules(
        r#"
[[rules]]
id = "tok"
regex = '''tok_[a-z0-9]{12}'''
keywords = ["tok_"]
[[rules]]
id = "more"
regex = '''more_[0-9]{6}'''
keywords = ["more_"]
"#,
    );
    r.extend(other);
    assert_eq!(r.len(), 2);
    // The override has no entropy floor.
    assert_eq!(spans(&r, "tok_aaaaaaaaaaaa").len(), 1);
    assert_eq!(spans(&r, "more_123456").len(), 1);
}

#[test]
fn generic_finding_yields_to_specific_rule() {
    let r = SecretRules::builtin();
    let token = "ghp_R7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iO";
    let found = spans(&r, &format!("GITHUB_TOKEN={token}"));
    assert_eq!(found, vec![("gitleaks:github-pat".into(), token.into())]);
}
