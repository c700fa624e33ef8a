"""API key lifecycle as clients feel it: revocation takes effect at once, expiry is
enforced, and a key cannot be created already expired."""

from __future__ import annotations

import time

import openai
import pytest

from conftest import SIM, Gateway

MESSAGES = [{"role": "user", "content": "key lifecycle"}]


def works(client: openai.OpenAI) -> bool:
    return bool(client.chat.completions.create(model=SIM, messages=MESSAGES).choices[0].message.content)


def test_revoked_key_is_refused_at_once(gateway: Gateway, test_user: dict):
    """DELETE /admin/v1/keys/{id} makes the very next call with that key fail."""
    created = gateway.create_key(test_user["name"], name="to-revoke")
    client = gateway.client(created["key"])
    assert works(client)

    resp = gateway.admin("DELETE", f"/admin/v1/keys/{created['id']}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["revoked_at"] is not None

    with pytest.raises(openai.AuthenticationError) as exc:
        client.chat.completions.create(model=SIM, messages=MESSAGES)
    assert exc.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_revoking_unknown_key_is_404(gateway: Gateway):
    assert gateway.admin("DELETE", "/admin/v1/keys/doesnotexist").status_code == 404


def test_expires_at_in_the_past_is_rejected(gateway: Gateway, test_user: dict):
    resp = gateway.admin(
        "POST", "/admin/v1/keys", json={"user": test_user["name"], "expires_at": int(time.time()) - 60}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_request_error"


def test_expired_key_is_refused(gateway: Gateway, test_user: dict):
    """A key created to expire in 4 s works before and is refused after its expiry."""
    expires_at = int(time.time()) + 4
    created = gateway.create_key(test_user["name"], name="short-lived", expires_at=expires_at)
    assert created["expires_at"] == expires_at
    client = gateway.client(created["key"])
    assert works(client), "the key works before its expiry"

    # Refused once past the expiry second (plus the authenticator's 1 s cache): polled,
    # with a deadline, rather than slept for.
    deadline = expires_at + 10
    while True:
        try:
            client.chat.completions.create(model=SIM, messages=MESSAGES)
        except openai.AuthenticationError as exc:
            assert exc.code == "invalid_api_key"
            assert time.time() >= expires_at, "refused before its expiry"
            break
        assert time.time() < deadline, "the key still works 10 s after its expiry"
        time.sleep(0.2)


def test_key_for_unknown_user_is_404(gateway: Gateway):
    resp = gateway.admin("POST", "/admin/v1/keys", json={"user": "nobody-by-that-name"})
    assert resp.status_code == 404


def test_key_listing_never_shows_secrets(gateway: Gateway, test_user: dict):
    """Listing keys shows ids and metadata, never the key or its hash."""
    created = gateway.create_key(test_user["name"], name="listed")
    resp = gateway.admin("GET", f"/admin/v1/keys?user={test_user['name']}")
    assert resp.status_code == 200
    rows = resp.json()["data"]
    assert created["id"] in [r["id"] for r in rows]
    assert created["key"] not in resp.text
    assert all("key" not in r and "secret_hash" not in r for r in rows)
    single = gateway.admin("GET", f"/admin/v1/keys/{created['id']}")
    assert single.status_code == 200 and created["key"] not in single.text
