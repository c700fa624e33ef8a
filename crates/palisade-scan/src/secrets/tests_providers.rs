//! Real-looking (made-up) credentials of major providers, each found by the builtin
//! rules with the exact span of the secret. Every fixture is invented for this test.

use super::*;

/// (detector expected, text, secret).
fn cases() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "gitleaks:aws-access-token",
            "my key is AKIAZ7Q3LMN4RT2VWXY5 ok".into(),
            "AKIAZ7Q3LMN4RT2VWXY5",
        ),
        (
            "gitleaks:github-pat",
            "token ghp_R7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iO please".into(),
            "ghp_R7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iO",
        ),
        (
            "gitleaks:slack-bot-token",
            "bot: xoxb-2048736150-4920137586-Xq7LmN2pR9sT4vW8yZ3bC6dF end".into(),
            "xoxb-2048736150-4920137586-Xq7LmN2pR9sT4vW8yZ3bC6dF",
        ),
        (
            "gitleaks:stripe-access-token",
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dcQ9 here".into(),
            "sk_live_4eC39HqLyjWDarjtT1zdp7dcQ9",
        ),
        (
            "gitleaks:openai-api-key",
            "use 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 now".into(),
            "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",
        ),
        (
            "gitleaks:gcp-api-key",
            "maps key AIzaSyB7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE ok".into(),
            "AIzaSyB7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE",
        ),
        (
            "gitleaks:jwt",
            "bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MjQyIiwibmFtZSI6IkFkYSJ9.Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOw ok".into(),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MjQyIiwibmFtZSI6IkFkYSJ9.Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOw",
        ),
        (
            "palisade:connection-string-password",
            "connect to postgres://app:Xq7Lm2Rp9sT4@db.internal:5432/main".into(),
            "Xq7Lm2Rp9sT4",
        ),
        (
            "palisade:connection-string-password",
            "MONGO_URL=mongodb+srv://root:h8Kd2nQ5vZ1w@cluster0.example.net/app".into(),
            "h8Kd2nQ5vZ1w",
        ),
        (
            "palisade:password-assignment",
            r#"{"user": "ada", "password": "T7#qLm2!pR9z"}"#.into(),
            "T7#qLm2!pR9z",
        ),
        (
            // palisade:password-assignment finds the same span; identical spans
            // collapse to one finding (highest score, then load order).
            "gitleaks:generic-api-key",
            "DB_PASSWORD=Vx9kQ2mL7tR4 in my .env".into(),
            "Vx9kQ2mL7tR4",
        ),
    ]
}

fn detect(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    SecretRules::builtin().detect(text, &mut out);
    out
}

#[test]
fn provider_tokens_are_found_with_exact_spans() {
    for (detector, text, secret) in cases() {
        let found = detect(&text);
        let hit = found.iter().find(|f| f.detector == detector);
        let Some(f) = hit else {
            panic!("{detector} missed in {text:?}: {found:?}");
        };
        assert_eq!(&text[f.span()], secret, "{detector}");
        assert_eq!(f.kind, "secret");
        assert_eq!(f.category, Category::Secret);
        assert!((0.0..=1.0).contains(&f.score));
    }
}

#[test]
fn private_key_block_is_found() {
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Xq2Lm9Rt4Vw8Zy3Bc6Df1Hj5Ps0A";
    let text = format!(
        "here:\n-----BEGIN PRIVATE KEY-----\n{body}\n{body}\n-----END PRIVATE KEY-----\nthanks"
    );
    let found = detect(&text);
    let Some(f) = found.iter().find(|f| f.detector == "gitleaks:private-key") else {
        panic!("no private key finding: {found:?}");
    };
    assert!(text[f.span()].starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(text[f.span()].ends_with("KEY-----"));
}

#[test]
fn strong_prefix_scores_higher_than_generic() {
    let aws = detect("AKIAZ7Q3LMN4RT2VWXY5");
    assert_eq!(aws.first().map(|f| f.score), Some(0.9));
    let pw = detect("password: Vx9kQ2mL7tR4");
    assert_eq!(pw.first().map(|f| f.score), Some(0.5));
}

#[test]
fn placeholders_and_prose_are_not_secrets() {
    for text in [
        "The password must be at least 12 characters long.",
        "postgres://user:password@localhost/db",
        "postgres://app:${DB_PASSWORD}@db/main",
        "password = os.environ['DB_PASSWORD']",
        "password: ********",
        "Set the API key in your settings, then rotate the token monthly.",
        "My secret is that I love pineapple pizza.",
    ] {
        assert!(detect(text).is_empty(), "{text:?}: {:?}", detect(text));
    }
}
