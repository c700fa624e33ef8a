//! Measures what access control adds to one request: a Cedar decision over a 100-policy
//! set plus a limits admission and settlement (in-process; and Redis when
//! `PALISADE_BENCH_REDIS_URL` is set). Run by `bench/access.sh`; prints a Markdown table.
//!
//! `cargo run --release -p palisade-policy --example access_cost [-- ITERATIONS]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use palisade_policy::authz::{DataAction, ModelAttrs, PolicyEngine, RequestFacts};
use palisade_policy::limits::{
    BackendConfig, Demand, FailMode, LimitRule, Limiter, Scope, Subject, Usage,
};

/// 100 policies: admin rules, per-group model grants, context rules and forbids, in the
/// shapes real deployments write.
fn policies() -> String {
    let mut s = String::from(
        "@id(\"admins\") permit(principal is Palisade::AdminToken, action, resource) when { principal.role == \"admin\" };\n\
         @id(\"no-quarantined\") forbid(principal, action, resource is Palisade::Model) when { resource.status != \"active\" };\n\
         @id(\"no-deprecated\") forbid(principal, action, resource is Palisade::Model) when { resource.labels.contains(\"deprecated\") };\n\
         @id(\"frontier-purpose\") forbid(principal, action == Palisade::Action::\"chat\", resource is Palisade::Model) when { resource.tier == \"frontier\" } unless { context has purpose };\n",
    );
    for i in 0..96 {
        s.push_str(&format!(
            "@id(\"group-{i}\") permit(principal in Palisade::Group::\"team-{i}\", action in [Palisade::Action::\"chat\", Palisade::Action::\"embed\"], resource is Palisade::Model) when {{ resource.tier == \"standard\" && context.estimated_tokens < {} }};\n",
            10_000 + i
        ));
    }
    s
}

fn rules() -> Vec<LimitRule> {
    let mut key = LimitRule::new(Scope::Key);
    key.requests_per_minute = Some(1_000_000_000_000);
    key.tokens_per_minute = Some(1_000_000_000_000);
    let mut user = LimitRule::new(Scope::User);
    user.concurrent = Some(1_000);
    user.daily_tokens = Some(1_000_000_000_000);
    let mut global = LimitRule::new(Scope::Global);
    global.requests_per_minute = Some(1_000_000_000_000);
    vec![key, user, global]
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn measure(label: &str, iterations: usize, engine: &PolicyEngine, limiter: Option<&Limiter>) {
    let model = ModelAttrs {
        name: "gpt".into(),
        provider: "openai".into(),
        tier: "standard".into(),
        labels: vec![],
        status: "active".into(),
    };
    let groups = vec!["team-42".to_owned(), "team-7".to_owned()];
    let facts = RequestFacts {
        estimated_tokens: 500,
        stream: false,
        client_ip: Some("10.0.0.7".parse().unwrap()),
        purpose: None,
        api_key: "k1".into(),
        now_unix: 1_800_000_000,
    };
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + iterations / 10 {
        let t = Instant::now();
        let decision = engine.authorize_data("alice", &groups, DataAction::Chat, &model, &facts);
        assert!(decision.allowed);
        if let Some(limiter) = limiter {
            let subject = Subject {
                key_id: "k1",
                user: "alice",
                groups: &groups,
                model: "gpt",
            };
            let admission = limiter
                .admit(
                    &subject,
                    Demand {
                        tokens: 500,
                        cost_micros: 0,
                    },
                )
                .await
                .expect("admitted");
            admission
                .settle(Usage {
                    tokens: 120,
                    cost_micros: 0,
                })
                .await;
        }
        if i >= iterations / 10 {
            samples.push(t.elapsed());
        }
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>().as_secs_f64() * 1e6 / samples.len() as f64;
    println!(
        "| {label} | {} | {mean:.1} | {:.1} | {:.1} | {:.1} |",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let engine = PolicyEngine::new(&policies(), 0).expect("policies");
    assert_eq!(engine.summary().policies, 100);
    let memory = Limiter::new(rules(), BackendConfig::Memory, FailMode::Closed)
        .await
        .expect("limiter");
    println!("| what (100 Cedar policies) | iterations | mean µs | p50 µs | p99 µs | p99.9 µs |");
    println!("|---|---:|---:|---:|---:|---:|");
    measure("Cedar decision only", iterations, &engine, None).await;
    measure(
        "Cedar + in-process limits (admit + settle, 3 rules)",
        iterations,
        &engine,
        Some(&memory),
    )
    .await;
    if let Ok(url) = std::env::var("PALISADE_BENCH_REDIS_URL") {
        let redis = Limiter::new(
            rules(),
            BackendConfig::Redis {
                url,
                key_prefix: "bench:".into(),
            },
            FailMode::Closed,
        )
        .await
        .expect("redis limiter");
        measure(
            "Cedar + Redis limits (admit + settle, 3 rules, loopback)",
            iterations / 10,
            &engine,
            Some(&redis),
        )
        .await;
    }
}
