"""The gateway against a real gRPC server on the loopback interface.

A stand-in TalentService (no database) checks what arrives on the wire: the
caller's bearer token and a deadline; it answers invalid input the way the
services do (status with google.rpc.BadRequest). The other services are not
running, so readiness reports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_gateway.app import create_app, make_server
from shanzhi_gateway.settings import GatewaySettings
from shanzhi_kit.errors import FieldViolation, InvalidArgument
from shanzhi_kit.server import status_for
from shanzhi_kit.testing import free_port

PERSON = talent_pb2.Person(
    id="8d3a9b5f-0cbe-4fc6-9b6c-7d8e9fa0b1c2",
    region_code="130123101201",
    name="陈十二",
    gender=talent_pb2.GENDER_MALE,
    birth_date="1979-09-09",
)


class Talent(talent_pb2_grpc.TalentServiceServicer):
    def __init__(self) -> None:
        self.seen: list[tuple[str | None, float | None]] = []

    def _record(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.seen.append((metadata.get("authorization"), context.time_remaining()))

    async def BatchGetPeople(
        self, request: talent_pb2.BatchGetPeopleRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetPeopleResponse:
        self._record(context)
        return talent_pb2.BatchGetPeopleResponse(people=[PERSON] if PERSON.id in request.ids else [])

    async def RegisterPerson(
        self, request: talent_pb2.RegisterPersonRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        self._record(context)
        status = status_for(InvalidArgument([FieldViolation("region_code", "must be a village code")]))
        await context.abort(status.code, status.details, status.trailing_metadata)


@pytest.fixture
async def talent_server() -> AsyncIterator[tuple[int, Talent]]:
    server = grpc.aio.server()
    talent = Talent()
    talent_pb2_grpc.add_TalentServiceServicer_to_server(talent, server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("shanzhi.talent.v1.TalentService", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port, talent
    finally:
        await server.stop(None)


@pytest.fixture
def wired_settings(settings: GatewaySettings, talent_server: tuple[int, Talent]) -> GatewaySettings:
    port, _ = talent_server
    closed = [free_port() for _ in range(3)]
    return settings.model_copy(
        update={
            "talent_addr": f"127.0.0.1:{port}",
            "points_addr": f"127.0.0.1:{closed[0]}",
            "lists_addr": f"127.0.0.1:{closed[1]}",
            "audit_addr": f"127.0.0.1:{closed[2]}",
            "port": free_port(),
        }
    )


async def test_calls_over_grpc(
    wired_settings: GatewaySettings, talent_server: tuple[int, Talent], token: str
) -> None:
    _, talent = talent_server
    app = create_app(wired_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        answer = await http.post(
            "/graphql",
            json={"query": f'{{ person(id: "{PERSON.id}") {{ name birthDate }} }}'},
            headers=headers,
        )
        assert answer.json() == {"data": {"person": {"name": "陈十二", "birthDate": "1979-09-09"}}}

        answer = await http.post(
            "/graphql",
            json={
                "query": """mutation { registerPerson(requestId: "r-1", input: {
                    regionCode: "130123000000", name: "陈十三", gender: MALE,
                    birthDate: "1980-01-01" }) { id } }"""
            },
            headers=headers,
        )
        error = answer.json()["errors"][0]
        assert error["extensions"] == {
            "code": "INVALID_ARGUMENT",
            "fieldViolations": [{"field": "regionCode", "description": "must be a village code"}],
        }
        assert error["message"] == "invalid request: region_code: must be a village code"

        for authorization, remaining in talent.seen:
            assert authorization == f"Bearer {token}"
            assert remaining is not None
            assert 0 < remaining <= wired_settings.rpc_timeout_seconds + 0.5

        answer = await http.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "unavailable"
        assert body["services"]["talent"] == "SERVING"
        assert body["services"]["points"] == "UNAVAILABLE"


async def test_uvicorn_server_starts_and_stops(wired_settings: GatewaySettings) -> None:
    server = make_server(wired_settings)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        async with httpx.AsyncClient(base_url=f"http://{wired_settings.host}:{wired_settings.port}") as http:
            answer = await http.get("/healthz")
            assert answer.json() == {"status": "ok"}
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
