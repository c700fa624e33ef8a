//! The admin plane. It listens on its own address, authenticates every route but
//! `/healthz` and `/readyz` with an admin token, and checks the token's role:
//! `auditor` reads, `operator` also writes users, groups and keys, `admin` also mints
//! admin tokens. Handlers are grouped by resource in [`handlers`]; [`auth`] holds the
//! role check, [`error`] the single error mapping, [`audit_layer`] the ledger record of
//! every admin call.

pub mod audit_layer;
pub mod auth;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod routes;
pub mod state;

pub use routes::{router, router_with_shutdown};
pub use state::AdminState;
