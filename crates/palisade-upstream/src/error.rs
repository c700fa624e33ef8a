//! What can go wrong talking to an upstream. Messages are for logs: the gateway's error
//! mapping decides what a client sees, and never forwards upstream internals verbatim
//! except a client-error message the upstream addressed to the caller.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum UpstreamError {
    #[error("could not connect to upstream: {0}")]
    Connect(String),
    #[error("upstream did not answer in time")]
    Timeout,
    /// The upstream answered with a non-success status.
    #[error("upstream answered {status}")]
    Status {
        status: u16,
        /// The upstream's error message, kept only for 4xx answers about the request.
        message: Option<String>,
        /// With the message: the upstream's `error.code` and `error.param`
        /// (`context_length_exceeded`, `messages`), which clients match on.
        code: Option<String>,
        param: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("upstream sent an invalid response: {0}")]
    Protocol(String),
    #[error("upstream stream broke: {0}")]
    StreamBroken(String),
    /// The exchange failed after the request may have reached the upstream (a reset
    /// while waiting for the answer): not retried, the model may already be at work.
    #[error("upstream connection failed during the exchange: {0}")]
    Interrupted(String),
    #[error("the provider does not support {0}")]
    Unsupported(&'static str),
}

impl UpstreamError {
    /// Whether trying again may succeed and is safe: the request never reached the
    /// upstream (connect failures), or the upstream said so (408, 409, 429 and 5xx, as
    /// the OpenAI SDKs retry them).
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_) => true,
            UpstreamError::Status { status, .. } => {
                matches!(*status, 408 | 409 | 429) || *status >= 500
            }
            _ => false,
        }
    }

    /// A short bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            UpstreamError::Connect(_) => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Status { .. } => "status",
            UpstreamError::Protocol(_) => "protocol",
            UpstreamError::StreamBroken(_) => "stream_broken",
            UpstreamError::Interrupted(_) => "interrupted",
            UpstreamError::Unsupported(_) => "unsupported",
        }
    }

    /// Classifies a reqwest error. A connect timeout is a connect error (reqwest flags it
    /// as both): the request never left, so trying another connection is safe.
    pub fn from_reqwest(err: &reqwest::Error) -> Self {
        if err.is_connect() {
            UpstreamError::Connect(err.to_string())
        } else if err.is_timeout() {
            UpstreamError::Timeout
        } else if err.is_decode() || err.is_body() {
            UpstreamError::Protocol(err.to_string())
        } else {
            UpstreamError::Interrupted(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_timeout_is_a_retryable_connect_error() {
        // A loopback listener whose accept queue is full drops new SYNs: the connection
        // is never made, and reqwest reports a connect error that is also a timeout.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        for _ in 0..4 {
            // Fill the queue (never accepted); later ones may themselves hang.
            if let Ok(Ok(s)) = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                queued.push(s);
            }
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_millis(200))
            .build()
            .unwrap();
        let err = client
            .get(format!("http://{addr}/"))
            .send()
            .await
            .expect_err("the connection cannot be made");
        assert!(err.is_connect() && err.is_timeout(), "{err:?}");
        let classified = UpstreamError::from_reqwest(&err);
        assert!(
            matches!(classified, UpstreamError::Connect(_)),
            "{classified:?}"
        );
        assert!(classified.is_retryable());
        drop(listener);
    }
}
