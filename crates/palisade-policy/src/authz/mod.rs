//! Authorization with Cedar: who may do what, decided per request and per admin action.
//!
//! - [`schema`]: the Palisade schema (`palisade.cedarschema`) and default policy set
//!   (`default.cedar`), and what is derived from them once per process.
//! - [`actions`]: [`DataAction`] and [`AdminAction`], the questions asked.
//! - [`request`]: the facts of one question ([`ModelAttrs`], [`RequestFacts`], [`Clock`])
//!   and their Cedar form.
//! - [`load`]: policy text → a validated set (unique `@id`s, strict schema validation).
//! - [`engine`]: [`PolicyEngine`], the set in force, hot-swappable.
//! - [`decision`]: [`Decision`], [`PolicySummary`], [`PolicyError`].
//!
//! Default deny; a matching `forbid` always wins. See `docs/policies.md`.

mod actions;
mod decision;
mod engine;
mod load;
mod request;
mod schema;

pub use actions::{AdminAction, DataAction, UnknownAction};
pub use decision::{Decision, PolicyError, PolicySummary};
pub use engine::PolicyEngine;
pub use request::{Clock, ModelAttrs, RequestFacts};
pub use schema::{DEFAULT_POLICIES, NAMESPACE, SCHEMA};

#[cfg(test)]
mod tests;
