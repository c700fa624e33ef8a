//! Authorization with Cedar: who may do what, decided per request and per admin action.
//!
//! - `schema`: the Palisade schema (`palisade.cedarschema`) and default policy set
//!   (`default.cedar`), and what is derived from them once per process.
//! - `actions`: [`DataAction`] and [`AdminAction`], the questions asked.
//! - `request`: the facts of one question ([`ModelAttrs`], [`RequestFacts`], [`Clock`])
//!   and the Cedar context built from them; `entities`: the entity store of a question,
//!   remembered per thread (`cache`).
//! - `load`: policy text → a validated set (unique `@id`s, strict schema validation),
//!   indexed by action and scope (`index`) so a decision evaluates only the policies
//!   that could apply.
//! - `engine`: [`PolicyEngine`], the set in force, hot-swappable.
//! - `decision`: [`Decision`], [`PolicySummary`], [`PolicyError`].
//!
//! Default deny; a matching `forbid` always wins. See `docs/policies.md`.

mod actions;
mod cache;
mod decision;
mod engine;
mod entities;
mod index;
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
