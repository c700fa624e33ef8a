//! Test and benchmark harness: a configurable mock upstream ([`mock_upstream`]) speaking
//! the OpenAI API with scenarios chosen by model name, a mock Anthropic Messages API
//! ([`mock_anthropic`]), and service harnesses for real
//! databases started on loopback ([`postgres`]); [`manifest_dir`] for test data paths.

pub mod mock_anthropic;
pub mod mock_upstream;
pub mod postgres;
pub mod redis;
mod service;

/// The manifest directory of the crate whose test is running, as cargo (and nextest) set
/// it when they run the test; else the current directory, where they run it. Not
/// `env!("CARGO_MANIFEST_DIR")`: that is baked in at compile time, and a test binary
/// reused from a shared target directory may have been built in another checkout, since
/// deleted.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| ".".into(), Into::into)
}
