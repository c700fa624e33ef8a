//! Identity and access: who is calling ([`identity`]): users, groups, API keys and admin
//! tokens, their storage contract, and the authenticator that turns a bearer secret into
//! a [`identity::Principal`]. Cedar authorization and limits join this crate next.

pub mod identity;
pub mod time;
