//! The scope index of a loaded set: for each requestable action, its policies sorted into
//! buckets by what their scope pins down (a principal, a group, a model, or nothing), so
//! a decision evaluates only the policies that could apply to it. Placement is exact
//! reasoning about scopes over Palisade's entity shapes (users are in groups only;
//! groups, models, tokens and the plane have no parents). A policy with no `when` or
//! `unless` whose whole scope is settled by its bucket is known to hold without
//! evaluation; every other candidate is evaluated by Cedar.

use std::collections::HashMap;

use cedar_policy::{
    ActionConstraint, Effect, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    PrincipalConstraint, ResourceConstraint,
};

use super::schema::{ActionEntry, Catalog};

/// Where a scope constraint sends a policy, for one action.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The constraint can never hold for this action.
    Never,
    /// It holds for every principal (resource) this action takes.
    Any,
    /// It holds exactly when this entity is the principal (resource) or, for groups, one
    /// of the principal's groups.
    Key(EntityUid),
}

/// Policies that apply whenever their bucket is selected.
#[derive(Default)]
pub(crate) struct Bucket {
    /// Policies Cedar must evaluate (they have conditions, or a scope part the bucket
    /// does not settle).
    pub evaluate: PolicySet,
    /// Scope-only permits settled by the bucket: satisfied.
    pub permits: Vec<PolicyId>,
    /// Scope-only forbids settled by the bucket: satisfied.
    pub forbids: Vec<PolicyId>,
}

impl Bucket {
    fn is_empty(&self) -> bool {
        self.evaluate.is_empty() && self.permits.is_empty() && self.forbids.is_empty()
    }

    fn add(&mut self, policy: &Policy, settled: bool) -> Result<(), String> {
        match (
            settled && !policy.has_non_scope_constraint(),
            policy.effect(),
        ) {
            (true, Effect::Permit) => self.permits.push(policy.id().clone()),
            (true, Effect::Forbid) => self.forbids.push(policy.id().clone()),
            (false, _) => self
                .evaluate
                .add(policy.clone())
                .map_err(|e| e.to_string())?,
        }
        Ok(())
    }
}

/// The policies of one action, by bucket.
#[derive(Default)]
pub(crate) struct ActionBuckets {
    /// Principal and resource both unconstrained (or only typed).
    any: Bucket,
    /// Keyed by `User`, `Group` or `AdminToken` uid.
    by_principal: HashMap<EntityUid, Bucket>,
    /// Principal unconstrained; keyed by `Model` uid.
    by_resource: HashMap<EntityUid, Bucket>,
}

impl ActionBuckets {
    /// The buckets that may apply to a request by `principal` (and its `groups`) on
    /// `resource`. Disjoint; together they hold every policy whose scope can match.
    pub fn candidates<'a>(
        &'a self,
        principal: &'a EntityUid,
        groups: &'a [EntityUid],
        resource: Option<&'a EntityUid>,
    ) -> impl Iterator<Item = &'a Bucket> {
        let keyed = std::iter::once(principal)
            .chain(groups)
            .filter_map(|uid| self.by_principal.get(uid));
        let by_resource = resource.and_then(|uid| self.by_resource.get(uid));
        std::iter::once(&self.any)
            .chain(keyed)
            .chain(by_resource)
            .filter(|bucket| !bucket.is_empty())
    }
}

/// Buckets for every action, by [`ActionEntry::slot`].
pub(crate) struct ScopeIndex {
    actions: Vec<ActionBuckets>,
}

impl ScopeIndex {
    pub fn build(catalog: &Catalog, policies: &PolicySet) -> Result<ScopeIndex, String> {
        let mut actions: Vec<ActionBuckets> = catalog
            .actions
            .iter()
            .map(|_| ActionBuckets::default())
            .collect();
        for policy in policies.policies() {
            for (entry, buckets) in catalog.actions.iter().zip(actions.iter_mut()) {
                place(catalog, entry, policy, buckets)
                    .map_err(|e| format!("indexing policy `{}`: {e}", policy.id()))?;
            }
        }
        Ok(ScopeIndex { actions })
    }

