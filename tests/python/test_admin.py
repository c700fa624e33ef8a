"""The admin API's access control and the metrics endpoint."""

from __future__ import annotations

import json
import re

import httpx
import openai
import pytest

from conftest import HTTP_TIMEOUT_S, MOCK, SIM, Gateway, wait_until


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
        assert resp.json()["error"]["code"] == "access_denied"
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


def test_a_user_belongs_to_at_most_64_groups(gateway: Gateway):
    # Each group is a parent entity in every policy decision for the user's requests.
    groups = [f"g{i}" for i in range(65)]
    resp = gateway.admin("POST", "/admin/v1/users", json={"name": "many-groups", "groups": groups})
    assert resp.status_code == 400, resp.text
    assert "64" in resp.json()["error"]["message"]
    resp = gateway.admin("POST", "/admin/v1/users", json={"name": "many-groups", "groups": groups[:64]})
    assert resp.status_code == 201, resp.text


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


def requests_total(gateway: Gateway, **labels: str) -> float:
    """The value of palisade_requests_total for the series with exactly `labels`."""
    text = gateway.admin("GET", "/metrics").text
    for m in re.finditer(r"^palisade_requests_total\{([^}]*)\} (\S+)$", text, re.MULTILINE):
        series = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if series == labels:
            return float(m.group(2))
    return 0.0


def test_each_request_is_counted_once(gateway: Gateway, client: openai.OpenAI):
    """A plain and a streamed request add exactly one each to the request counter (a
    stream is recorded when it ends, not again when its relay is dropped)."""
    labels = {"endpoint": "chat_completions", "model": SIM, "status": "200", "code": "ok"}
    before = requests_total(gateway, **labels)
    messages = [{"role": "user", "content": "count me once"}]
    client.chat.completions.create(model=SIM, messages=messages)
    assert len(list(client.chat.completions.create(model=SIM, messages=messages, stream=True))) > 1
    assert requests_total(gateway, **labels) == before + 2


def gauge(gateway: Gateway, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", gateway.admin("GET", "/metrics").text, re.MULTILINE)
    assert m, f"{name} missing from /metrics"
    return float(m.group(1))


def test_in_flight_gauge_returns_to_zero(gateway: Gateway, client: openai.OpenAI):
    """Finished, failed, broken and abandoned requests all leave the in-flight gauge."""
    messages = [{"role": "user", "content": "in flight"}]
    client.chat.completions.create(model=SIM, messages=messages)
    list(client.chat.completions.create(model=MOCK, messages=messages, stream=True))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="py-break", messages=messages, stream=True))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="mock-500", messages=messages)
    abandoned = client.chat.completions.create(model=MOCK, messages=messages, stream=True)
    next(iter(abandoned))
    abandoned.close()
    wait_until(
        lambda: gauge(gateway, "palisade_in_flight_requests") == 0, 5, "palisade_in_flight_requests to return to 0"
    )


def test_refusals_are_counted_with_their_code(gateway: Gateway, client: openai.OpenAI):
    labels = {"endpoint": "chat_completions", "model": "-", "status": "404", "code": "model_not_found"}
    before = requests_total(gateway, **labels)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="counted-missing-model", messages=[{"role": "user", "content": "x"}])
    assert requests_total(gateway, **labels) == before + 1


def admin_action_lines(gateway: Gateway) -> list[list[tuple[str, object]]]:
    """The `admin action` log lines, as key/value pairs in order (duplicates kept)."""
    lines = []
    for line in gateway.logs().splitlines():
        pairs = json.loads(line, object_pairs_hook=list)
        if ("message", "admin action") in pairs:
            lines.append(pairs)
    return lines


def test_admin_actions_are_logged(gateway: Gateway):
    """Each state change on the admin plane leaves an `admin action` line naming the actor,
    the route and the target, never a secret (the full record is in the audit ledger)."""
    user = gateway.create_user("logged-user")
    target = f"user:{user['id']}"
    about_user = [dict(p) for p in admin_action_lines(gateway) if target in [v for _, v in p]]
    assert len(about_user) == 1
    assert about_user[0]["action"] == "POST /admin/v1/users"
    assert about_user[0]["actor"] == "bootstrap"
    assert about_user[0]["status"] == 201
    assert gateway.admin_token not in gateway.logs()


