//! Identities: the records ([`model`]), how secrets are minted and checked ([`secret`]),
//! the storage contract the store crate implements ([`store`]), the authenticators
//! for data-plane keys and admin tokens ([`authenticator`]), and the per-address count
//! of failed attempts both planes refuse floods with ([`failures`]).

pub mod authenticator;
pub mod failures;
pub mod model;
pub mod secret;
pub mod store;

pub use authenticator::{AdminAuthenticator, AuthError, Authenticator};
pub use failures::{AuthFailures, client_block};
pub use model::*;
pub use secret::{IssuedSecret, SecretKind};
pub use store::{IdentityStore, Page, PageRequest, StoreError};
