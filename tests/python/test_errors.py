"""Refusals: bad credentials, unknown models and hostile bodies get OpenAI-style errors
with stable codes — through the SDK where it can send them, raw HTTP where it cannot."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from conftest import HTTP_TIMEOUT_S, MAX_BODY_BYTES, SIM, Gateway

MESSAGES = [{"role": "user", "content": "hi"}]


def post_chat(gateway: Gateway, content, api_key: str | None, **headers) -> httpx.Response:
    """POST /v1/chat/completions with a raw body."""
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    headers.setdefault("Content-Type", "application/json")
    return httpx.post(f"{gateway.base_url}/chat/completions", content=content, headers=headers, timeout=HTTP_TIMEOUT_S)


def assert_error(
    resp: httpx.Response, status: int, code: str, kind: str = "invalid_request_error", *, request_id: bool = True
) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    if request_id:
        assert resp.headers.get("x-request-id")
    error = resp.json()["error"]
    assert error["code"] == code
    assert error["type"] == kind
    assert error["message"]
    return error


def test_wrong_key_is_authentication_error(gateway: Gateway):
    """A key the gateway never issued is 401 invalid_api_key."""
    bad = gateway.client("pal_aaaaaaaaaaaa_notARealSecret")
    with pytest.raises(openai.AuthenticationError) as exc:
        bad.chat.completions.create(model=SIM, messages=MESSAGES)
    assert exc.value.status_code == 401
    assert exc.value.code == "invalid_api_key"
    assert exc.value.response.headers.get("www-authenticate") == "Bearer"


def test_garbage_key_is_authentication_error(gateway: Gateway):
    with pytest.raises(openai.AuthenticationError) as exc:
        gateway.client("sk-not-even-the-right-shape").models.list()
    assert exc.value.code == "invalid_api_key"


def test_no_key_is_401(gateway: Gateway):
    """No Authorization header at all is 401 invalid_api_key, before the body is read."""
    resp = post_chat(gateway, json.dumps({"model": SIM, "messages": MESSAGES}), api_key=None)
    assert_error(resp, 401, "invalid_api_key")
    assert resp.headers.get("www-authenticate") == "Bearer"


def test_unknown_model_is_not_found(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="gpt-does-not-exist", messages=MESSAGES)
    assert exc.value.status_code == 404
    assert exc.value.code == "model_not_found"
    assert exc.value.param == "model"


def test_malformed_json_is_400(gateway: Gateway, api_key: str):
    resp = post_chat(gateway, b'{"model": "sim", "messages": [', api_key)
    assert_error(resp, 400, "invalid_request_error")


def test_missing_messages_names_the_parameter(gateway: Gateway, api_key: str):
    resp = post_chat(gateway, json.dumps({"model": SIM}), api_key)
    assert assert_error(resp, 400, "invalid_request_error")["param"] == "messages"


def test_a_field_of_the_wrong_type_is_named(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=SIM, messages=MESSAGES, extra_body={"temperature": "hot"}
        )
    assert exc.value.param == "temperature"
    message = exc.value.body["message"]
    assert "expected a number" in message and "line" not in message, message
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=SIM, messages=[{"role": "user", "content": 42}]
        )
    assert exc.value.param == "messages[0].content"
    # The end-user id names whose data a request is, for chats and embeddings alike.
    for call in (
        lambda: client.chat.completions.create(model=SIM, messages=MESSAGES, extra_body={"user": 42}),
        lambda: client.embeddings.create(model=SIM, input="hi", extra_body={"user": ["a"]}),
    ):
        with pytest.raises(openai.BadRequestError) as exc:
            call()
        assert exc.value.param == "user"


def test_body_over_limit_is_413(gateway: Gateway, api_key: str):
    """A body larger than server.max_body_bytes is refused with 413 request_too_large."""
    big = json.dumps({"model": SIM, "messages": [{"role": "user", "content": "x" * (MAX_BODY_BYTES + 1)}]})
    assert_error(post_chat(gateway, big, api_key), 413, "request_too_large")


def test_chunked_body_over_limit_is_413(gateway: Gateway, api_key: str):
    """Without a Content-Length (chunked upload) the limit still holds while reading."""
    big = json.dumps({"model": SIM, "messages": [{"role": "user", "content": "x" * (MAX_BODY_BYTES * 2)}]}).encode()

    def chunks():
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    assert_error(post_chat(gateway, chunks(), api_key), 413, "request_too_large")


def test_body_over_limit_through_sdk(client: openai.OpenAI):
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model=SIM, messages=[{"role": "user", "content": "y" * MAX_BODY_BYTES}])
    assert exc.value.status_code == 413
    assert exc.value.code == "request_too_large"


def test_deeply_nested_json_is_400(gateway: Gateway, api_key: str):
    """JSON nested deeper than server.max_json_depth is refused before it is parsed."""
    depth = 5000
    body = (
        '{"model": "sim", "messages": [{"role": "user", "content": "hi"}], "metadata": '
        + "[" * depth
        + "]" * depth
        + "}"
    )
    assert_error(post_chat(gateway, body, api_key), 400, "invalid_request_error")


def get_with_key(gateway: Gateway, path: str, api_key: str) -> httpx.Response:
    return httpx.get(
        f"{gateway.base_url}{path}", headers={"Authorization": f"Bearer {api_key}"}, timeout=HTTP_TIMEOUT_S
    )


def test_unknown_route_is_404(gateway: Gateway, api_key: str):
    assert_error(get_with_key(gateway, "/no-such-route", api_key), 404, "not_found")


def test_wrong_method_is_405(gateway: Gateway, api_key: str):
    assert_error(get_with_key(gateway, "/chat/completions", api_key), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/no-such-route", "/chat/completions"])
def test_fallback_answers_carry_request_id(gateway: Gateway, api_key: str, path: str):
    """Every data-plane response, unknown routes and wrong methods included, carries the
    request id and overhead headers (respond.rs: "on every response")."""
    resp = get_with_key(gateway, path, api_key)
    assert resp.headers.get("x-request-id")
    assert resp.headers.get("x-palisade-overhead-ms") is not None


def test_azure_style_api_key_header_authenticates(gateway: Gateway, api_key: str):
    """Azure OpenAI clients send `api-key: <key>` instead of a bearer token."""
    resp = httpx.get(f"{gateway.base_url}/models", headers={"api-key": api_key}, timeout=HTTP_TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    assert resp.json()["object"] == "list"


@pytest.mark.parametrize("authorization", ["Bearer", "Basic dXNlcjpwYXNz"])
def test_non_bearer_authorization_is_401(gateway: Gateway, authorization: str):
    resp = httpx.get(f"{gateway.base_url}/models", headers={"Authorization": authorization}, timeout=HTTP_TIMEOUT_S)
    assert_error(resp, 401, "invalid_api_key")


def test_a_model_id_that_is_not_utf8_is_an_unknown_model(gateway: Gateway, api_key: str):
    resp = httpx.get(
        f"{gateway.base_url}/models/%FF", headers={"Authorization": f"Bearer {api_key}"}, timeout=HTTP_TIMEOUT_S
    )
    assert_error(resp, 404, "model_not_found")
