//! Token counts for admission: prompts are counted with the `o200k_base` BPE (the
//! tokenizer of OpenAI's current models; a close estimate for others), using the chat
//! format's per-message overhead. Counting happens once per request, before limits and
//! policy see the estimate.
//!
//! The count is tiktoken's (`count_ordinary`), reached faster: the text is cut into
//! BPE pieces by [`split`] (tiktoken's own pattern, followed by hand instead of by a
//! backtracking regex engine) and each piece's tokens come from a per-thread [`memo`],
//! tiktoken counting only the pieces the memo has not seen.

mod memo;
mod split;

use palisade_config::TokenEncoding;
use palisade_protocol::openai::model_text;
use palisade_protocol::openai::{ChatRequest, ChatResponse, EmbeddingInput, EmbeddingsRequest};
use tiktoken_rs::CoreBPE;

/// Tokens the chat format adds per message and per reply, as OpenAI documents them.
const PER_MESSAGE: u64 = 3;
const REPLY_PRIMING: u64 = 3;

fn bpe() -> &'static CoreBPE {
    tiktoken_rs::o200k_base_singleton()
}

/// Loads the tokenizer now, so the first request does not pay for it.
pub fn warm_up() {
    let _ = count("Warm up: the tables, 1 2 3.");
}

pub fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    memo::sum(
        |piece| split::for_each_piece(text, piece),
        |piece| bpe().count_ordinary(piece),
    )
}

/// Prompt tokens of a chat request: every message's text, names, tool calls and other
/// model-text fields (an earlier turn's reasoning or refusal), and the tool definitions.
pub fn chat_prompt(req: &ChatRequest) -> u64 {
    let mut total = REPLY_PRIMING;
    for m in &req.messages {
        total += PER_MESSAGE + count(&m.text_content());
        if let Some(name) = &m.name {
            total += count(name) + 1;
        }
        for call in m.tool_calls.iter().flatten() {
            total += count(&call.function.name) + count(&call.function.arguments) + 3;
        }
        for field in model_text::TEXT_FIELDS {
            total += field.get(&m.extra).map_or(0, count);
        }
    }
    if let Some(tools) = &req.tools {
        total += count(&serde_json::to_string(tools).unwrap_or_default());
    }
    total
}

/// Output tokens of a (non-streamed) answer, for an upstream that reports no usage: every
/// choice's text, tool-call arguments and model-text fields.
pub fn completion(resp: &ChatResponse) -> u64 {
    resp.choices
        .iter()
        .map(|c| {
            let m = &c.message;
            let calls: u64 = m
                .tool_calls
                .iter()
                .flatten()
                .map(|t| count(&t.function.arguments))
                .sum();
            let fields: u64 = model_text::TEXT_FIELDS
                .iter()
                .filter_map(|f| f.get(&m.extra))
                .map(count)
                .sum();
            count(&m.text_content()) + calls + fields
        })
        .sum()
}

/// Input tokens of an embeddings request (token-id inputs count as given).
pub fn embeddings(req: &EmbeddingsRequest) -> u64 {
    match &req.input {
        EmbeddingInput::One(s) => count(s),
        EmbeddingInput::Many(v) => v.iter().map(|s| count(s)).sum(),
        EmbeddingInput::Tokens(t) => t.len() as u64,
        EmbeddingInput::TokenBatches(b) => b.iter().map(|t| t.len() as u64).sum(),
    }
}

/// The texts a token-id embeddings input spells in the model's vocabulary (OpenAI's
/// embedding models read `cl100k_base` ids, what LangChain's `OpenAIEmbeddings` sends by
/// default). `None` for text input and for ids that are not a UTF-8 text in that
/// vocabulary.
pub fn spelled_embedding_input(
    encoding: TokenEncoding,
    input: &EmbeddingInput,
) -> Option<Vec<String>> {
    let bpe = match encoding {
        TokenEncoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        TokenEncoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
    };
    let batches: Vec<&Vec<u32>> = match input {
        EmbeddingInput::Tokens(t) => vec![t],
        EmbeddingInput::TokenBatches(b) => b.iter().collect(),
        EmbeddingInput::One(_) | EmbeddingInput::Many(_) => return None,
    };
    batches
        .into_iter()
        .map(|ids| bpe.decode(ids).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_protocol::openai::ChatMessage;

    #[test]
    fn openai_embedding_token_ids_spell_their_text() {
        let text = "the key is AKIAZ7Q4PLMR2WX5TYUV";
        let ids = tiktoken_rs::cl100k_base_singleton().encode_ordinary(text);
        let one = EmbeddingInput::Tokens(ids.clone());
        let many = EmbeddingInput::TokenBatches(vec![ids.clone(), vec![15339]]);
        assert_eq!(
            spelled_embedding_input(TokenEncoding::Cl100kBase, &one),
            Some(vec![text.to_owned()])
        );
        assert_eq!(
            spelled_embedding_input(TokenEncoding::Cl100kBase, &many),
            Some(vec![text.to_owned(), "hello".to_owned()])
        );
        // The same ids read in another vocabulary spell something else; ids out of the
        // vocabulary spell nothing.
        assert_ne!(
            spelled_embedding_input(TokenEncoding::O200kBase, &one),
            Some(vec![text.to_owned()])
        );
        let bad = EmbeddingInput::Tokens(vec![u32::MAX]);
        assert_eq!(
            spelled_embedding_input(TokenEncoding::Cl100kBase, &bad),
            None
        );
        let text_input = EmbeddingInput::One(text.to_owned());
        assert_eq!(
            spelled_embedding_input(TokenEncoding::Cl100kBase, &text_input),
            None
        );
    }

    #[test]
    fn counts_real_tokens() {
        assert_eq!(count("hello world"), 2);
        assert_eq!(count(""), 0);
    }

    #[test]
    fn an_answer_counts_its_text_arguments_and_reasoning() {
        let resp: ChatResponse = serde_json::from_value(serde_json::json!({
            "id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [
                {"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hello world",
                             "reasoning_content": "hello world"}},
                {"index": 1, "finish_reason": "tool_calls",
                 "message": {"role": "assistant", "content": null, "tool_calls": [
                     {"id": "t", "type": "function", "function": {"name": "f", "arguments": "hello world"}}]}}
            ]
        }))
        .unwrap();
        assert_eq!(completion(&resp), 6);
    }

    #[test]
    fn chat_prompt_adds_format_overhead() {
        let req: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hello world"}]
        }))
        .unwrap();
        assert_eq!(chat_prompt(&req), 3 + 3 + 2);
        let mut two = req.clone();
        two.messages
            .push(ChatMessage::text("assistant", "hello world"));
        assert_eq!(chat_prompt(&two), chat_prompt(&req) + 5);
    }
}
