//! The data plane. A request enters through [`server`] (connection limits, header
//! limits, graceful shutdown), is dispatched by [`routes`] (the route table, nothing
//! else), and runs through [`pipeline`]: authenticate → route → authorize → admit →
//! inspect input → forward → inspect output → settle → record → respond. Every refusal
//! is a [`error::GatewayError`], mapped to an OpenAI-style body in one place. Browsers of
//! the listed web origins may call it across origins ([`cors`]).
//! [`telemetry`] owns metrics, request ids and the access log.

pub mod abuse;
pub mod context;
pub mod cors;
pub mod error;
pub mod forwarded;
pub mod idle;
pub mod pipeline;
pub mod routes;
pub mod routing;
pub mod scanning;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod tokens;

pub use routes::router;
pub use routing::{ModelRoute, RouteTable};
pub use state::GatewayState;
