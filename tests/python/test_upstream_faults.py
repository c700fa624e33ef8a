"""Upstream faults as the SDK sees them (SDK retries off): failing, unreachable, slow and
breaking upstreams give stable gateway errors, never a hang; transient failures are
retried by the gateway."""

from __future__ import annotations

import time

import openai
import pytest

from conftest import MOCK_REPLY, MockUpstream

MESSAGES = [{"role": "user", "content": "fault injection"}]


def expect_status_error(client: openai.OpenAI, model: str, status: int, code: str, **kwargs) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)
    assert exc.value.status_code == status
    assert exc.value.code == code
    assert exc.value.request_id
    return exc.value


def test_upstream_500_is_502(client: openai.OpenAI):
    """An upstream 500 (after the gateway's retries) is 502 upstream_error, and the
    upstream's own error text is not passed through."""
    err = expect_status_error(client, "mock-500", 502, "upstream_error")
    assert isinstance(err, openai.InternalServerError)
    assert err.type == "server_error"
    assert "mock failure" not in err.message


def test_upstream_500_stream_is_502(client: openai.OpenAI):
    """A stream that fails before its first byte is a plain 502, not an SSE stream."""
    expect_status_error(client, "mock-500", 502, "upstream_error", stream=True)


def test_connection_refused_is_502(client: openai.OpenAI):
    """An upstream nobody listens on is 502 upstream_error, without internal addresses."""
    err = expect_status_error(client, "mock-refused", 502, "upstream_error")
    assert "127.0.0.1" not in err.message


def test_slow_upstream_is_504(client: openai.OpenAI):
    """An upstream slower than the provider's timeout_ms (1 s) is 504 upstream_timeout,
    answered at about the timeout, not after the upstream's 8 s."""
    start = time.monotonic()
    expect_status_error(client, "mock-slow", 504, "upstream_timeout")
    assert time.monotonic() - start < 6


def test_slow_upstream_stream_is_504(client: openai.OpenAI):
    start = time.monotonic()
    expect_status_error(client, "mock-slow", 504, "upstream_timeout", stream=True)
    assert time.monotonic() - start < 6


def test_truncated_upstream_body_is_502(client: openai.OpenAI):
    """A non-streamed answer cut in half is 502 upstream_error."""
    expect_status_error(client, "mock-break", 502, "upstream_error")


def consume_broken_stream(client: openai.OpenAI, model: str) -> tuple[str, openai.APIError]:
    """Iterates a stream that must end in an error; returns the text relayed before it."""
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    received = []
    start = time.monotonic()
    with pytest.raises(openai.APIError) as exc:
        for chunk in stream:
            received.append(chunk)
    assert time.monotonic() - start < 10, "a broken stream must end promptly"
    assert not isinstance(exc.value, openai.APIConnectionError), "the stream must end with an SSE error event"
    assert exc.value.code == "upstream_error"
    assert received, "chunks before the break are relayed"
    assert all(c.model == model for c in received)
    return "".join(c.choices[0].delta.content or "" for c in received if c.choices), exc.value


def test_broken_stream_raises_api_error(client: openai.OpenAI):
    """When the upstream drops a stream mid-way the gateway ends the SSE stream with an
    error event, which the SDK raises as APIError after the chunks already relayed."""
    text, _ = consume_broken_stream(client, "mock-break")
    assert MOCK_REPLY.startswith(text) and text != MOCK_REPLY


def test_transport_break_mid_stream_raises_api_error(client: openai.OpenAI):
    """Same contract against a Python upstream that closes the connection after two
    content chunks (chunked encoding left unterminated)."""
    text, _ = consume_broken_stream(client, "py-break")
    assert text == "Hello from "


def test_stream_without_done_raises_api_error(client: openai.OpenAI):
    """An upstream stream that just stops (no finish_reason, no [DONE]) is reported as an
    error event, not passed off as a complete answer."""
    text, _ = consume_broken_stream(client, "mock-nodone")
    assert MOCK_REPLY.startswith(text)


def test_flaky_upstream_is_retried(client: openai.OpenAI, mock_upstream: MockUpstream):
    """The first upstream call answers 503; the gateway retries and the client only sees
    the success."""
    completion = client.chat.completions.create(model="mock-flaky", messages=MESSAGES)
    assert completion.choices[0].message.content == MOCK_REPLY
    assert completion.model == "mock-flaky"
    attempts = [r for r in mock_upstream.requests() if r["body"].get("model") == "flaky-1"]
    assert len(attempts) >= 2
