"""Limits as the official SDK sees them: a 429 carries OpenAI's rate-limit headers, and
the SDK's own automatic retry honours `retry-after-ms` and succeeds once the limit
refills."""

import httpx
import openai

from conftest import SIM, Gateway


def set_rules(gateway: Gateway, rules: list[dict]) -> None:
    resp = gateway.admin("PUT", "/admin/v1/limits", json={"rules": rules})
    assert resp.status_code == 200, resp.text
    # Not persisted, and the answer says so.
    assert resp.json()["applies_to"] == "this_instance_until_restart"


def limit_records(gateway: Gateway, key_id: str) -> int:
    """How many of the key's requests the audit log has as refused by a limit."""
    resp = gateway.admin("GET", "/admin/v1/audit", params={"actor": key_id, "decision": "limit", "limit": 500})
    assert resp.status_code == 200, resp.text
    return len(resp.json()["data"])


def test_sdk_retry_honours_rate_limit_headers(gateway: Gateway):
    """12 requests a minute (one back every 5 s, so a slow run cannot refill the bucket
    between the requests of the burst)."""
    user = gateway.create_user("limited-user")
    created = gateway.create_key(user["name"])
    key, key_id = created["key"], created["id"]
    set_rules(gateway, [{"scope": "key", "match": key_id, "requests_per_minute": 12}])
    try:
        body = {"model": SIM, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(timeout=10) as http:
            statuses = [http.post(f"{gateway.base_url}/chat/completions", json=body, headers=headers).status_code for _ in range(13)]
            assert statuses[:12] == [200] * 12
            assert statuses[12] == 429
            refused = http.post(f"{gateway.base_url}/chat/completions", json=body, headers=headers)
            assert refused.headers["x-ratelimit-limit-requests"] == "12"
            assert refused.headers["x-ratelimit-remaining-requests"] == "0"
            assert 0 < int(refused.headers["retry-after-ms"]) <= 5000
            assert refused.json()["error"]["code"] == "rate_limit_exceeded"

        no_retry = gateway.client(key, max_retries=0)
        try:
            no_retry.chat.completions.create(**body)
            raise AssertionError("expected a 429")
        except openai.RateLimitError as err:
            assert err.status_code == 429

        # The SDK is refused, waits what `retry-after-ms` says, and is served: the log
        # shows the refusal it retried after (no clock involved).
        refusals = limit_records(gateway, key_id)
        retrying = gateway.client(key, max_retries=3)
        reply = retrying.chat.completions.create(**body)
        assert reply.choices[0].message.content
        assert limit_records(gateway, key_id) > refusals, "the SDK's first try was refused and retried"
    finally:
        set_rules(gateway, [])
