from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest_asyncio
from shanzhi.talent.v1 import talent_pb2_grpc
from shanzhi_kit.pytest_plugin import DatabaseFactory
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.testing import Broker
from shanzhi_talent.app import MIGRATIONS, build


@pytest_asyncio.fixture(scope="session")
async def talent_url(make_database: DatabaseFactory) -> str:
    return await make_database("talent", MIGRATIONS)


@pytest_asyncio.fixture(scope="session")
async def talent_host(talent_url: str, broker: Broker) -> AsyncIterator[ServiceHost]:
    settings = ServiceSettings(
        database_url=talent_url, grpc_port=0, kafka_bootstrap_servers=broker.bootstrap,
        relay_poll_seconds=0.1, shutdown_grace_seconds=1,
    )
    host = build(settings)
    await host.start()
    await host.ready.wait()
    yield host
    await host.stop()


@pytest_asyncio.fixture(scope="session")
async def talent(talent_host: ServiceHost) -> AsyncIterator[talent_pb2_grpc.TalentServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{talent_host.port}") as channel:
        yield talent_pb2_grpc.TalentServiceStub(channel)
