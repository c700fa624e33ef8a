"""Secrecy, checked last (this file sorts after the others): after the whole suite's
traffic, no API key, admin token, upstream credential or prompt text appears in the
gateway's debug-level logs, and no key or token appears in the SQLite files.

The test stops the gateway itself (SIGTERM), so shutdown-time logging and the final
flush of key-use times to the database are covered too. Nothing may run after it."""

from __future__ import annotations

import json
import secrets

import openai

from conftest import MOCK, SIM, Gateway, secret_part

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]


def canary_traffic(client: openai.OpenAI, canary: str) -> list[str]:
    """Sends the canary through every model kind and mode; returns the request ids."""
    ids = []
    for model in (SIM, MOCK):
        messages = [{"role": "system", "content": f"system {canary}"}, {"role": "user", "content": f"user says {canary}"}]
        raw = client.chat.completions.with_raw_response.create(model=model, messages=messages)
        assert raw.parse().choices[0].message.content
        ids.append(raw.headers["x-request-id"])
        with client.chat.completions.with_streaming_response.create(
            model=model, messages=messages, stream=True, stream_options={"include_usage": True}
        ) as resp:
            ids.append(resp.headers["x-request-id"])
            assert "".join(resp.iter_text()).rstrip().endswith("[DONE]")
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": canary}], tools=TOOLS)
        client.embeddings.create(model=model, input=[canary, f"again {canary}"])
    # Refusals carry the canary too: a bad model name and a failing upstream.
    for model in ("mock-500", "mock-break"):
        try:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": canary}])
        except openai.APIStatusError:
            pass
    return ids


def test_no_secret_or_prompt_in_logs_or_database(gateway: Gateway, client: openai.OpenAI, api_key: str):
    canary = f"PALISADE-CANARY-{secrets.token_hex(8)}"
    request_ids = canary_traffic(client, canary)
    # A failed login with a key-shaped secret must not be echoed either.
    wrong = f"pal_aaaaaaaaaaaa_{secrets.token_hex(16)}"
    try:
        gateway.client(wrong).models.list()
    except openai.AuthenticationError:
        pass

    assert gateway.stop() == 0, "graceful shutdown should exit 0"

    logs = gateway.logs()
    for line in logs.splitlines():
        assert isinstance(json.loads(line), dict), f"not a JSON log line: {line[:200]}"
    # The check is only meaningful if the requests were logged at all (at debug level).
    assert '"level":"DEBUG"' in logs
    for rid in request_ids:
        assert rid in logs, f"request {rid} left no log line"

    secrets_to_hide = {"issued": gateway.secrets + [api_key], "upstream": [gateway.upstream_key], "rejected": [wrong]}
    for kind, values in secrets_to_hide.items():
        for value in values:
            for needle in {value, secret_part(value)}:
                assert needle not in logs, f"a {kind} secret appears in the gateway logs"
    assert canary not in logs, "prompt text appears in the gateway logs"
    assert canary.lower() not in logs.lower()

    files = gateway.db_bytes()
    assert "palisade.db" in files
    for name, data in files.items():
        for value in gateway.secrets + [api_key, wrong]:
            for needle in {value, secret_part(value)}:
                assert needle.encode() not in data, f"a secret appears in {name}"
        assert canary.encode() not in data, f"prompt text appears in {name}"