def test_admin_action_log_lines_have_unique_keys_and_name_the_target(gateway: Gateway):
    user = gateway.create_user("traced-user")
    lines = admin_action_lines(gateway)
    for pairs in lines:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in log line: {keys}"
    created = [dict(p) for p in lines if ("action", "POST /admin/v1/users") in p]
    assert f"user:{user['id']}" in [c.get("target_id") for c in created]


def test_health_endpoints_are_public(gateway: Gateway):
    """Liveness and readiness need no credentials on either plane."""
    for base in (gateway.data_url, gateway.admin_url):
        health = httpx.get(f"{base}/healthz", timeout=HTTP_TIMEOUT_S)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=HTTP_TIMEOUT_S)
        assert ready.status_code == 200 and ready.json()["status"] in ("ok", "ready")


def test_malformed_paths_queries_and_bodies_get_json_errors(gateway: Gateway):
    """What axum's extractors reject (a path segment that is not UTF-8, a repeated query
    parameter, a policy body that is not UTF-8) is a 400 in the OpenAI error shape."""
    for resp in (
        gateway.admin("GET", "/admin/v1/users/%FF"),
        gateway.admin("DELETE", "/admin/v1/keys/%FF%FE"),
        gateway.admin("GET", "/admin/v1/keys?user=a&user=b"),
        gateway.admin("PUT", "/admin/v1/policies", content=b"permit(\xff);"),
    ):
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"].startswith("application/json"), resp.text
        error = resp.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"], error


def _pages(gateway: Gateway, path: str, limit: int) -> list[dict]:
    """Every page of a list route, following `next_cursor`."""
    pages, cursor = [], None
    sep = "&" if "?" in path else "?"
    while True:
        params = f"{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        resp = gateway.admin("GET", path + params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert page["object"] == "list" and len(page["data"]) <= limit
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_lists_come_a_page_at_a_time_and_the_cli_reads_them_all(gateway: Gateway):
    """Users (by name) paged two at a time give the whole list once, in order; a key list
    longer than the largest page needs two, and `keys list` shows every key."""
    for name in ("page-c", "page-a", "page-b"):
        gateway.create_user(name)
    whole = [u["name"] for u in gateway.admin("GET", "/admin/v1/users?limit=1000").json()["data"]]
    assert whole == sorted(whole) and {"page-a", "page-b", "page-c"} <= set(whole)
    paged = [u["name"] for p in _pages(gateway, "/admin/v1/users", 2) for u in p["data"]]
    assert paged == whole

    for bad in ("limit=0", "limit=1001", "cursor=not-a-cursor", "color=blue"):
        resp = gateway.admin("GET", f"/admin/v1/keys?{bad}")
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["error"]["code"] == "invalid_request_error"

    gateway.create_user("page-many")
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        for i in range(1001):
            resp = client.post(
                f"{gateway.admin_url}/admin/v1/keys",
                headers={"Authorization": f"Bearer {gateway.admin_token}"},
                json={"user": "page-many", "name": f"k{i}"},
            )
            assert resp.status_code == 201, resp.text
    pages = _pages(gateway, "/admin/v1/keys?user=page-many", 1000)
    assert [len(p["data"]) for p in pages] == [1000, 1]
    ids = [k["id"] for p in pages for k in p["data"]]
    assert len(set(ids)) == 1001
    default = gateway.admin("GET", "/admin/v1/keys?user=page-many").json()
    assert len(default["data"]) == 100 and default["next_cursor"]
    listed = json.loads(gateway.run_cli("keys", "list", "--user", "page-many", "--json").stdout)
    assert sorted(k["id"] for k in listed["data"]) == sorted(ids)