    pub fn action(&self, entry: &ActionEntry) -> Option<&ActionBuckets> {
        self.actions.get(entry.slot)
    }
}

fn place(
    catalog: &Catalog,
    entry: &ActionEntry,
    policy: &Policy,
    buckets: &mut ActionBuckets,
) -> Result<(), String> {
    if !action_matches(entry, &policy.action_constraint()) {
        return Ok(());
    }
    let principal = principal_scope(catalog, entry, policy.principal_constraint());
    let resource = resource_scope(catalog, entry, policy.resource_constraint());
    // `settled`: selecting the bucket proves the whole scope holds.
    let (bucket, settled) = match (principal, resource) {
        (Scope::Never, _) | (_, Scope::Never) => return Ok(()),
        (Scope::Key(uid), resource) => (
            buckets.by_principal.entry(uid).or_default(),
            resource == Scope::Any,
        ),
        (Scope::Any, Scope::Key(uid)) => (buckets.by_resource.entry(uid).or_default(), true),
        (Scope::Any, Scope::Any) => (&mut buckets.any, true),
    };
    bucket.add(policy, settled)
}

fn action_matches(entry: &ActionEntry, constraint: &ActionConstraint) -> bool {
    let covers = |uid: &EntityUid| *uid == entry.uid || entry.groups.contains(uid);
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => *uid == entry.uid,
        ActionConstraint::In(uids) => uids.iter().any(covers),
    }
}

/// `principal is T in uid` and friends, for the principal type of `entry`.
fn principal_scope(catalog: &Catalog, entry: &ActionEntry, c: PrincipalConstraint) -> Scope {
    let own = if entry.admin {
        &catalog.token_type
    } else {
        &catalog.user_type
    };
    // `principal in uid`: the principal itself, or (users only) one of its groups.
    let within = |uid: EntityUid| {
        let ty = uid.type_name();
        if ty == own || (!entry.admin && *ty == catalog.group_type) {
            Scope::Key(uid)
        } else {
            Scope::Never
        }
    };
    match c {
        PrincipalConstraint::Any => Scope::Any,
        PrincipalConstraint::Is(ty) => typed(&ty, own, Scope::Any),
        PrincipalConstraint::Eq(uid) => {
            let ty = uid.type_name().clone();
            typed(&ty, own, Scope::Key(uid))
        }
        PrincipalConstraint::In(uid) => within(uid),
        PrincipalConstraint::IsIn(ty, uid) => match typed(&ty, own, Scope::Any) {
            Scope::Any => within(uid),
            other => other,
        },
    }
}

/// `resource is T in uid` and friends, for the resource type of `entry`. Models and the
/// plane have no parents, so `in` is equality.
fn resource_scope(catalog: &Catalog, entry: &ActionEntry, c: ResourceConstraint) -> Scope {
    let plane_type = catalog.plane.type_name();
    let own = if entry.admin {
        plane_type
    } else {
        &catalog.model_type
    };
    let is = |uid: EntityUid| {
        if entry.admin {
            // The only plane is Plane::"admin".
            if uid == catalog.plane {
                Scope::Any
            } else {
                Scope::Never
            }
        } else {
            let ty = uid.type_name().clone();
            typed(&ty, own, Scope::Key(uid))
        }
    };
    match c {
        ResourceConstraint::Any => Scope::Any,
        ResourceConstraint::Is(ty) => typed(&ty, own, Scope::Any),
        ResourceConstraint::Eq(uid) | ResourceConstraint::In(uid) => is(uid),
        ResourceConstraint::IsIn(ty, uid) => match typed(&ty, own, Scope::Any) {
            Scope::Any => is(uid),
            other => other,
        },
    }
}

fn typed(ty: &EntityTypeName, own: &EntityTypeName, then: Scope) -> Scope {
    if ty == own { then } else { Scope::Never }
}
