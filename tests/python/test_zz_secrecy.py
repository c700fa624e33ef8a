"""Secrecy, checked last (this file sorts after the others): after the whole suite's
traffic, no API key, admin token, upstream credential or prompt text appears in the
gateway's debug-level logs, and no key or token appears in the SQLite files.

The module fixture sends a canary prompt through every model kind and mode, then stops
the gateway (SIGTERM), so shutdown-time logging and the final flush of key-use times to
the database are covered too. Nothing may use the gateway after this module."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import openai
import pytest

from conftest import MOCK, SIM, Gateway, secret_part

TOOLS = [
    {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
    }
]


@dataclass
class Aftermath:
    canary: str
    request_ids: list[str]
    rejected_key: str
    exit_code: int | None


def canary_traffic(client: openai.OpenAI, canary: str) -> list[str]:
    """Sends the canary through both models, plain, streamed, as tool call and as
    embeddings input, and into failing upstreams; returns the request ids."""
    ids = []
    messages = [{"role": "system", "content": f"system {canary}"}, {"role": "user", "content": f"user says {canary}"}]
    for model in (SIM, MOCK):
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
    for model in ("mock-500", "mock-break", "no-such-model"):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": canary}])
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="py-break", messages=messages, stream=True))
    return ids


@pytest.fixture(scope="module")
def aftermath(gateway: Gateway, client: openai.OpenAI) -> Aftermath:
    canary = f"PALISADE-CANARY-{secrets.token_hex(8)}"
    ids = canary_traffic(client, canary)
    # A failed login with a key-shaped secret must not be echoed either.
    rejected = f"pal_aaaaaaaaaaaa_{secrets.token_hex(16)}"
    with pytest.raises(openai.AuthenticationError):
        gateway.client(rejected).models.list()
    return Aftermath(canary=canary, request_ids=ids, rejected_key=rejected, exit_code=gateway.stop())


def all_secrets(gateway: Gateway, aftermath: Aftermath) -> list[str]:
    """Each secret, whole and as its random part alone (ids are public, secrets not)."""
    values = [*gateway.secrets, gateway.upstream_key, aftermath.rejected_key]
    return sorted({needle for v in values for needle in (v, secret_part(v))})


def test_graceful_shutdown_exits_zero(aftermath: Aftermath):
    assert aftermath.exit_code == 0


def test_logs_are_json_and_record_every_request(gateway: Gateway, aftermath: Aftermath):
    """Every log line is a JSON object, debug lines are there, and each canary request
    left a record — so the checks below look at real, complete logs."""
    logs = gateway.logs()
    for line in logs.splitlines():
        assert isinstance(json.loads(line), dict), f"not a JSON log line: {line[:200]}"
    assert '"level":"DEBUG"' in logs
    for rid in aftermath.request_ids:
        assert rid in logs, f"request {rid} left no log line"


def test_no_secret_in_logs(gateway: Gateway, aftermath: Aftermath):
    logs = gateway.logs()
    assert len(gateway.secrets) > 5, "the suite should have issued several keys and tokens"
    leaked = [s[:8] + "…" for s in all_secrets(gateway, aftermath) if s in logs]
    assert not leaked, f"secrets appear in the gateway logs: {leaked}"


def test_no_prompt_text_in_logs(gateway: Gateway, aftermath: Aftermath):
    logs = gateway.logs().lower()
    assert aftermath.canary.lower() not in logs, "prompt text appears in the gateway logs"


def test_no_secret_in_database_files(gateway: Gateway, aftermath: Aftermath):
    """The SQLite database and its WAL/SHM hold hashes only, never a key or token."""
    files = gateway.db_bytes()
    assert "palisade.db" in files
    for name, data in files.items():
        leaked = [s[:8] + "…" for s in all_secrets(gateway, aftermath) if s.encode() in data]
        assert not leaked, f"secrets appear in {name}: {leaked}"
        assert aftermath.canary.encode() not in data, f"prompt text appears in {name}"
