//! Identity and access: who is calling ([`identity`]): users, groups, API keys and admin
//! tokens, their storage contract, and the authenticator that turns a bearer secret into
//! a [`identity::Principal`]; what they may do ([`authz`]): Cedar policies evaluated per
//! request and per admin action, hot-reloadable, explainable; and how much ([`limits`]):
//! request, token, concurrency and budget limits in memory or shared through Redis.

pub mod authz;
pub mod identity;
pub mod limits;
pub mod time;
