//! The JSON request body of admin calls: axum's `Json` extractor, with its rejections
//! (malformed JSON, a field of the wrong type, a missing `Content-Type`) answered like
//! every other admin error — `400 invalid_request_error` in the OpenAI error shape, `413
//! request_too_large` for a body over the limit — instead of axum's plain-text bodies.

use axum::extract::{FromRequest, Request};

use crate::error::AdminError;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AdminError::TooLarge(rejection.body_text()))
            }
            Err(rejection) => Err(AdminError::Invalid(rejection.body_text())),
        }
    }
}
