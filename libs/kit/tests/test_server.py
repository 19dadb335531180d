"""The gRPC bootstrap: health follows the database and shutdown, calls are authenticated."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi_kit.db import make_engine
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.testing import fresh_database, postgres_admin_url, run_database_name
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def check(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="shanzhi.test.v1.TestService"), timeout=2)
    return int(reply.status)


async def test_health_is_serving_only_once_the_database_answers_and_not_while_stopping(
    postgres: None,
) -> None:
    name = run_database_name(f"shanzhi_test_health_{uuid.uuid4().hex[:6]}")
    url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    settings = ServiceSettings(database_url=url, grpc_port=0, shutdown_grace_seconds=1)
    host = ServiceHost(name="test", settings=settings, engine=make_engine(url),
                       service_names=["shanzhi.test.v1.TestService"], register=lambda server: None)
    port = await host.start()
    try:
        # The database does not exist yet: the service is up but not serving.
        await asyncio.sleep(0.5)
        assert await check(port) == NOT_SERVING
        await fresh_database(name)
        await asyncio.wait_for(host.ready.wait(), 20)
        assert await check(port) == SERVING

        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="shanzhi.test.v1.TestService"))
            assert (await watch.read()).status == SERVING
            stopping = asyncio.create_task(host.stop())
            assert (await watch.read()).status == NOT_SERVING
            watch.cancel()
            await stopping
    finally:
        if host.server is not None:
            await host.server.stop(0)
