//! OpenAI's error body: `{"error":{"message","type","code","param"}}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<String>,
    pub param: Option<String>,
}

impl ErrorBody {
    pub fn new(message: impl Into<String>, kind: &str, code: &str, param: Option<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                message: message.into(),
                kind: kind.to_owned(),
                code: Some(code.to_owned()),
                param,
            },
        }
    }
}
