"""What the gateway forwards: unknown and optional request fields reach the upstream
unchanged, under the routed model name and the provider's own credential."""

from __future__ import annotations

import secrets

import openai

from conftest import MOCK, Gateway, MockUpstream


def forwarded(mock_upstream: MockUpstream, marker: str) -> dict:
    """The single upstream request that carried `marker`."""
    found = mock_upstream.requests_containing(marker)
    assert len(found) == 1, found
    return found[0]


def test_unknown_fields_reach_upstream_unchanged(client: openai.OpenAI, mock_upstream: MockUpstream):
    marker = f"passthrough-{secrets.token_hex(6)}"
    client.chat.completions.create(
        model=MOCK,
        messages=[{"role": "user", "content": marker}],
        response_format={"type": "json_object"},
        seed=1234,
        temperature=0.25,
        max_tokens=77,
        user="end-user-7",
        extra_body={"palisade_test_field": 123, "nested_extension": {"a": [1, "two", None], "b": True}},
    )
    rec = forwarded(mock_upstream, marker)
    body = rec["body"]
    assert rec["path"] == "/v1/chat/completions"
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "user", "content": marker}]
    assert body["palisade_test_field"] == 123
    assert body["nested_extension"] == {"a": [1, "two", None], "b": True}
    assert body["response_format"] == {"type": "json_object"}
    assert body["seed"] == 1234
    assert body["temperature"] == 0.25
    assert body["max_tokens"] == 77
    assert body["user"] == "end-user-7"
    assert not body.get("stream")


def test_stream_fields_reach_upstream(client: openai.OpenAI, mock_upstream: MockUpstream):
    """A streamed request keeps its extra fields; the gateway streams from the upstream."""
    marker = f"passthrough-stream-{secrets.token_hex(6)}"
    list(
        client.chat.completions.create(
            model=MOCK,
            messages=[{"role": "user", "content": marker}],
            stream=True,
            extra_body={"palisade_test_field": "streamed"},
        )
    )
    body = forwarded(mock_upstream, marker)["body"]
    assert body["stream"] is True
    assert body["palisade_test_field"] == "streamed"
    assert body["model"] == "gpt-4o-mini"


def test_embedding_fields_reach_upstream(client: openai.OpenAI, mock_upstream: MockUpstream):
    marker = f"passthrough-embed-{secrets.token_hex(6)}"
    client.embeddings.create(model=MOCK, input=[marker], dimensions=3, extra_body={"palisade_test_field": 7})
    body = forwarded(mock_upstream, marker)["body"]
    assert body["model"] == "gpt-4o-mini"
    assert body["input"] == [marker]
    assert body["dimensions"] == 3
    assert body["palisade_test_field"] == 7


def test_upstream_sees_provider_key_not_client_key(
    client: openai.OpenAI, mock_upstream: MockUpstream, gateway: Gateway, api_key: str
):
    """The upstream gets the provider's configured key; the client's Palisade key never
    leaves the gateway."""
    marker = f"credential-{secrets.token_hex(6)}"
    client.chat.completions.create(model=MOCK, messages=[{"role": "user", "content": marker}])
    rec = forwarded(mock_upstream, marker)
    assert rec["authorization"] == f"Bearer {gateway.upstream_key}"
    all_recorded = repr(mock_upstream.requests())
    assert api_key not in all_recorded
