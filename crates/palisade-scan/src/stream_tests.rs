//! Stream guard tests with a small stand-in scanner (emails, AKIA keys, a banned word),
//! so they test the hold-back logic, not the detectors.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::finding::Category;

fn toy_scan(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let boundary = c.is_whitespace() || c == ',';
        match (start, boundary) {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                let word = text[s..i].trim_end_matches('.');
                let end = s + word.len();
                if word.contains('@') && word.contains('.') {
                    out.push(Finding::new("email", Category::Pii, s..end, 0.9, "toy"));
                } else if word.starts_with("AKIA") && word.len() == 20 {
                    out.push(Finding::new("secret", Category::Secret, s..end, 0.9, "toy"));
                } else if word == "BADWORD" {
                    out.push(Finding::new(
                        "banned_term",
                        Category::Banned,
                        s..end,
                        1.0,
                        "toy",
                    ));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn guard(profile: Profile) -> StreamGuard {
    let hold = HoldBack {
        tail: 16,
        max: 4096,
        context: 32,
    };
    StreamGuard::new(Arc::new(toy_scan), Arc::new(profile), hold)
}

/// Feeds `text` in chunks of `size` bytes (on char boundaries); returns what the client
/// sees and whether it was blocked.
fn run(g: &mut StreamGuard, text: &str, size: usize) -> (String, Option<Vec<String>>) {
    run_with(g, &mut Vault::new(), text, size)
}

/// [`run`] with the request's vault.
fn run_with(
    g: &mut StreamGuard,
    vault: &mut Vault,
    text: &str,
    size: usize,
) -> (String, Option<Vec<String>>) {
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let mut j = (i + size).min(text.len());
        while !text.is_char_boundary(j) {
            j += 1;
        }
        pieces.push(&text[i..j]);
        i = j;
    }
    feed(g, vault, pieces)
}

/// Pushes `pieces` one by one, then finishes: what the client saw, and whether (and by
/// which kinds) the stream was blocked.
fn feed<'a>(
    g: &mut StreamGuard,
    vault: &mut Vault,
    pieces: impl IntoIterator<Item = &'a str>,
) -> (String, Option<Vec<String>>) {
    let mut seen = String::new();
    for piece in pieces {
        match g.push(piece, vault) {
            Step::Emit(s) => seen.push_str(&s),
            Step::Blocked(k) => return (seen, Some(k)),
        }
    }
    match g.finish(vault) {
        Step::Emit(s) => seen.push_str(&s),
        Step::Blocked(k) => return (seen, Some(k)),
    }
    (seen, None)
}

fn profile() -> Profile {
    Profile::new("t")
        .with_kind("email", Action::Redact)
        .with_kind("secret", Action::Redact)
        .with_kind("banned_term", Action::Block)
}

#[test]
fn a_secret_split_across_chunks_never_leaks_at_any_chunk_size() {
    let text =
        "Here is the key AKIAABCDEFGHIJKLMNOP for the bucket, and mail ops@example.com today.";
    for size in 1..=text.len() {
        let mut g = guard(profile());
        let (seen, blocked) = run(&mut g, text, size);
        assert_eq!(blocked, None);
        assert_eq!(
            seen,
            "Here is the key [REDACTED_SECRET] for the bucket, and mail [REDACTED_EMAIL] today.",
            "chunk size {size}"
        );
        assert_eq!(g.findings().len(), 2);
        assert_eq!(g.held(), 0);
    }
}

#[test]
fn mask_and_flag_hold_at_any_chunk_size() {
    let text = "Use AKIAABCDEFGHIJKLMNOP, and mail ops@example.com today.";
    let masking = || {
        Profile::new("m")
            .with_kind("secret", Action::Mask)
            .with_kind("email", Action::Flag)
    };
    for size in 1..=text.len() {
        let mut g = guard(masking());
        let (seen, blocked) = run(&mut g, text, size);
        assert_eq!(blocked, None);
        // Masked: only the last four characters of the key go out; flagged: unchanged.
        assert_eq!(
            seen, "Use ****************MNOP, and mail ops@example.com today.",
            "chunk size {size}"
        );
        let findings = g.findings();
        assert_eq!(findings.len(), 2, "chunk size {size}");
        let email = text.find("ops@").unwrap();
        assert!(
            findings
                .iter()
                .any(|a| a.finding.kind == "email" && a.finding.span() == (email..email + 15)),
            "the flagged finding keeps its place in the model's text: {findings:?}"
        );
        assert_eq!(g.held(), 0);
    }
}

#[test]
fn a_pseudonym_split_across_chunks_is_restored() {
    let mut vault = Vault::new();
    let p = vault.pseudonym("email", "ada@example.com", true).unwrap();
    let text = format!("Sure, I will write to {p} tomorrow and cc {p}.");
    for size in 1..=text.len() {
        let mut g = guard(profile());
        let (seen, _) = run_with(&mut g, &mut vault.clone(), &text, size);
        assert_eq!(
            seen, "Sure, I will write to ada@example.com tomorrow and cc ada@example.com.",
            "chunk size {size}"
        );
    }
}

#[test]
fn a_block_mid_stream_stops_before_any_blocked_byte() {
    let text = format!(
        "{} then BADWORD and more text after it",
        "lorem ipsum ".repeat(10)
    );
    for size in 1..=text.len() {
        let mut g = guard(profile());
        let (seen, blocked) = run(&mut g, &text, size);
        assert_eq!(
            blocked,
            Some(vec!["banned_term".to_owned()]),
            "chunk size {size}"
        );
        assert!(!seen.contains("BAD"), "chunk size {size}: {seen}");
        assert!(text.starts_with(&seen));
        assert!(matches!(
            g.push("more", &mut Vault::new()),
            Step::Blocked(_)
        ));
    }
}

#[test]
fn text_is_released_as_it_becomes_safe() {
    let mut g = guard(profile());
    let mut early = String::new();
    for word in "one two three four five six seven eight nine ten eleven twelve".split(' ') {
        if let Step::Emit(s) = g.push(&format!("{word} "), &mut Vault::new()) {
            early.push_str(&s);
        }
    }
    assert!(early.starts_with("one two three four five"), "{early}");
    assert!(g.held() <= 16 + 8);
}

#[test]
fn an_unterminated_key_block_is_held_until_it_ends() {
    let body = "MIIEowIBAAKCAQEA7 ".repeat(20);
    let text =
        format!("key: -----BEGIN RSA PRIVATE KEY----- {body} -----END RSA PRIVATE KEY----- done");
    let mut g = guard(profile());
    let mut seen = String::new();
    let mut i = 0;
    while i < text.len() {
        let j = (i + 7).min(text.len());
        if let Step::Emit(s) = g.push(&text[i..j], &mut Vault::new()) {
            seen.push_str(&s);
        }
        if !text[..j].contains("-----END RSA PRIVATE KEY-----") {
            assert!(!seen.contains("MIIE"), "released key material early");
        }
        i = j;
    }
}

#[test]
fn multibyte_text_is_never_split_inside_a_char() {
    let text = "Grüße aus Köln — 東京から 🚀🚀 mail ops@example.com ok ".repeat(5);
    for size in [1, 2, 3, 5, 7] {
        let mut g = guard(profile());
        let (seen, _) = run(&mut g, &text, size);
        assert_eq!(seen, text.replace("ops@example.com", "[REDACTED_EMAIL]"));
    }
}

fn orion() -> Arc<crate::leak::PromptLeak> {
    Arc::new(
        crate::leak::PromptLeak::new([
            "You are Orion, the support assistant of Acme Bank. Never discuss interest rates \
             before the customer is verified. Escalate fraud reports to the team on call.",
        ])
        .unwrap(),
    )
}

/// A guard that only looks for the repeated prompt (no other detector).
fn leak_guard(tail: usize) -> StreamGuard {
    let profile = Profile::new("t").with_category(Category::Leak, crate::profile::Action::Block);
    let hold = HoldBack {
        tail,
        max: 4096,
        context: 64,
    };
    StreamGuard::new(Arc::new(|_: &str| Vec::new()), Arc::new(profile), hold).with_leak(orion())
}

/// A repeated system prompt is held from the start of its first matching run, so the
/// whole stretch is stopped even when the tail hold is shorter than the stretch.
#[test]
fn a_forming_prompt_leak_is_held_and_blocked() {
    let text = "Noted for the file: never discuss interest rates before the customer is verified.";
    for size in [1, 3, 7] {
        let mut g = leak_guard(48);
        let (seen, blocked) = run(&mut g, text, size);
        assert!(blocked.is_some(), "size {size}: {seen:?}");
        assert!(!seen.contains("never"), "size {size}: {seen:?}");
    }
}

/// Padding between the words (what the detector skips: spaces, punctuation, line
/// breaks), however long, does not spread a repeated prompt beyond the guard's reach:
/// it is counted in words across what was already released, and stopped before its
/// eighth word.
#[test]
fn a_prompt_leak_padded_between_its_words_is_still_blocked() {
    let words = "never discuss interest rates before the customer is verified";
    for pad in [
        " .......... ",
        " ---------------------------- ",
        "\n\n\n\n  ;;  \n\n\n",
        &" ".repeat(300),
    ] {
        let text = format!(
            "Noted:{pad}{}.",
            words.split(' ').collect::<Vec<_>>().join(pad)
        );
        for (tail, size) in [(48, 1), (48, 7), (48, 40), (16, 5)] {
            let mut g = leak_guard(tail);
            let (seen, blocked) = run(&mut g, &text, size);
            assert!(blocked.is_some(), "pad {pad:?}, size {size}: {seen:?}");
            let out = seen
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .count();
            assert!(
                out < crate::leak::MIN_LEAK_WORDS,
                "pad {pad:?}, size {size}: {out} words out: {seen:?}"
            );
        }
    }
}

/// A blocking finding that began in text already released still stops the rest.
#[test]
fn a_block_straddling_released_text_stops_the_rest() {
    let scan: ScanFn = Arc::new(|text: &str| {
        text.find("alpha beta")
            .map(|s| {
                vec![Finding::new(
                    "banned_term",
                    Category::Banned,
                    s..s + 10,
                    1.0,
                    "toy",
                )]
            })
            .unwrap_or_default()
    });
    let profile = Profile::new("t").with_category(Category::Banned, crate::profile::Action::Block);
    let hold = HoldBack {
        tail: 4,
        max: 4096,
        context: 32,
    };
    let mut g = StreamGuard::new(scan, Arc::new(profile), hold);
    let (seen, blocked) = run(&mut g, "one two three alpha beta gamma delta", 1);
    assert!(blocked.is_some(), "{seen:?}");
    assert!(!seen.contains("beta"), "{seen:?}");
}

/// Finds `AKIA` and 16 more uppercase letters or digits anywhere, as a real rule without
/// word boundaries does inside a long run of other characters.
fn glued_key_scan(text: &str) -> Vec<Finding> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(19))
        .filter(|&i| {
            b[i..].starts_with(b"AKIA")
                && b[i + 4..i + 20]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .map(|i| Finding::new("secret", Category::Secret, i..i + 20, 0.9, "toy"))
        .collect()
}

#[test]
fn a_key_at_the_end_of_a_run_longer_than_the_budget_never_leaks() {
    let hold = HoldBack {
        tail: 16,
        max: 256,
        context: 32,
    };
    // The run outgrows the budget while the key is forming, at every offset around it.
    for run_len in 220..260 {
        let text = format!("{}AKIAZ7Q4PLMR2WX5TYUV done.", "=".repeat(run_len));
        for size in [1, 3] {
            let mut g = StreamGuard::new(Arc::new(glued_key_scan), Arc::new(profile()), hold);
            let (seen, blocked) = run(&mut g, &text, size);
            assert!(blocked.is_none());
            // Any byte of the key released before it was found would show here.
            let want = format!("{}[REDACTED_SECRET] done.", "=".repeat(run_len));
            assert_eq!(seen, want, "run {run_len}, chunks of {size}");
        }
    }
}

/// The real detectors, through the guard with `tail` bytes held back: spaced numbers
/// (an IBAN, a card, a phone number) that only become findings once whole.
fn real_guard(tail: usize) -> StreamGuard {
    let scanner = Arc::new(crate::engine::Scanner::standard().unwrap());
    let profile = Arc::new(Profile::new("pii").with_category(Category::Pii, Action::Redact));
    let scan_profile = Arc::clone(&profile);
    let scan: ScanFn =
        Arc::new(move |t: &str| scanner.scan_for(t, &scan_profile, Direction::Output));
    let hold = HoldBack {
        tail,
        ..HoldBack::default()
    };
    StreamGuard::new(scan, profile, hold)
}

#[test]
fn spaced_numbers_never_leak_a_prefix_at_the_smallest_hold_back() {
    // The longest spaced IBAN (34 characters in groups of 4: 42 bytes) is still partial,
    // and no finding yet, while it is being written: the hold-back must cover all of it.
    let text = "Pay to MT84 MALT 0110 0001 2345 MTLC AST0 01S or card 4111 1111 1111 1111, call +44 20 7946 0958.";
    for size in [1, 2, 3, 5, 7, 11, 16, 40] {
        let mut g = real_guard(crate::stream::MIN_HOLDBACK);
        let (seen, blocked) = run(&mut g, text, size);
        assert_eq!(blocked, None);
        for secret in ["MT84", "4111", "7946"] {
            assert!(!seen.contains(secret), "chunk size {size}: {seen}");
        }
        assert!(
            seen.contains("[REDACTED_IBAN]"),
            "chunk size {size}: {seen}"
        );
    }
}

#[test]
fn a_value_whose_start_went_out_has_the_rest_withheld() {
    // Below the minimum hold-back the IBAN's start is released before it is a finding;
    // once whole it is, and what is still held of it is redacted, not released.
    let text = "Pay to MT84 MALT 0110 0001 2345 MTLC AST0 01S today and then some more words.";
    for size in [1, 3, 7] {
        let mut g = real_guard(24);
        let (seen, blocked) = run(&mut g, text, size);
        assert_eq!(blocked, None);
        assert!(!seen.contains("01S"), "chunk size {size}: {seen}");
        assert!(
            seen.contains("[REDACTED_IBAN]"),
            "chunk size {size}: {seen}"
        );
    }
}

/// Feeds `tokens` one by one, as a model streams them.
fn run_tokens(g: &mut StreamGuard, tokens: &[String]) -> (String, Option<Vec<String>>) {
    feed(g, &mut Vault::new(), tokens.iter().map(String::as_str))
}

fn real_guard_with(profile: Profile) -> StreamGuard {
    let scanner = Arc::new(crate::engine::Scanner::standard().unwrap());
    let profile = Arc::new(profile);
    let scan_profile = Arc::clone(&profile);
    let scan: ScanFn =
        Arc::new(move |t: &str| scanner.scan_for(t, &scan_profile, Direction::Output));
    StreamGuard::new(scan, profile, HoldBack::default())
}

#[test]
fn a_streamed_private_key_is_blocked_before_any_of_it_goes_out() {
    // A PEM key as a model streams it: the closing line in several tokens. The private-key
    // rules match only once `KEY-----` has arrived; nothing of the key may go out before.
    let line = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun";
    let mut tokens = vec![
        "Here it is:\n".to_owned(),
        "-----BEGIN RSA PRIVATE KEY-----\n".to_owned(),
    ];
    for _ in 0..25 {
        tokens.push(format!("{}\n", &line[..32]));
        tokens.push(format!("{}\n", &line[32..]).replace('\n', "") + "\n");
    }
    for t in [
        "-----",
        "END",
        " RSA",
        " PRIVATE",
        " KEY",
        "-----",
        "\n",
        "Keep it safe.",
    ] {
        tokens.push(t.to_owned());
    }
    let profile = Profile::new("s").with_category(Category::Secret, Action::Block);
    let (seen, blocked) = run_tokens(&mut real_guard_with(profile), &tokens);
    assert!(blocked.is_some(), "the key was not blocked: {seen}");
    assert!(!seen.contains("MIIE") && !seen.contains("BEGIN"), "{seen}");
    assert_eq!(seen, "Here it is:\n");
}

#[test]
fn a_banned_term_padded_or_longer_than_the_hold_back_is_blocked_whole() {
    let long = "the quarterly merger negotiations with northwind traders remain confidential";
    assert!(long.len() > MIN_HOLDBACK);
    let banned =
        crate::banned::BannedTerms::new(&["project bluebird".to_owned(), long.to_owned()]).unwrap();
    let profile = Profile::new("b")
        .with_category(Category::Banned, Action::Block)
        .with_banned(banned);
    let padded = format!(
        "Sure. The name is project{}bluebird, as asked.",
        " \n".repeat(60)
    );
    let spoken = format!("Fine: {} and more.", long.to_uppercase());
    for text in [padded, spoken] {
        let tokens: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
        let (seen, blocked) = run_tokens(&mut real_guard_with(profile.clone()), &tokens);
        assert!(blocked.is_some(), "not blocked: {seen:?}");
        assert!(
            !seen.to_lowercase().contains("project") && !seen.to_lowercase().contains("quarterly"),
            "a banned term's start went out: {seen:?}"
        );
    }
}

#[test]
fn a_banned_term_spelled_out_letter_by_letter_is_blocked_whole() {
    // Spelled out, a term is longer than the hold-back (a short one here, 8 bytes): it is
    // held from its first letters until it ends, then read as the word it spells.
    let banned = crate::banned::BannedTerms::new(&["project bluebird".to_owned()]).unwrap();
    let profile = Arc::new(
        Profile::new("b")
            .with_category(Category::Banned, Action::Block)
            .with_banned(banned),
    );
    let scanner = Arc::new(crate::engine::Scanner::standard().unwrap());
    let scan_profile = Arc::clone(&profile);
    let scan: ScanFn =
        Arc::new(move |t: &str| scanner.scan_for(t, &scan_profile, Direction::Output));
    let hold = HoldBack {
        tail: 8,
        ..HoldBack::default()
    };
    for text in [
        "The code name, spaced out as asked: p r o j e c t   b l u e b i r d and more words.",
        "Here: P-R-O-J-E-C-T B-L-U-E-B-I-R-D, and some padding words after it.",
    ] {
        for size in [1, 2, 3, 5] {
            let mut g = StreamGuard::new(Arc::clone(&scan), Arc::clone(&profile), hold);
            let (seen, blocked) = run(&mut g, text, size);
            assert!(blocked.is_some(), "not blocked at {size}: {seen:?}");
            assert!(
                !seen.contains("p r") && !seen.contains("P-R"),
                "its start went out at {size}: {seen:?}"
            );
        }
    }
}

#[test]
fn a_long_run_written_token_by_token_is_not_rescanned_for_every_token() {
    // 12 KiB of base64-like text in 4-byte tokens, then a space: held as one run (under
    // the 16 KiB budget), it is scanned when it can be cut, not 3,000 times.
    use std::sync::atomic::{AtomicUsize, Ordering};
    let scans = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&scans);
    let scan: ScanFn = Arc::new(move |text: &str| {
        counted.fetch_add(1, Ordering::Relaxed);
        toy_scan(text)
    });
    let mut g = StreamGuard::new(scan, Arc::new(profile()), HoldBack::default());
    let run = "QUJD".repeat(3 * 1024);
    let text = format!("data: {run} AKIAZ7Q4PLMR2WX5TYUV end of it and more words here.");
    let (seen, blocked) = run_with(&mut g, &mut Vault::new(), &text, 4);
    assert_eq!(blocked, None);
    assert_eq!(
        seen,
        format!("data: {run} [REDACTED_SECRET] end of it and more words here.")
    );
    let n = scans.load(Ordering::Relaxed);
    assert!(n < 40, "{n} scans");
}

