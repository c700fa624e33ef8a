"""Chat completions through the official SDK, plain and streamed, for the simulated model
and the mock OpenAI upstream."""

from __future__ import annotations

import openai

from conftest import MOCK, MOCK_REPLY, SIM, SIM_ALIAS

MESSAGES = [{"role": "user", "content": "Say hello to the end-to-end tests."}]


def stream_chunks(client: openai.OpenAI, model: str, **kwargs) -> list:
    return list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True, **kwargs))


def text_of(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_chat_returns_content_usage_and_public_model(client: openai.OpenAI, model: str):
    """A plain completion has content, usage, and the model name the client asked for
    (not the upstream's name), plus the gateway's request id and overhead headers."""
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    completion = raw.parse()

    assert completion.object == "chat.completion"
    assert completion.model == model
    message = completion.choices[0].message
    assert message.role == "assistant"
    assert message.content
    assert completion.choices[0].finish_reason == "stop"
    if model == MOCK:
        assert message.content == MOCK_REPLY
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    assert raw.headers.get("x-request-id")
    overhead = raw.headers.get("x-palisade-overhead-ms")
    assert overhead is not None and float(overhead) >= 0


def test_caller_request_id_is_kept(client: openai.OpenAI):
    """A plain `x-request-id` from the caller is echoed back, so logs can be correlated."""
    raw = client.chat.completions.with_raw_response.create(
        model=SIM, messages=MESSAGES, extra_headers={"x-request-id": "e2e-trace-42"}
    )
    assert raw.headers.get("x-request-id") == "e2e-trace-42"


def test_alias_routes_to_canonical_model(client: openai.OpenAI):
    """A request by alias is served and answered under the canonical model name."""
    completion = client.chat.completions.create(model=SIM_ALIAS, messages=MESSAGES)
    assert completion.model == SIM
    assert completion.choices[0].message.content


def test_stream_text_matches_non_streamed(client: openai.OpenAI, model: str):
    """Streamed text arrives in several chunks that concatenate to the non-streamed answer."""
    full = client.chat.completions.create(model=model, messages=MESSAGES).choices[0].message.content
    chunks = stream_chunks(client, model)

    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    # The mock's one-sentence answer (50 bytes) is barely longer than the scanner's
    # hold-back (48 bytes, released at word boundaries): it may come as one chunk.
    assert len(content_chunks) > 1 or (model == MOCK and len(MOCK_REPLY) < 64)
    assert text_of(chunks) == full
    if model == MOCK:
        assert text_of(chunks) == MOCK_REPLY
    assert all(c.model == model for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]


def test_stream_without_include_usage_has_no_usage(client: openai.OpenAI, model: str):
    """Without stream_options.include_usage no chunk carries usage (as OpenAI behaves),
    even though the gateway asks its upstream for usage to account tokens."""
    chunks = stream_chunks(client, model)
    assert chunks
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks), "no usage-only chunk may reach the client"


def test_stream_with_include_usage_ends_with_usage(client: openai.OpenAI, model: str):
    """With include_usage the last chunk carries usage (and no choices), and only it."""
    chunks = stream_chunks(client, model, stream_options={"include_usage": True})
    last = chunks[-1]
    assert last.usage is not None
    assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert last.choices == []
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_response_headers(client: openai.OpenAI, model: str):
    """A stream is served as text/event-stream with the gateway's request id."""
    with client.chat.completions.with_streaming_response.create(model=model, messages=MESSAGES, stream=True) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers.get("x-request-id")
        assert resp.headers.get("x-palisade-overhead-ms") is not None
        body = "".join(resp.iter_text())
    assert body.rstrip().endswith("data: [DONE]")
