//! Test and benchmark harness: a configurable mock upstream ([`mock_upstream`]) speaking
//! the OpenAI API with scenarios chosen by model name, a mock Anthropic Messages API
//! ([`mock_anthropic`]), and service harnesses for real
//! databases started on loopback ([`postgres`]).

pub mod mock_anthropic;
pub mod mock_upstream;
pub mod postgres;
pub mod redis;
mod service;
