from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest_asyncio
from shanzhi.points.v1 import points_pb2_grpc
from shanzhi_kit.pytest_plugin import DatabaseFactory
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.testing import Broker
from shanzhi_points.app import MIGRATIONS, build


@pytest_asyncio.fixture(scope="session")
async def points_url(make_database: DatabaseFactory) -> str:
    return await make_database("points", MIGRATIONS)


@pytest_asyncio.fixture(scope="session")
async def points_host(points_url: str, broker: Broker) -> AsyncIterator[ServiceHost]:
    settings = ServiceSettings(
        database_url=points_url, grpc_port=0, kafka_bootstrap_servers=broker.bootstrap,
        relay_poll_seconds=0.1, shutdown_grace_seconds=1,
    )
    host = build(settings)
    await host.start()
    await host.ready.wait()
    yield host
    await host.stop()


@pytest_asyncio.fixture(scope="session")
async def points(points_host: ServiceHost) -> AsyncIterator[points_pb2_grpc.PointsServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{points_host.port}") as channel:
        yield points_pb2_grpc.PointsServiceStub(channel)
