from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest_asyncio
from shanzhi.audit.v1 import audit_pb2_grpc
from shanzhi_audit.app import MIGRATIONS, build
from shanzhi_kit.pytest_plugin import DatabaseFactory
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.testing import Broker


@pytest_asyncio.fixture(scope="session")
async def audit_url(make_database: DatabaseFactory) -> str:
    return await make_database("audit", MIGRATIONS)


@pytest_asyncio.fixture(scope="session")
async def audit_host(audit_url: str, broker: Broker) -> AsyncIterator[ServiceHost]:
    settings = ServiceSettings(
        database_url=audit_url, grpc_port=0, kafka_bootstrap_servers=broker.bootstrap,
        relay_poll_seconds=0.1, shutdown_grace_seconds=1,
        consumer_group_prefix=f"test-{uuid.uuid4().hex[:8]}",
    )
    host = build(settings)
    await host.start()
    await host.ready.wait()
    yield host
    await host.stop()


@pytest_asyncio.fixture(scope="session")
async def audit(audit_host: ServiceHost) -> AsyncIterator[audit_pb2_grpc.AuditServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{audit_host.port}") as channel:
        yield audit_pb2_grpc.AuditServiceStub(channel)
