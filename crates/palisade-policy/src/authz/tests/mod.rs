//! Tests of the authorization engine: shared fixtures here; one file per concern.

mod admin;
mod bench;
mod concurrency;
mod data;
mod examples;
mod load;
mod reference;

use super::*;

pub(crate) fn model(name: &str, tier: &str, status: &str, labels: &[&str]) -> ModelAttrs {
    ModelAttrs {
        name: name.to_owned(),
        provider: "openai".to_owned(),
        tier: tier.to_owned(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        status: status.to_owned(),
    }
}

/// 2024-01-01 was a Monday; this is 12:00 UTC that day.
pub(crate) const MONDAY_NOON_UTC: i64 = 1_704_110_400;

pub(crate) fn facts(now_unix: i64) -> RequestFacts {
    RequestFacts {
        estimated_tokens: 100,
        stream: false,
        client_ip: None,
        purpose: None,
        api_key: "key_test".to_owned(),
        now_unix,
    }
}

pub(crate) fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|g| (*g).to_owned()).collect()
}

pub(crate) fn engine(source: &str) -> PolicyEngine {
    match PolicyEngine::new(source, 0) {
        Ok(engine) => engine,
        Err(e) => panic!("policy set should load:\n{e}"),
    }
}
