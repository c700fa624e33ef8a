//! Observability of the data plane: Prometheus metrics ([`metrics`]) and the access log
//! ([`access_log`]), which records who, what and how long — never keys, tokens or
//! content. Request ids come from `palisade_protocol::request_id`.

pub mod access_log;
pub mod metrics;
