//! From the `[policy]` and `[limits]` config sections to the running policy engine and
//! limiter, the model catalogue policies see, and the SIGHUP policy reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use palisade_admin::AdminState;
use palisade_admin::handlers::policies::{keeps_policy_management, unmatched_model_names};
use palisade_config::{
    FailMode, LimitRuleConfig, LimitsBackend, LimitsConfig, ModelConfig, PolicyConfig,
};
use palisade_policy::authz::{DEFAULT_POLICIES, ModelAttrs, PolicyEngine};
use palisade_policy::limits::{self, BackendConfig, LimitRule, Limiter, Scope};

/// The policy engine with the configured file, or the built-in default set, and what is
/// worth a warning about the policies (models they name that never match).
pub fn policy_engine(
    cfg: &PolicyConfig,
    models: &[ModelConfig],
) -> anyhow::Result<(PolicyEngine, Vec<String>)> {
    let source = match &cfg.file {
        Some(path) => std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the policy file {} (policy.file)",
                path.display()
            )
        })?,
        None => DEFAULT_POLICIES.to_owned(),
    };
    let engine = PolicyEngine::new(&source, cfg.utc_offset_minutes)
        .map_err(|e| anyhow::anyhow!("invalid policies: {e}"))?;
    let summary = engine.summary();
    tracing::info!(policies = summary.policies, file = ?cfg.file, "policies loaded");
    let warnings = unmatched_model_names(&source, &model_attrs(models), &model_aliases(models));
    Ok((engine, warnings))
}

/// The limiter of `[limits]`. Concurrency leases outlive the longest request
/// (`request_timeout` plus a minute, at least the default 15 minutes): a non-streamed
/// request does not renew its lease while it waits for the model.
pub async fn limiter(cfg: &LimitsConfig, request_timeout: Duration) -> anyhow::Result<Limiter> {
    let rules = cfg.rules.iter().map(limit_rule).collect();
    let backend = match &cfg.backend {
        LimitsBackend::Memory => BackendConfig::Memory,
        LimitsBackend::Redis { url, key_prefix } => BackendConfig::Redis {
            url: url.clone(),
            key_prefix: key_prefix.clone(),
        },
    };
    let fail_mode = match cfg.on_backend_error {
        FailMode::Closed => limits::FailMode::Closed,
        FailMode::Open => limits::FailMode::Open,
        FailMode::Local => limits::FailMode::Local,
    };
    let defaults = limits::LimiterOptions::default();
    let options = limits::LimiterOptions {
        backend_timeout: cfg.backend_timeout,
        backend_cooldown: cfg.backend_cooldown,
        lease_ttl: defaults
            .lease_ttl
            .max(request_timeout.saturating_add(Duration::from_secs(60))),
        ..defaults
    };
    Limiter::with_options(rules, backend, fail_mode, options)
        .await
        .map_err(|e| anyhow::anyhow!("invalid limits: {e}"))
}

fn limit_rule(r: &LimitRuleConfig) -> LimitRule {
    LimitRule {
        scope: match r.scope.as_str() {
            "key" => Scope::Key,
            "user" => Scope::User,
            "group" => Scope::Group,
            "model" => Scope::Model,
            _ => Scope::Global,
        },
        matches: r.matches.clone(),
        requests_per_minute: r.requests_per_minute,
        tokens_per_minute: r.tokens_per_minute,
        concurrent: r.concurrent,
        daily_tokens: r.daily_tokens,
        monthly_tokens: r.monthly_tokens,
        daily_cost_micros: r.daily_cost_micros,
        monthly_cost_micros: r.monthly_cost_micros,
    }
}

/// What policies see of each configured model.
pub fn model_attrs(models: &[ModelConfig]) -> Vec<ModelAttrs> {
    models
        .iter()
        .map(|m| ModelAttrs {
            name: m.name.clone(),
            provider: m.provider.clone(),
            tier: m.tier.clone(),
            labels: m.labels.clone(),
            status: m.status.clone(),
        })
        .collect()
}

/// Each model alias → the model's name.
pub fn model_aliases(models: &[ModelConfig]) -> HashMap<String, String> {
    models
        .iter()
        .flat_map(|m| m.aliases.iter().map(|a| (a.clone(), m.name.clone())))
        .collect()
}

/// Re-reads the policy file on SIGHUP; an invalid file, or one under which no admin could
/// change policies again (`PUT /admin/v1/policies` refuses the same), is logged and the
/// running set stays in force.
pub fn spawn_policy_reload_on_sighup(admin: Arc<AdminState>) -> tokio::task::JoinHandle<()> {
    let engine = Arc::clone(&admin.policy);
    let file = admin.policy_file.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                let Some(path) = &file else {
                    tracing::info!("SIGHUP: no policy file configured; nothing to reload");
                    continue;
                };
                // Not in the middle of a `PUT /admin/v1/policies`: one change at a time.
                let _writing = palisade_admin::handlers::policies::POLICY_WRITES
                    .lock()
                    .await;
                let source = match std::fs::read_to_string(path) {
                    Ok(source) => source,
                    Err(err) => {
                        tracing::error!(error = %err, "SIGHUP: cannot read the policy file; the previous policies stay in force");
                        continue;
                    }
                };
                let checked = match PolicyEngine::new(&source, engine.utc_offset_minutes()) {
                    Ok(candidate) => keeps_policy_management(&admin, &candidate, None)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match checked.and_then(|()| engine.replace(&source).map_err(|e| e.to_string())) {
                    Ok(summary) => {
                        tracing::info!(policies = summary.policies, "SIGHUP: policies reloaded");
                        for warning in
                            unmatched_model_names(&source, &admin.models, &admin.model_aliases)
                        {
                            tracing::warn!("{warning}");
                        }
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "SIGHUP: policy reload rejected; the previous policies stay in force")
                    }
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (engine, file, admin);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_naming_an_alias_or_an_unknown_model_are_reported() {
        let text = "[[providers]]\nname='s'\nkind='simulated'\n\
                    [[models]]\nname='gpt-4o'\nprovider='s'\naliases=['gpt4']\n";
        let config = palisade_config::parse_str(text, |_| None).unwrap_or_else(|e| panic!("{e}"));
        let policies = r#"
            forbid(principal, action, resource == Palisade::Model::"gpt4");
            permit(principal, action, resource == Palisade::Model::"gpt-4o");
            forbid(principal, action, resource == Palisade::Model::"gtp-4o");
            forbid(principal, action, resource in [Palisade::Model::"gpt4"]);
        "#;
        let (models, aliases) = (model_attrs(&config.models), model_aliases(&config.models));
        let found = unmatched_model_names(policies, &models, &aliases);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("`gpt4`") && found[0].contains("write `gpt-4o`"),
            "{}",
            found[0]
        );
        assert!(found[1].contains("`gtp-4o`"), "{}", found[1]);
        assert!(unmatched_model_names(DEFAULT_POLICIES, &models, &aliases).is_empty());
    }
}