proptest::proptest! {
    /// Random text of words, e-mails, keys and banned words, cut into random pieces:
    /// what a stream lets out is exactly what the whole answer, scanned at once, would
    /// have been rewritten to (or a prefix of it, when a banned word blocks the rest),
    /// and never a byte of a value the scan redacts.
    #[test]
    fn a_stream_releases_what_the_whole_answer_would_be_rewritten_to(
        picks in proptest::collection::vec(0usize..8, 1..60),
        cuts in proptest::collection::vec(1usize..12, 1..200),
    ) {
        const WORDS: [&str; 8] = [
            "lorem", "ipsum,", "dolor.", "ops@example.com", "AKIAABCDEFGHIJKLMNOP",
            "sit", "amet\n", "BADWORD",
        ];
        let text = picks.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
        let mut pieces = Vec::new();
        let (mut at, mut c) = (0, 0);
        while at < text.len() {
            let end = (at + cuts[c % cuts.len()]).min(text.len());
            pieces.push(&text[at..end]);
            at = end;
            c += 1;
        }
        let mut g = guard(profile());
        let (seen, blocked) = feed(&mut g, &mut Vault::new(), pieces);
        let applied = crate::transform::decide(toy_scan(&text), &profile());
        let whole = crate::transform::rewrite(&text, &applied, &mut Vault::new(), Direction::Output)
            .unwrap_or_else(|| text.clone());
        for secret in ["ops@", "AKIA", "BAD"] {
            proptest::prop_assert!(!seen.contains(secret), "{:?} let out {}", seen, secret);
        }
        if text.contains("BADWORD") {
            proptest::prop_assert!(blocked.is_some());
            proptest::prop_assert!(whole.starts_with(&seen), "{:?} is not a prefix of {:?}", seen, whole);
        } else {
            proptest::prop_assert_eq!(blocked, None);
            proptest::prop_assert_eq!(seen, whole);
        }
    }
}
