//! Where the CPU-heavy steps of a request run. Counting a prompt's tokens and scanning
//! its text cost tens of microseconds per KB (the standard scanner alone about 37 µs/KB,
//! `bench/scan/RESULTS.md`): nothing for an ordinary prompt, but a body at the 4 MB
//! limit would hold its async worker — and every connection waiting on that worker — for
//! well over 100 ms, so one caller could stall everyone's traffic. From [`OFFLOAD_BYTES`] of text on, such a step runs on tokio's blocking pool
//! and the worker goes on serving other connections; below it the step runs in place,
//! where a hand-off between threads would cost more than the step.

use crate::error::GatewayError;

/// Text from this size on (about a millisecond of counting or scanning) is worked on off
/// the async workers.
pub const OFFLOAD_BYTES: usize = 64 * 1024;

/// Runs `work` on `input`: in place for less than [`OFFLOAD_BYTES`] of text (`size`), on
/// the blocking pool otherwise. The input travels by value and comes back in the result.
pub async fn run<T, R>(
    size: usize,
    input: T,
    work: impl FnOnce(T) -> R + Send + 'static,
) -> Result<R, GatewayError>
where
    T: Send + 'static,
    R: Send + 'static,
{
    if size < OFFLOAD_BYTES {
        return Ok(work(input));
    }
    tokio::task::spawn_blocking(move || work(input))
        .await
        .map_err(|err| {
            // Not the panic's message: it could quote the text being worked on.
            let how = if err.is_panic() {
                "panicked"
            } else {
                "was cancelled"
            };
            tracing::error!("a request step on the blocking pool {how}");
            GatewayError::Internal
        })
}

/// Like [`run`], for a step that only reads its input: returns the input with the result.
pub async fn read<T, R>(size: usize, input: T, work: fn(&T) -> R) -> Result<(T, R), GatewayError>
where
    T: Send + 'static,
    R: Send + 'static,
{
    run(size, input, move |input| {
        let result = work(&input);
        (input, result)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_work_runs_in_place_and_large_work_on_the_blocking_pool() {
        let here = std::thread::current().id();
        let small = run(10, (), |()| std::thread::current().id()).await;
        assert_eq!(small.ok(), Some(here));
        let large = run(OFFLOAD_BYTES, (), |()| std::thread::current().id()).await;
        assert!(large.is_ok_and(|id| id != here));
    }

    #[tokio::test]
    async fn a_panicking_step_is_an_internal_error() {
        let failed = run(OFFLOAD_BYTES, (), |()| -> u8 { panic!("scanner bug") }).await;
        assert!(matches!(failed, Err(GatewayError::Internal)));
    }
}
