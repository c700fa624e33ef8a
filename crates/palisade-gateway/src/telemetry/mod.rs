//! Observability of the data plane: Prometheus metrics ([`metrics`]), request ids
//! ([`request_id`]) and the access log ([`access_log`]), which records who, what and how
//! long — never keys, tokens or content.

pub mod access_log;
pub mod metrics;
pub mod request_id;
