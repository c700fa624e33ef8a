//! Every way the data plane refuses or fails a request, and the one place that maps each
//! to an HTTP status and an OpenAI-style error body with a stable `code`. Internal details
//! (store errors, upstream internals) go to logs, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palisade_policy::identity::AuthError;
use palisade_policy::limits::{Refusal, RefusalCode};
use palisade_protocol::openai::ErrorBody;
use palisade_upstream::UpstreamError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    #[error("invalid request: {message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    #[error("request body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request headers exceed {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("model `{0}` not found")]
    ModelNotFound(String),
    #[error("model `{model}` does not support {what}")]
    Unsupported { model: String, what: &'static str },
    #[error("upstream failed: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("request timed out")]
    RequestTimeout,
    #[error("no such route")]
    /// `what`: the method and path asked for, bounded.
    RouteNotFound { what: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("internal error")]
    Internal,
    #[error("access to `{model}` denied by policy")]
    AccessDenied {
        model: String,
        policies: Vec<String>,
    },
    /// Denied a model the caller may not even see (`list_models` denied too): answered
    /// as an unknown model (`asked`: the name the client used), so that trying names
    /// does not reveal hidden models; recorded as the denial it is.
    #[error("access to a hidden model denied by policy")]
    ModelHidden { asked: String },
    #[error("limit refused the request: {}", .0.message)]
    Limited(Box<Refusal>),
    #[error("too many failed authentications from this address")]
    TooManyAuthFailures,
    #[error("the audit record could not be written")]
    AuditUnavailable,
    /// `param` names the request field scanned: `messages` for chat, `input` for
    /// embeddings.
    #[error("content policy violation: {}", .kinds.join(", "))]
    ContentBlocked {
        kinds: Vec<String>,
        param: &'static str,
    },
    /// Input in a form the scanners cannot read (token ids), for a model whose profile
    /// scans input: refused rather than sent upstream unchecked.
    #[error("{what} cannot be scanned")]
    Unscannable {
        what: &'static str,
        param: &'static str,
    },
}

impl GatewayError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    /// The HTTP status, OpenAI error `type`, stable `code`, client message and `param`.
    fn parts(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        String,
        Option<String>,
    ) {
        use GatewayError as E;
        match self {
            E::Auth(AuthError::Store(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "service_unavailable",
                "Credentials could not be checked right now. Please retry.".into(),
                None,
            ),
            E::AuditUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "audit_unavailable",
                "The request could not be recorded in the audit log, so it was not served. Please retry.".into(),
                None,
            ),
            E::ContentBlocked { kinds, param } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "content_policy_violation",
                format!(
                    "The request was blocked by the content policy. Found: {}.",
                    kinds.join(", ")
                ),
                Some((*param).into()),
            ),
            E::Unscannable { what, param } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unscannable_input",
                format!(
                    "The content policy for this model scans its input, and {what} cannot be scanned. Send the text instead."
                ),
                Some((*param).into()),
            ),
            E::Auth(AuthError::Missing) => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.".into(),
                None,
            ),
            E::Auth(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect, expired or revoked API key provided.".into(),
                None,
            ),
            E::InvalidRequest { message, param } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
                message.clone(),
                param.clone(),
            ),
            E::TooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
                format!("Request body exceeds the limit of {limit} bytes."),
                None,
            ),
            E::HeadersTooLarge { limit } => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "invalid_request_error",
                "request_headers_too_large",
                format!("Request headers exceed the limit of {limit} bytes."),
                None,
            ),
            E::ModelNotFound(model) | E::ModelHidden { asked: model } => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!("The model `{model}` does not exist or you do not have access to it."),
                Some("model".into()),
            ),
            E::Unsupported { model, what } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unsupported_for_model",
                format!("The model `{model}` does not support {what}."),
                Some("model".into()),
            ),
            E::Upstream(err) => upstream_parts(err),
            E::RequestTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                "request_timeout",
                "The request took longer than the gateway's request timeout.".into(),
                None,
            ),
            E::RouteNotFound { what } => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "not_found",
                format!(
                    "Unknown API route ({what}). This gateway serves POST /v1/chat/completions, \
                     POST /v1/embeddings and GET /v1/models.{}",
                    if asks_for_admin(what) {
                        " The admin API and /metrics are served on the admin listener \
                         (`server.admin_listen`), not on this one."
                    } else {
                        ""
                    }
                ),
                None,
            ),
            E::AccessDenied { model, policies } => (
                StatusCode::FORBIDDEN,
                "permission_error",
                "access_denied",
                if policies.is_empty() {
                    format!("Access to the model `{model}` is denied by policy.")
                } else {
                    format!(
                        "Access to the model `{model}` is denied by policy: {}.",
                        policies.join(", ")
                    )
                },
                None,
            ),
            E::Limited(refusal) => (
                match refusal.code {
                    RefusalCode::BackendUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::TOO_MANY_REQUESTS,
                },
                "rate_limit_error",
                refusal.code.as_str(),
                refusal.message.clone(),
                None,
            ),
            E::TooManyAuthFailures => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "too_many_auth_failures",
                "Too many failed authentications from this address. Retry in a minute.".into(),
                None,
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal_error",
                "The gateway failed to process the request.".into(),
                None,
            ),
            E::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "method_not_allowed",
                "Method not allowed on this route.".into(),
                None,
            ),
        }
    }

    /// The stable error code (also used as a metric label).
    pub fn code(&self) -> &'static str {
        self.parts().2
    }

    /// The reason the audit record and metrics give: the client's code, except for a
    /// hidden model, which the client sees as unknown and the record as denied.
    pub fn record_code(&self) -> &'static str {
        match self {
            GatewayError::ModelHidden { .. } => "access_denied",
            _ => self.code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The OpenAI-style error body. A request the provider rejected carries the
    /// provider's own `code` and `param` when it gave them (`context_length_exceeded`:
    /// what clients match on); the record keeps `upstream_rejected_request`.
    pub fn body(&self) -> ErrorBody {
        let (_, kind, code, message, param) = self.parts();
        let mut body = ErrorBody::new(message, kind, code, param);
        if let GatewayError::Upstream(UpstreamError::Status {
            status: 400 | 404 | 413 | 422,
            code,
            param,
            ..
        }) = self
        {
            if code.is_some() {
                body.error.code.clone_from(code);
            }
            if param.is_some() {
                body.error.param.clone_from(param);
            }
        }
        body
    }
}

