//! `POST /v1/embeddings`: request and response types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model_text;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: EmbeddingInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingsRequest {
    /// Every string of the fields Palisade has no type for, by field, but the end-user
    /// id (`user`, scanned on its own): what the client sends beside the input reaches
    /// the provider too (an instruction, a task prefix, `metadata`).
    pub fn other_texts_mut(&mut self) -> Vec<(&str, &mut String)> {
        model_text::client_field_texts_mut(&mut self.extra, &["user"])
    }

    /// The names in its other fields, by field ([`model_text::client_field_names`]):
    /// scanned as names, never rewritten.
    pub fn names(&self) -> Vec<(&str, &str)> {
        model_text::client_field_names(&self.extra, &["user"])
    }
}

/// The input to embed: one string, several, or pre-tokenized ids.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenBatches(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// The textual inputs, one per embedding to produce (token inputs yield none).
    pub fn texts(&self) -> Vec<&str> {
        match self {
            EmbeddingInput::One(s) => vec![s.as_str()],
            EmbeddingInput::Many(v) => v.iter().map(String::as_str).collect(),
            EmbeddingInput::Tokens(_) | EmbeddingInput::TokenBatches(_) => Vec::new(),
        }
    }

    /// How many embeddings the input asks for.
    pub fn len(&self) -> usize {
        match self {
            EmbeddingInput::One(_) | EmbeddingInput::Tokens(_) => 1,
            EmbeddingInput::Many(v) => v.len(),
            EmbeddingInput::TokenBatches(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingsResponse {
    #[serde(default = "list_object")]
    pub object: String,
    pub data: Vec<Embedding>,
    pub model: String,
    pub usage: EmbeddingsUsage,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn list_object() -> String {
    "list".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Embedding {
    #[serde(default = "embedding_object")]
    pub object: String,
    pub index: u32,
    /// A float array, or a base64 string when `encoding_format` was `base64`.
    pub embedding: Value,
}

fn embedding_object() -> String {
    "embedding".to_owned()
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmbeddingsUsage {
    pub prompt_tokens: u64,
    pub total_tokens: u64,
}
