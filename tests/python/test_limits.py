"""Limits as the official SDK sees them: a 429 carries OpenAI's rate-limit headers, and
the SDK's own automatic retry honours `retry-after-ms` and succeeds once the limit
refills."""

import time

import httpx
import openai

from conftest import SIM, Gateway


def set_rules(gateway: Gateway, rules: list[dict]) -> None:
    resp = gateway.admin("PUT", "/admin/v1/limits", json={"rules": rules})
    assert resp.status_code == 200, resp.text


def test_sdk_retry_honours_rate_limit_headers(gateway: Gateway):
    user = gateway.create_user("limited-user")
    created = gateway.create_key(user["name"])
    key, key_id = created["key"], created["id"]
    set_rules(gateway, [{"scope": "key", "match": key_id, "requests_per_minute": 30}])
    try:
        body = {"model": SIM, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(timeout=10) as http:
            statuses = [http.post(f"{gateway.base_url}/chat/completions", json=body, headers=headers).status_code for _ in range(31)]
            assert statuses[:30] == [200] * 30
            assert statuses[30] == 429
            refused = http.post(f"{gateway.base_url}/chat/completions", json=body, headers=headers)
            assert refused.headers["x-ratelimit-limit-requests"] == "30"
            assert refused.headers["x-ratelimit-remaining-requests"] == "0"
            assert 0 < int(refused.headers["retry-after-ms"]) <= 2000
            assert refused.json()["error"]["code"] == "rate_limit_exceeded"

        no_retry = gateway.client(key, max_retries=0)
        try:
            no_retry.chat.completions.create(**body)
            raise AssertionError("expected a 429")
        except openai.RateLimitError as err:
            assert err.status_code == 429

        retrying = gateway.client(key, max_retries=3)
        started = time.monotonic()
        reply = retrying.chat.completions.create(**body)
        assert reply.choices[0].message.content
        assert time.monotonic() - started >= 0.5, "the SDK waited for the limit to refill"
    finally:
        set_rules(gateway, [])
