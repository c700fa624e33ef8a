//! Identities: the records ([`model`]), how secrets are minted and checked ([`secret`]),
//! the storage contract the store crate implements ([`store`]), and the authenticators
//! for data-plane keys and admin tokens ([`authenticator`]).

pub mod authenticator;
pub mod model;
pub mod secret;
pub mod store;

pub use authenticator::{AdminAuthenticator, AuthError, Authenticator};
pub use model::*;
pub use secret::{IssuedSecret, SecretKind};
pub use store::{IdentityStore, StoreError};
