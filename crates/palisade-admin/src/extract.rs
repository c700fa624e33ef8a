//! The admin API's request extractors: axum's `Json`, `Path`, `Query` and `String`, with
//! their rejections (malformed JSON, a field of the wrong type, a missing `Content-Type`,
//! a path segment that is not UTF-8, a repeated query parameter, a body over the limit)
//! answered like every other admin error — `400 invalid_request_error` in the OpenAI
//! error shape, `413 request_too_large` for a body over the limit — instead of axum's
//! plain-text bodies.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::error::AdminError;

/// An axum rejection as an admin error.
fn rejected(status: StatusCode, text: String) -> AdminError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        AdminError::TooLarge(text)
    } else {
        AdminError::Invalid(text)
    }
}

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(value)| JsonBody(value))
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}

/// A UTF-8 text body.
pub struct TextBody(pub String);

impl<S: Send + Sync> FromRequest<S> for TextBody {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        String::from_request(req, state)
            .await
            .map(TextBody)
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}

/// The route's path parameters.
pub struct PathParam<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParam<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}

/// The query string's parameters.
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|r| rejected(r.status(), r.body_text()))
    }
}