fn upstream_parts(
    err: &UpstreamError,
) -> (
    StatusCode,
    &'static str,
    &'static str,
    String,
    Option<String>,
) {
    match err {
        UpstreamError::Timeout | UpstreamError::Status { status: 408, .. } => (
            StatusCode::GATEWAY_TIMEOUT,
            "server_error",
            "upstream_timeout",
            "The model provider did not answer in time.".into(),
            None,
        ),
        UpstreamError::Status {
            status, message, ..
        } if matches!(status, 400 | 404 | 413 | 422) => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            "invalid_request_error",
            "upstream_rejected_request",
            match message {
                Some(m) => format!("The model provider rejected the request: {m}"),
                None => "The model provider rejected the request.".into(),
            },
            None,
        ),
        UpstreamError::Status {
            status: 401 | 403, ..
        } => (
            StatusCode::BAD_GATEWAY,
            "server_error",
            "upstream_auth_failed",
            "The model provider refused the gateway's credentials or access for this model; \
             an operator must check the provider's api_key and what it may use."
                .into(),
            None,
        ),
        UpstreamError::Status { status: 429, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            "upstream_rate_limited",
            "The model provider is rate limiting requests. Please retry later.".into(),
            None,
        ),
        UpstreamError::Unsupported(what) => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "unsupported_for_model",
            format!("The model's provider does not support {what}."),
            Some("model".into()),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "server_error",
            "upstream_error",
            "The model provider failed to answer.".into(),
            None,
        ),
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let GatewayError::Upstream(UpstreamError::Status {
            status: 429,
            retry_after: Some(ra),
            ..
        }) = &self
        {
            retry_after(resp.headers_mut(), *ra);
        }
        match &self {
            GatewayError::Limited(refusal) => {
                retry_after(resp.headers_mut(), refusal.retry_after);
                for (name, value) in refusal.headers.to_pairs() {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        resp.headers_mut().insert(name, v);
                    }
                }
            }
            GatewayError::TooManyAuthFailures => {
                retry_after(resp.headers_mut(), std::time::Duration::from_secs(60))
            }
            _ => {}
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// `Retry-After` (whole seconds, at least 1) and `retry-after-ms`, which the OpenAI SDKs
/// honour for their automatic retries.
fn retry_after(headers: &mut axum::http::HeaderMap, wait: std::time::Duration) {
    let secs = wait.as_millis().div_ceil(1000).max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        headers.insert(header::RETRY_AFTER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&wait.as_millis().max(1).to_string()) {
        headers.insert("retry-after-ms", v);
    }
}

/// Whether an unknown route (`METHOD /path`) looks meant for the admin listener: the
/// usual port mix-up, worth a hint in the 404.
fn asks_for_admin(what: &str) -> bool {
    what.split_once(' ').is_some_and(|(_, path)| {
        path == "/admin" || path.starts_with("/admin/") || path == "/metrics"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            GatewayError::Auth(AuthError::Unknown).code(),
            "invalid_api_key"
        );
        assert_eq!(
            GatewayError::ModelNotFound("x".into()).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            GatewayError::TooLarge { limit: 1 }.code(),
            "request_too_large"
        );
        assert_eq!(
            GatewayError::HeadersTooLarge { limit: 1 }.code(),
            "request_headers_too_large"
        );
        assert_eq!(
            GatewayError::Upstream(UpstreamError::Timeout).code(),
            "upstream_timeout"
        );
        assert_eq!(
            GatewayError::Upstream(UpstreamError::Connect("x".into())).code(),
            "upstream_error"
        );
        let admin = GatewayError::RouteNotFound {
            what: "GET /admin/v1/keys".into(),
        };
        assert!(admin.body().error.message.contains("server.admin_listen"));
        let other = GatewayError::RouteNotFound {
            what: "GET /v2/chat".into(),
        };
        assert!(!other.body().error.message.contains("admin"));
        let rejected = GatewayError::Upstream(UpstreamError::Status {
            status: 400,
            message: Some("This model's maximum context length is 8192 tokens.".into()),
            code: Some("context_length_exceeded".into()),
            param: Some("messages".into()),
            retry_after: None,
        });
        assert_eq!(rejected.code(), "upstream_rejected_request");
        let body = rejected.body().error;
        assert_eq!(body.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(body.param.as_deref(), Some("messages"));
        assert_eq!(body.kind, "invalid_request_error");
        let internal = GatewayError::Upstream(UpstreamError::Connect("10.0.0.3 refused".into()));
        assert!(!internal.body().error.message.contains("10.0.0.3"));
    }
}
