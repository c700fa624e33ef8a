"""The admin API's access control and the metrics endpoint."""

from __future__ import annotations

import httpx
import openai
import pytest

from conftest import HTTP_TIMEOUT_S, SIM, Gateway


@pytest.mark.parametrize("path", ["/admin/v1/users", "/admin/v1/keys", "/admin/v1/tokens", "/admin/v1/groups"])
def test_no_token_is_401(gateway: Gateway, path: str):
    resp = gateway.admin("GET", path, token=None)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_admin_token"


def test_wrong_token_is_401(gateway: Gateway):
    resp = gateway.admin("GET", "/admin/v1/users", token="pat_aaaaaaaaaaaa_wrongwrongwrong")
    assert resp.status_code == 401


def test_api_key_is_not_an_admin_token(gateway: Gateway, api_key: str):
    """A data-plane key opens nothing on the admin plane."""
    assert gateway.admin("GET", "/admin/v1/users", token=api_key).status_code == 401


def test_auditor_reads_but_cannot_write(gateway: Gateway, test_user: dict):
    auditor = gateway.create_admin_token("auditor")
    users = gateway.admin("GET", "/admin/v1/users", token=auditor)
    assert users.status_code == 200
    assert test_user["name"] in [u["name"] for u in users.json()["data"]]
    assert gateway.admin("GET", "/admin/v1/keys", token=auditor).status_code == 200

    for path, body in [
        ("/admin/v1/users", {"name": "auditor-made"}),
        ("/admin/v1/groups", {"name": "auditor-group"}),
        ("/admin/v1/keys", {"user": test_user["name"]}),
        ("/admin/v1/tokens", {"role": "admin"}),
    ]:
        resp = gateway.admin("POST", path, token=auditor, json=body)
        assert resp.status_code == 403, (path, resp.text)
        assert resp.json()["error"]["code"] == "insufficient_role"
    names = [u["name"] for u in gateway.admin("GET", "/admin/v1/users").json()["data"]]
    assert "auditor-made" not in names


def test_operator_manages_identities_but_not_tokens(gateway: Gateway):
    operator = gateway.create_admin_token("operator")
    resp = gateway.admin("POST", "/admin/v1/users", token=operator, json={"name": "operator-made", "groups": ["ops"]})
    assert resp.status_code == 201, resp.text
    assert resp.json()["groups"] == ["ops"]
    assert gateway.admin("POST", "/admin/v1/tokens", token=operator, json={"role": "auditor"}).status_code == 403
    assert gateway.admin("GET", "/admin/v1/tokens", token=operator).status_code == 403


def test_revoked_admin_token_is_refused(gateway: Gateway):
    resp = gateway.admin("POST", "/admin/v1/tokens", json={"role": "auditor", "name": "short-lived"})
    assert resp.status_code == 201
    token, token_id = resp.json()["token"], resp.json()["id"]
    gateway.secrets.append(token)
    assert gateway.admin("GET", "/admin/v1/users", token=token).status_code == 200
    assert gateway.admin("DELETE", f"/admin/v1/tokens/{token_id}").status_code == 204
    assert gateway.admin("GET", "/admin/v1/users", token=token).status_code == 401


def test_invalid_names_are_rejected(gateway: Gateway):
    resp = gateway.admin("POST", "/admin/v1/users", json={"name": "bad name with spaces"})
    assert resp.status_code == 400


def test_duplicate_user_is_409(gateway: Gateway):
    gateway.create_user("dup-user")
    assert gateway.admin("POST", "/admin/v1/users", json={"name": "dup-user"}).status_code == 409


def test_metrics_require_a_token(gateway: Gateway):
    resp = httpx.get(f"{gateway.admin_url}/metrics", timeout=HTTP_TIMEOUT_S)
    assert resp.status_code == 401


def test_metrics_expose_requests_and_overhead(gateway: Gateway, client: openai.OpenAI):
    """After traffic, /metrics (any role) has the request counter and overhead histogram."""
    client.chat.completions.create(model=SIM, messages=[{"role": "user", "content": "count me"}])
    auditor = gateway.create_admin_token("auditor")
    resp = gateway.admin("GET", "/metrics", token=auditor)
    assert resp.status_code == 200
    text = resp.text
    assert "palisade_requests_total{" in text
    assert 'endpoint="chat_completions"' in text and f'model="{SIM}"' in text
    assert "palisade_gateway_overhead_seconds_bucket" in text
    assert "palisade_gateway_overhead_seconds_count" in text
    assert text.rstrip().endswith("# EOF")


def test_health_endpoints_are_public(gateway: Gateway):
    for url in (f"{gateway.data_url}/healthz", f"{gateway.data_url}/readyz", f"{gateway.admin_url}/healthz", f"{gateway.admin_url}/readyz"):
        resp = httpx.get(url, timeout=HTTP_TIMEOUT_S)
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
