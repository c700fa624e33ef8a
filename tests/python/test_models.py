"""The model list: exactly the configured models, retrievable one by one."""

from __future__ import annotations

import time

import openai
import pytest

from conftest import MODELS, SIM, SIM_ALIAS


def test_list_is_exactly_the_configured_models(client: openai.OpenAI):
    """models.list() holds each configured model once, in config order, and no alias."""
    ids = [m.id for m in client.models.list()]
    assert ids == list(MODELS)


def test_retrieve_each_model(client: openai.OpenAI):
    """models.retrieve() answers every configured model with its id and owner."""
    for name, (provider, _) in MODELS.items():
        m = client.models.retrieve(name)
        assert m.id == name
        assert m.object == "model"
        assert m.owned_by == provider
        # The gateway's start, not 0: clients sort and display by it.
        assert 1_700_000_000 < m.created <= time.time() + 1


def test_retrieve_by_alias_gives_canonical_model(client: openai.OpenAI):
    assert client.models.retrieve(SIM_ALIAS).id == SIM


def test_retrieve_unknown_model_is_404(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as exc:
        client.models.retrieve("no-such-model")
    assert exc.value.code == "model_not_found"
