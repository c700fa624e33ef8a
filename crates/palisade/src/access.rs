//! From the `[policy]` and `[limits]` config sections to the running policy engine and
//! limiter, the model catalogue policies see, and the SIGHUP policy reload.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use palisade_admin::AdminState;
use palisade_admin::handlers::policies::keeps_policy_management;
use palisade_config::{
    Config, FailMode, LimitRuleConfig, LimitsBackend, LimitsConfig, PolicyConfig,
};
use palisade_policy::authz::{DEFAULT_POLICIES, ModelAttrs, PolicyEngine};
use palisade_policy::limits::{self, BackendConfig, LimitRule, Limiter, Scope};

/// The policy engine with the configured file, or the built-in default set.
pub fn policy_engine(cfg: &PolicyConfig) -> anyhow::Result<PolicyEngine> {
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
    Ok(engine)
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
pub fn model_attrs(config: &Config) -> Vec<ModelAttrs> {
    config
        .models
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
                        tracing::info!(policies = summary.policies, "SIGHUP: policies reloaded")
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
