"""The demo server lists its models in both APIs' shapes (issue 11 item 2, server side)."""

from __future__ import annotations

import openai
import requests

from nbchat.server import Server
from nbchat.server.app import DEMO_MODELS

from .conftest import EGP, post


def test_openai_models_list(server: Server) -> None:
    data = requests.get(server.url + "/v1/models", timeout=5).json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["demo", "echo", "bench"]
    assert all(m["object"] == "model" and m["owned_by"] == "nbchat" for m in data["data"])
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    assert [m.id for m in sdk.models.list()] == list(DEMO_MODELS)


def test_egp_models_list(server: Server) -> None:
    data = requests.get(server.url + "/egp/v1/models", timeout=5).json()
    assert [m["name"] for m in data["items"]] == ["demo", "echo", "bench"]
    assert [m["id"] for m in data["items"]] == ["demo", "echo", "bench"]
    assert data["total_item_count"] == 3 and data["current_page"] == 1


def test_every_listed_model_answers(server: Server) -> None:
    for name in DEMO_MODELS:
        body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
        assert post(server, EGP, body).status_code == 200


def test_models_need_the_key_when_the_server_has_one(keyed_server: Server) -> None:
    assert requests.get(keyed_server.url + "/v1/models", timeout=5).status_code == 401
    ok = requests.get(
        keyed_server.url + "/egp/v1/models", headers={"x-api-key": "s3cret-key"}, timeout=5
    )
    assert ok.status_code == 200
    assert requests.get(keyed_server.url + "/", timeout=5).status_code == 200
