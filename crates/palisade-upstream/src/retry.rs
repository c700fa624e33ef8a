//! Retries with exponential backoff for attempts that failed before any byte reached the
//! client: connect errors, 429 and 5xx. A `Retry-After` from the upstream is honoured when
//! it is longer than our own backoff; one longer than [`MAX_RETRY_AFTER`] is not waited
//! out (nor cut short: retrying early would spend the provider's quota for nothing), and
//! neither is a wait that would end after the caller's deadline ([`with_deadline`]): the
//! error goes back at once, for the client to retry when it is told to.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::UpstreamError;

const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `call` with a deadline its retries respect: a retry whose wait would end after
/// it is not attempted. (The caller still bounds `call` itself.)
pub async fn with_deadline<F: Future>(deadline: Instant, call: F) -> F::Output {
    DEADLINE.scope(deadline, call).await
}

/// Whether a wait from now would end after the deadline [`with_deadline`] set, if any.
fn past_deadline(wait: Duration) -> bool {
    DEADLINE
        .try_with(|deadline| Instant::now() + wait > *deadline)
        .unwrap_or(false)
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff: Duration,
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails with a non-retryable error, or retries are
    /// exhausted.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, UpstreamError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let mut tries = 0u32;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(err) if err.is_retryable() && tries < self.max_retries => {
                    let mut wait = self.backoff.saturating_mul(2u32.saturating_pow(tries));
                    if let UpstreamError::Status {
                        retry_after: Some(ra),
                        ..
                    } = &err
                    {
                        if *ra > MAX_RETRY_AFTER {
                            return Err(err);
                        }
                        wait = wait.max(*ra);
                    }
                    if past_deadline(wait) {
                        return Err(err);
                    }
                    tries += 1;
                    tracing::debug!(error = %err, attempt = tries, wait_ms = wait.as_millis() as u64, "retrying upstream call");
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn rate_limited(retry_after: u64) -> UpstreamError {
        UpstreamError::Status {
            status: 429,
            message: None,
            code: None,
            param: None,
            retry_after: Some(Duration::from_secs(retry_after)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_or_the_cap_is_not_taken() {
        let policy = RetryPolicy {
            max_retries: 3,
            backoff: Duration::from_millis(10),
        };
        let calls = AtomicU32::new(0);
        let attempt = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(rate_limited(5))
        };
        // 5 s asked, 2 s left: the 429 goes back at once.
        let deadline = Instant::now() + Duration::from_secs(2);
        let started = Instant::now();
        assert!(with_deadline(deadline, policy.run(attempt)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
        // Within the deadline, it is waited out.
        calls.store(0, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        assert!(with_deadline(deadline, policy.run(attempt)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Longer than the cap: not retried early.
        let calls = AtomicU32::new(0);
        let res = policy
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(rate_limited(60))
            })
            .await;
        assert!(res.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_then_gives_up() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            max_retries: 2,
            backoff: Duration::from_millis(10),
        };
        let res: Result<(), _> = policy
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(UpstreamError::Status {
                    status: 503,
                    message: None,
                    code: None,
                    param: None,
                    retry_after: None,
                })
            })
            .await;
        assert!(res.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_client_errors() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            max_retries: 5,
            backoff: Duration::from_millis(10),
        };
        let res: Result<(), _> = policy
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(UpstreamError::Status {
                    status: 400,
                    message: None,
                    code: None,
                    param: None,
                    retry_after: None,
                })
            })
            .await;
        assert!(res.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn what_is_retried() {
        let status = |status| UpstreamError::Status {
            status,
            message: None,
            code: None,
            param: None,
            retry_after: None,
        };
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
    }
}
