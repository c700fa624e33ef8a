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
            // No `T3BlbkFJ` marker, so not the gitleaks rule's shape.
            "palisade:openai-project-key",
            "key: sk-proj-Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOw_Rk8Gd-Ht3Lz6. Thanks".into(),
            "sk-proj-Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOw_Rk8Gd-Ht3Lz6",
        ),
        (
            "palisade:sk-api-key",
            "DEEPSEEK_API_KEY=sk-4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e ok".into(),
            "sk-4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e",
        ),
        (
            "palisade:anthropic-key",
            "(sk-ant-api03-Xq7LmN2pR9sT4vW8yZ3bC6dF1hJ5kP0aYuE2iO-Rk8Gd)".into(),
            "sk-ant-api03-Xq7LmN2pR9sT4vW8yZ3bC6dF1hJ5kP0aYuE2iO-Rk8Gd",
        ),
        (
            "palisade:openrouter-key",
            "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 used".into(),
            "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",
        ),
        (
            "palisade:groq-key",
            "GROQ_API_KEY=gsk_Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOwRk8GdHt3Lz6Vb".into(),
            "gsk_Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOwRk8GdHt3Lz6Vb",
        ),
        (
            "palisade:xai-key",
            "xai-Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOwRk8GdHt3Lz6VbN4mC7xZ1qW5eR9tY3uI".into(),
            "xai-Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOwRk8GdHt3Lz6VbN4mC7xZ1qW5eR9tY3uI",
        ),
        (
            "palisade:replicate-key",
            "token r8_Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOw".into(),
            "r8_Q7x2Kq9LmT4vW8zN3bC6dF1hJ5pS0aYuE2iOw",
        ),
        (
            "palisade:langsmith-key",
            "LANGSMITH_API_KEY=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".into(),
            "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",
        ),
        (
            "palisade:docker-hub-token",
            "docker login -u me -p dckr_pat_Xq7LmN2pR9sT4vW8yZ3bC6dF1hJ".into(),
            "dckr_pat_Xq7LmN2pR9sT4vW8yZ3bC6dF1hJ",
        ),
        (
            "palisade:cli-tool-password",
            "why does `mysql -u root -pXq7Lm2Rp9sT4 -h db.internal` fail?".into(),
            "Xq7Lm2Rp9sT4",
        ),
        (
            "palisade:cli-password-option",
            "pg_dumpall --password hunter22x --host db".into(),
            "hunter22x",
        ),
        (
            "palisade:cli-password-option",
            r#"subprocess.run(["mysqldump", "--password", "Xq7Lm2Rp9sT"])"#.into(),
            "Xq7Lm2Rp9sT",
        ),
        (
            "palisade:cli-password-option",
            "`--password=S3cr3tXy9` at the start".into(),
            "S3cr3tXy9",
        ),
        (
            "palisade:cli-tool-password",
            "redis-cli -h cache -a Tq9vL2mX7pR4 PING".into(),
            "Tq9vL2mX7pR4",
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
        "export OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "mysql -u root -p -h db.internal",
        "mysql -h db -P330612 -u app",
        "Pass it as --password=VALUE, or mysql -pVALUE.",
        "Use the --password option to set it; the --password argument requires a value.",
        "  -p, --password string   Password",
        "g++ main.cpp -I/usr/include/mysql -pthread -o app",
        "redis-cli shutdown && ls -a /var/lib/redis",
        r#"cmd = f"mysql -u {user} -p{password} -h {host}""#,
        "OPENAI_API_KEY=sk-proj-your-openai-project-api-key-goes-here-1234",
        "ANTHROPIC_API_KEY=sk-ant-api03-REPLACE_WITH_YOUR_OWN_ANTHROPIC_KEY_0123456789",
        "mysql -u root -p$MYSQL_PWD mydb",
        "Run the tool with --password-file /run/secrets/db instead of --password.",
        "redis-cli -a <password> PING",
        "Keys look like sk-... or sk-ant-api03-...; the task-based risk-free desk-sharing plan.",
    ] {
        assert!(detect(text).is_empty(), "{text:?}: {:?}", detect(text));
    }
}
