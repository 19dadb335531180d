"""The HTTP surface: /graphql, /healthz, /readyz, GraphiQL, and app start-up checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from shanzhi_gateway.app import create_app
from shanzhi_gateway.settings import GatewaySettings
from shanzhi_kit.settings import AuthSettings

if TYPE_CHECKING:
    from conftest import Fakes


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        yield client


@pytest.fixture
async def http(fakes: Fakes, settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(create_app(settings, clients=fakes.clients)):
        yield client


async def test_healthz(http: httpx.AsyncClient) -> None:
    answer = await http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_readyz_without_channels_is_ready(http: httpx.AsyncClient) -> None:
    answer = await http.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "services": {}}


async def test_graphql_over_http(http: httpx.AsyncClient, fakes: Fakes, token: str) -> None:
    person = fakes.world.add_person("郑十一")
    answer = await http.post(
        "/graphql",
        json={"query": "query One($id: ID!) { person(id: $id) { name } }", "variables": {"id": person.id}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"data": {"person": {"name": "郑十一"}}}
    (call,) = fakes.talent.BatchGetPeople.calls
    assert call.metadata == (("authorization", f"Bearer {token}"),)


async def test_graphql_without_token_over_http(http: httpx.AsyncClient) -> None:
    answer = await http.post("/graphql", json={"query": "{ viewer { subject } }"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_queries_via_get_are_refused(http: httpx.AsyncClient, token: str) -> None:
    answer = await http.get(
        "/graphql",
        params={"query": "{ viewer { subject } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert answer.status_code >= 400


async def test_graphiql_follows_the_setting(fakes: Fakes, settings: GatewaySettings) -> None:
    async for client in _client(create_app(settings, clients=fakes.clients)):
        answer = await client.get("/graphql", headers={"Accept": "text/html"})
        assert answer.status_code == 200
        assert "graphiql" in answer.text.lower()
    closed = settings.model_copy(update={"graphiql": False})
    async for client in _client(create_app(closed, clients=fakes.clients)):
        answer = await client.get("/graphql", headers={"Accept": "text/html"})
        assert answer.status_code == 404


def test_app_needs_a_verification_key() -> None:
    with pytest.raises(RuntimeError, match="SHANZHI_JWT_SECRET"):
        create_app(GatewaySettings(auth=AuthSettings(secret=None, public_key=None)))


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHANZHI_GATEWAY_TALENT_ADDR", "talent:50054")
    monkeypatch.setenv("SHANZHI_GATEWAY_RPC_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("SHANZHI_GATEWAY_GRAPHIQL", "false")
    monkeypatch.setenv("SHANZHI_JWT_SECRET", "from-the-environment")
    settings = GatewaySettings()
    assert settings.talent_addr == "talent:50054"
    assert settings.rpc_timeout_seconds == 1.5
    assert settings.graphiql is False
    assert settings.points_addr == "127.0.0.1:50051"
    assert settings.auth.secret == SecretStr("from-the-environment")
