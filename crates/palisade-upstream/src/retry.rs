//! Retries with exponential backoff for attempts that failed before any byte reached the
//! client: connect errors, 429 and 5xx. A `Retry-After` from the upstream is honoured when
//! it is longer than our own backoff (capped).

use std::future::Future;
use std::time::Duration;

use crate::UpstreamError;

const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

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
                        wait = wait.max((*ra).min(MAX_RETRY_AFTER));
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
