"""Pytest fixtures for Shanzhi tests: real PostgreSQL, a real broker, callers.

Loaded by the repository's root ``conftest.py``. Where PostgreSQL cannot be
reached, tests that need it are skipped with the reason, unless ``CI`` is set:
then they fail, so CI never passes without having run them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shanzhi_kit import metrics
from shanzhi_kit.auth import ROLE_ADMIN, issue_token
from shanzhi_kit.db import make_engine
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.testing import Broker, drop_run_databases, postgres_available, run_database

TEST_JWT_SECRET = "shanzhi-test-secret-not-for-production-use"
os.environ.setdefault("SHANZHI_JWT_SECRET", TEST_JWT_SECRET)


def token_for(region: str, roles: tuple[str, ...] = (ROLE_ADMIN,), subject: str = "tester") -> str:
    return issue_token(os.environ["SHANZHI_JWT_SECRET"], subject, roles, region, name=subject)


def auth_metadata(region: str, roles: tuple[str, ...] = (ROLE_ADMIN,),
                  subject: str = "tester") -> tuple[tuple[str, str], ...]:
    """gRPC metadata of a caller with ``roles`` over ``region``."""
    return (("authorization", f"Bearer {token_for(region, roles, subject)}"),)


@pytest_asyncio.fixture(scope="session")
async def postgres() -> None:
    """Requires a reachable PostgreSQL; skips (or fails under CI) otherwise."""
    reason = await postgres_available()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so PostgreSQL tests may not be skipped)")
    pytest.skip(reason)


@pytest_asyncio.fixture(scope="session", autouse=True)
async def _run_databases() -> AsyncIterator[None]:
    """Sweep databases left by killed test runs before, and drop this run's after."""
    reachable = await postgres_available() is None
    if reachable:
        await drop_run_databases(own=False)
    yield
    if reachable:
        await drop_run_databases(own=True)


DatabaseFactory = Callable[[str, Path], Awaitable[str]]


@pytest_asyncio.fixture(scope="session")
async def make_database(postgres: None) -> DatabaseFactory:
    """Create a fresh, migrated PostgreSQL database: ``await make_database(name, migrations)``."""

    async def factory(name: str, migrations: Path) -> str:
        url = await run_database(f"shanzhi_test_{name}")
        await upgrade_async(migrations, url)
        return url

    return factory


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """A Tansu broker on 127.0.0.1 for the whole session."""
    b = Broker().start()
    try:
        yield b
    finally:
        b.stop()


async def rolled_back_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back afterwards."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint",
                               expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await trans.rollback()


async def wait_until(check: Callable[[], Awaitable[bool]], within: float = 30.0,
                     interval: float = 0.1) -> None:
    """Poll ``check`` until it returns True, failing after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


def rpc_error_details(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs of a google.rpc.BadRequest in a failed call."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            out = []
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    out += [(v.field, v.description) for v in bad.field_violations]
            return out
    return []


__all__ = [
    "RecordedMetrics",
    "auth_metadata",
    "broker",
    "make_database",
    "make_engine",
    "postgres",
    "recorded_metrics",
    "rolled_back_session",
    "rpc_error_details",
    "token_for",
    "wait_until",
]


class RecordedMetrics:
    """What the kit's instruments recorded, read from an in-memory reader."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` as of now (gauges call their sources)."""
        data = self._reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += list(metric.data.data_points)
        return found

    def by(self, name: str, key: str) -> dict[Any, Any]:
        """Metric ``name``'s points by the value of attribute ``key``."""
        return {p.attributes[key]: p for p in self.points(name)}


@pytest.fixture
def recorded_metrics() -> Iterator[RecordedMetrics]:
    """Metrics on, recorded in memory for the test; off again after it."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.install(provider.get_meter("shanzhi-test"))
    try:
        yield RecordedMetrics(reader)
    finally:
        metrics.uninstall()
        provider.shutdown()
