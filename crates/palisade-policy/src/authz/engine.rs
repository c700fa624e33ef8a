//! [`PolicyEngine`]: the policy set in force (swapped atomically on reload) and the two
//! questions the gateway and admin API ask it. Readers never block; a reload that fails
//! leaves the running set untouched.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use cedar_policy::{AuthorizationError, Authorizer, Context, Decision as CedarDecision, Request};

use super::actions::{AdminAction, DataAction};
use super::decision::{Decision, PolicyError, PolicySummary};
use super::entities::{Prepared, admin_entities, data_entities};
use super::load::{LoadedSet, load};
use super::request::{ModelAttrs, RequestFacts, admin_context, data_context};
use super::schema::{ActionEntry, Catalog, catalog};

/// Evaluates Cedar policies for the data plane and the admin plane.
pub struct PolicyEngine {
    state: ArcSwap<LoadedSet>,
    catalog: &'static Catalog,
    authorizer: Authorizer,
    utc_offset_minutes: i32,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("summary", &self.state.load().summary)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// Parses `source` and validates it strictly against [`super::SCHEMA`].
    /// `utc_offset_minutes` shifts `context.time.hour/minute/weekday` (e.g. 60 for CET).
    pub fn new(source: &str, utc_offset_minutes: i32) -> Result<Self, PolicyError> {
        Ok(PolicyEngine {
            state: ArcSwap::from_pointee(load(source)?),
            catalog: catalog()?,
            authorizer: Authorizer::new(),
            utc_offset_minutes,
        })
    }

    /// An engine with [`super::DEFAULT_POLICIES`].
    pub fn with_defaults(utc_offset_minutes: i32) -> Result<Self, PolicyError> {
        Self::new(super::DEFAULT_POLICIES, utc_offset_minutes)
    }

    /// Validates `source` exactly as [`PolicyEngine::replace`] would, installing nothing.
    pub fn check(source: &str) -> Result<PolicySummary, PolicyError> {
        load(source).map(|set| set.summary)
    }

    /// Installs `source` atomically. On error the running set stays in force.
    pub fn replace(&self, source: &str) -> Result<PolicySummary, PolicyError> {
        let set = load(source)?;
        let summary = set.summary.clone();
        self.state.store(Arc::new(set));
        tracing::info!(policies = summary.policies, "policy set replaced");
        Ok(summary)
    }

    /// The policy text in force.
    pub fn source(&self) -> Arc<str> {
        Arc::clone(&self.state.load().source)
    }

    pub fn summary(&self) -> PolicySummary {
        self.state.load().summary.clone()
    }

    pub fn utc_offset_minutes(&self) -> i32 {
        self.utc_offset_minutes
    }

    /// May `user` (a member of `groups`) do `action` to `model`? Called per request, and
    /// per model for `GET /v1/models` (with `DataAction::ListModels`).
    pub fn authorize_data(
        &self,
        user: &str,
        groups: &[String],
        action: DataAction,
        model: &ModelAttrs,
        facts: &RequestFacts,
    ) -> Decision {
        let set = self.state.load();
        let Some(entry) = self.catalog.data_action(action) else {
            return missing(action.as_str());
        };
        let prepared = data_entities(self.catalog, user, groups, entry, model);
        let context = data_context(facts, self.utc_offset_minutes, set.context_use);
        self.decide(&set, entry, prepared, context, true)
    }

    /// May admin token `token_id` (with `role`) do `action` on the admin plane?
    pub fn authorize_admin(
        &self,
        token_id: &str,
        role: &str,
        action: AdminAction,
        client_ip: Option<IpAddr>,
        now_unix: i64,
    ) -> Decision {
        let set = self.state.load();
        let Some(entry) = self.catalog.admin_action(action) else {
            return missing(action.as_str());
        };
        let prepared = admin_entities(self.catalog, token_id, role, entry);
        let context = admin_context(
            client_ip,
            now_unix,
            self.utc_offset_minutes,
            set.context_use,
        );
        self.decide(&set, entry, prepared, context, false)
    }

    /// Evaluates the candidate policies (by scope) and combines the answers as Cedar
    /// would for the whole set: any satisfied forbid denies (naming every such forbid);
    /// else any satisfied permit allows (naming every such permit); else deny.
    fn decide(
        &self,
        set: &LoadedSet,
        entry: &ActionEntry,
        prepared: Result<Arc<Prepared>, String>,
        context: Result<Context, String>,
        keyed_resource: bool,
    ) -> Decision {
        let built = prepared.and_then(|prepared| {
            let request = Request::new(
                prepared.principal.clone(),
                entry.uid.clone(),
                prepared.resource.clone(),
                context?,
                None,
            )
            .map_err(|e| format!("request: {e}"))?;
            Ok((prepared, request))
        });
        let (prepared, request) = match built {
            Ok(built) => built,
            Err(error) => {
                tracing::warn!(%error, "authorization request could not be built; denying");
                return Decision::failed(error);
            }
        };
        let Some(buckets) = set.index.action(entry) else {
            return missing(&entry.uid.to_string());
        };
        let resource = keyed_resource.then_some(&prepared.resource);
        let mut permits = Vec::new();
        let mut forbids = Vec::new();
        let mut errors = Vec::new();
        let mut failed = Vec::new();
        for bucket in buckets.candidates(&prepared.principal, &prepared.groups, resource) {
            permits.extend(bucket.permits.iter().map(|id| set.name(id)));
            forbids.extend(bucket.forbids.iter().map(|id| set.name(id)));
            if bucket.evaluate.is_empty() {
                continue;
            }
            let response =
                self.authorizer
                    .is_authorized(&request, &bucket.evaluate, &prepared.entities);
            let diagnostics = response.diagnostics();
            // Cedar names the satisfied permits on Allow and the satisfied forbids on Deny.
            let reasons = diagnostics.reason().map(|id| set.name(id));
            match response.decision() {
                CedarDecision::Allow => permits.extend(reasons),
                CedarDecision::Deny => forbids.extend(reasons),
            }
            errors.extend(diagnostics.errors().map(|e| match e {
                AuthorizationError::PolicyEvaluationError(e) => {
                    failed.push(set.name(e.policy_id()));
                    format!("policy \"{}\": {}", set.name(e.policy_id()), e.inner())
                }
            }));
        }
        let allowed = forbids.is_empty() && !permits.is_empty();
        let mut policies = if allowed { permits } else { forbids };
        policies.sort_unstable();
        failed.sort_unstable();
        failed.dedup();
        Decision {
            allowed,
            policies,
            errors,
            failed,
        }
    }
}

fn missing(action: &str) -> Decision {
    Decision::failed(format!("action `{action}` is missing from the schema"))
}
