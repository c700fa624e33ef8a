//! [`PolicyEngine`]: the policy set in force (swapped atomically on reload) and the two
//! questions the gateway and admin API ask it. Readers never block; a reload that fails
//! leaves the running set untouched.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use cedar_policy::{Authorizer, Decision as CedarDecision, Entities, Request};

use super::actions::{AdminAction, DataAction};
use super::decision::{Decision, PolicyError, PolicySummary};
use super::load::{LoadedSet, load};
use super::request::{ModelAttrs, RequestFacts, admin_request, data_request};
use super::schema::{Catalog, catalog};

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
        let built = data_request(
            self.catalog,
            user,
            groups,
            action,
            model,
            facts,
            self.utc_offset_minutes,
        );
        self.decide(built)
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
        let built = admin_request(
            self.catalog,
            token_id,
            role,
            action,
            client_ip,
            now_unix,
            self.utc_offset_minutes,
        );
        self.decide(built)
    }

    fn decide(&self, built: Result<(Request, Entities), String>) -> Decision {
        let (request, entities) = match built {
            Ok(built) => built,
            Err(error) => {
                tracing::warn!(%error, "authorization request could not be built; denying");
                return Decision::failed(error);
            }
        };
        let set = self.state.load();
        let response = self
            .authorizer
            .is_authorized(&request, &set.policies, &entities);
        let diagnostics = response.diagnostics();
        let mut policies: Vec<String> = diagnostics.reason().map(|id| set.name(id)).collect();
        policies.sort_unstable();
        let errors = diagnostics
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                    format!("policy \"{}\": {}", set.name(e.policy_id()), e.inner())
                }
            })
            .collect();
        Decision {
            allowed: response.decision() == CedarDecision::Allow,
            policies,
            errors,
        }
    }
}
