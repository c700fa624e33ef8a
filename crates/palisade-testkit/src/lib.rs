//! Test and benchmark harness: a configurable mock upstream ([`mock_upstream`]) speaking
//! the OpenAI API with scenarios chosen by model name, and service harnesses for real
//! databases started on loopback ([`postgres`]).

pub mod mock_upstream;
pub mod postgres;
pub mod redis;
mod service;
