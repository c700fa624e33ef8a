"""Embeddings through the SDK: its default base64 encoding and explicit floats, one input
and several."""

from __future__ import annotations

import math

import openai
import pytest

from conftest import MOCK

INPUTS = ["the first sentence", "a second one", "and a third"]
MOCK_VECTOR = [0.6, 0.8, 0.0]


def embed(client: openai.OpenAI, model: str, input, **kwargs):
    resp = client.embeddings.create(model=model, input=input, **kwargs)
    assert resp.model == model
    assert resp.usage.prompt_tokens > 0
    return resp


@pytest.mark.parametrize("encoding", ["default-base64", "float"])
def test_single_input(client: openai.OpenAI, model: str, encoding: str):
    """One input gives one finite, non-empty vector (unit length for both backends)."""
    kwargs = {} if encoding == "default-base64" else {"encoding_format": "float"}
    resp = embed(client, model, "hello embeddings", **kwargs)
    assert len(resp.data) == 1
    vector = resp.data[0].embedding
    assert resp.data[0].index == 0
    assert len(vector) > 0 and all(isinstance(x, float) and math.isfinite(x) for x in vector)
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-3)
    if model == MOCK:
        assert vector == pytest.approx(MOCK_VECTOR, abs=1e-6)


def test_several_inputs_keep_order(client: openai.OpenAI, model: str):
    """Several inputs give one vector each, indexed in input order."""
    resp = embed(client, model, INPUTS, encoding_format="float")
    assert [d.index for d in resp.data] == list(range(len(INPUTS)))
    assert len({len(d.embedding) for d in resp.data}) == 1


def test_base64_and_float_agree(client: openai.OpenAI, model: str):
    """The SDK's default (base64, decoded by the SDK) and floats give the same vectors."""
    as_b64 = embed(client, model, INPUTS)
    as_float = embed(client, model, INPUTS, encoding_format="float")
    assert len(as_b64.data) == len(as_float.data) == len(INPUTS)
    for a, b in zip(as_b64.data, as_float.data, strict=True):
        assert a.embedding == pytest.approx(b.embedding, abs=1e-6)


def test_more_inputs_than_openai_allows_are_refused(client: openai.OpenAI, model: str):
    """Each input is counted, scanned and embedded on its own: at most 2048 per request."""
    assert len(embed(client, model, ["x"] * 2048).data) == 2048
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=model, input=["x"] * 2049)
    assert refused.value.status_code == 400
    assert refused.value.body["param"] == "input"
    assert "2048" in refused.value.body["message"]
