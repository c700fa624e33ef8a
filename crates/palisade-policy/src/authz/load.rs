//! Turning policy text into a [`LoadedSet`]: parse, refuse templates, name every policy
//! (its `@id`, else Cedar's id) and refuse duplicate names, validate strictly against
//! the Palisade schema, then index the policies by scope. Nothing here runs per request.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{PolicyId, PolicySet, ValidationMode};

use super::decision::{PolicyError, PolicySummary, position, render, report};
use super::index::ScopeIndex;
use super::request::ContextUse;
use super::schema::catalog;

/// A parsed, validated policy set, ready to answer requests.
pub(crate) struct LoadedSet {
    pub source: Arc<str>,
    /// Cedar id → the name decisions report.
    pub names: HashMap<PolicyId, String>,
    pub summary: PolicySummary,
    /// The policies by action and scope.
    pub index: ScopeIndex,
    /// The context attributes the policies can observe (the others are left out).
    pub context_use: ContextUse,
}

impl LoadedSet {
    /// The name decisions report for a Cedar policy id.
    pub fn name(&self, id: &PolicyId) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// One policy (or template) as written: where it starts and what it is called.
struct Written {
    id: PolicyId,
    annotation: Option<String>,
    /// Byte offset of the policy's text in the source, when it can be found.
    offset: Option<usize>,
    template: bool,
}

pub(crate) fn load(source: &str) -> Result<LoadedSet, PolicyError> {
    let catalog = catalog()?;
    let policies = PolicySet::from_str(source).map_err(|errs| {
        let problems: Vec<String> = errs.iter().map(|e| render(source, e)).collect();
        PolicyError::Parse(report("policy set does not parse", &problems))
    })?;
    let written = in_source_order(source, &policies);
    let at = |w: &Written| match w.offset.map(|o| position(source, o)) {
        Some((line, column)) => format!("line {line}, column {column}"),
        None => format!("policy `{}`", w.id),
    };

    let templates: Vec<String> = written
        .iter()
        .filter(|w| w.template)
        .map(|w| {
            format!(
                "{}: template `{}` has slots (?principal/?resource)",
                at(w),
                w.id
            )
        })
        .collect();
    if !templates.is_empty() {
        let headline = "policy templates are not supported; write static policies";
        return Err(PolicyError::Unsupported(report(headline, &templates)));
    }

    let empty: Vec<String> = written
        .iter()
        .filter(|w| w.annotation.as_deref().is_some_and(|a| a.trim().is_empty()))
        .map(|w| format!("{}: policy `{}` has an empty @id", at(w), w.id))
        .collect();
    if !empty.is_empty() {
        return Err(PolicyError::InvalidId(report(
            "policy @id must not be empty",
            &empty,
        )));
    }

    let name_of = |w: &Written| w.annotation.clone().unwrap_or_else(|| w.id.to_string());
    let mut first_seen: HashMap<String, &Written> = HashMap::new();
    let mut duplicates = Vec::new();
    for w in &written {
        let name = name_of(w);
        if let Some(first) = first_seen.get(&name) {
            duplicates.push(format!(
                "\"{name}\" names the policies at {} and {}",
                at(first),
                at(w)
            ));
        } else {
            first_seen.insert(name, w);
        }
    }
    if !duplicates.is_empty() {
        let headline = "policy names (@id) must be unique within a set";
        return Err(PolicyError::DuplicateId(report(headline, &duplicates)));
    }
    let names: HashMap<PolicyId, String> =
        written.iter().map(|w| (w.id.clone(), name_of(w))).collect();

    let located = |id: &PolicyId, rendered: String| match names.get(id) {
        Some(name) if name != &id.to_string() => format!("policy \"{name}\": {rendered}"),
        _ => rendered,
    };
    let result = catalog
        .validator
        .validate(&policies, ValidationMode::Strict);
    let problems: Vec<String> = result
        .validation_errors()
        .map(|e| located(e.policy_id(), render(source, e)))
        .collect();
    if !problems.is_empty() {
        let headline = "policy set does not match the Palisade schema";
        return Err(PolicyError::Validation(report(headline, &problems)));
    }
    let mut warnings: Vec<String> = result
        .validation_warnings()
        .map(|w| located(w.policy_id(), render(source, w)))
        .collect();
    if written.is_empty() {
        warnings.push("the policy set is empty: every request will be denied".to_owned());
    }

    let summary = PolicySummary {
        policies: written.len(),
        ids: written.iter().map(name_of).collect(),
        warnings,
    };
    let index = ScopeIndex::build(catalog, &policies).map_err(PolicyError::Schema)?;
    Ok(LoadedSet {
        source: Arc::from(source),
        context_use: ContextUse::of(&policies),
        names,
        summary,
        index,
    })
}

/// Policies and templates in the order they are written. Cedar numbers them `policy0`,
/// `policy1`, ... in source order; each one's text is found after the previous one's.
fn in_source_order(source: &str, set: &PolicySet) -> Vec<Written> {
    let mut written: Vec<(Written, Option<String>)> = set
        .policies()
        .map(|p| {
            let w = Written {
                id: p.id().clone(),
                annotation: p.annotation("id").map(str::to_owned),
                offset: None,
                template: false,
            };
            (w, p.to_cedar())
        })
        .chain(set.templates().map(|t| {
            let w = Written {
                id: t.id().clone(),
                annotation: t.annotation("id").map(str::to_owned),
                offset: None,
                template: true,
            };
            (w, Some(t.to_cedar()))
        }))
        .collect();
    let ordinal = |id: &PolicyId| {
        id.to_string()
            .strip_prefix("policy")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    };
    written.sort_by_key(|(w, _)| ordinal(&w.id));
    let mut cursor = 0;
    written
        .into_iter()
        .map(|(mut w, text)| {
            let found = text.and_then(|t| {
                let rest = source.get(cursor..)?;
                let start = cursor + rest.find(t.as_str())?;
                Some((start, t.len()))
            });
            if let Some((start, len)) = found {
                w.offset = Some(start);
                cursor = start + len;
            }
            w
        })
        .collect()
}
