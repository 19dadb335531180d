"""Retention of the idempotency keys and the inbox, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from shanzhi_kit.db import make_engine, make_sessionmaker, new_metadata
from shanzhi_kit.messaging import MessagingTables
from shanzhi_kit.retention import Kept, Retention
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.testing import run_database
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = new_metadata()
messaging = MessagingTables(metadata)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest_asyncio.fixture(scope="module")
async def pg(postgres: None) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(await run_database("shanzhi_test_kit_retention"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def postgres_engine(pg: AsyncEngine) -> AsyncEngine:
    async with pg.begin() as conn:
        await conn.execute(delete(messaging.idempotency_keys))
        await conn.execute(delete(messaging.inbox))
    return pg


@pytest_asyncio.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def settings(idempotency_days: float, inbox_days: float) -> ServiceSettings:
    return ServiceSettings(idempotency_keep_days=idempotency_days, inbox_keep_days=inbox_days)


async def add_rows(engine: AsyncEngine, ages: list[timedelta], prefix: str = "r",
                   now: datetime = NOW) -> None:
    """One idempotency key and one inbox row of each age, oldest first."""
    async with engine.begin() as conn:
        await conn.execute(messaging.idempotency_keys.insert(), [
            {"caller": "clerk", "method": "Award", "request_id": f"{prefix}{i}", "request_hash": "h",
             "response": b"", "created_at": now - age} for i, age in enumerate(ages)])
        await conn.execute(messaging.inbox.insert(), [
            {"consumer": "c", "event_id": f"{prefix}{i}", "event_type": "t", "outcome": "applied",
             "detail": "", "received_at": now - age} for i, age in enumerate(ages)])


async def left(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    async with engine.connect() as conn:
        keys = (await conn.execute(select(messaging.idempotency_keys.c.request_id))).scalars().all()
        inbox = (await conn.execute(select(messaging.inbox.c.event_id))).scalars().all()
    return sorted(keys), sorted(inbox)


async def old_rows_go_and_recent_ones_stay(engine: AsyncEngine) -> None:
    # Keys kept 30 days, the inbox 90.
    await add_rows(engine, [timedelta(days=100), timedelta(days=60), timedelta(days=31),
                            timedelta(days=29, hours=23), timedelta(hours=1)])
    retention = Retention.for_service(settings(30, 90), make_sessionmaker(engine), messaging)

    assert await retention.prune(NOW) == 3 + 1
    assert await left(engine) == (["r3", "r4"], ["r1", "r2", "r3", "r4"])
    assert await retention.prune(NOW) == 0

    # An event recorded as failed stays, however old, until it is applied.
    async with engine.begin() as conn:
        await conn.execute(messaging.inbox.update().where(messaging.inbox.c.event_id == "r1")
                           .values(outcome="failed"))
    assert await retention.prune(NOW + timedelta(days=200)) == 2 + 3
    assert await left(engine) == ([], ["r1"])


@pytest.mark.postgres
async def test_old_rows_go_and_recent_ones_stay_on_postgres(postgres_engine: AsyncEngine) -> None:
    await old_rows_go_and_recent_ones_stay(postgres_engine)


async def test_old_rows_go_and_recent_ones_stay_on_sqlite(sqlite_engine: AsyncEngine) -> None:
    await old_rows_go_and_recent_ones_stay(sqlite_engine)


@pytest.mark.postgres
async def test_keep_zero_deletes_nothing(postgres_engine: AsyncEngine) -> None:
    await add_rows(postgres_engine, [timedelta(days=3650), timedelta(days=400)])
    retention = Retention.for_service(settings(0, 0), make_sessionmaker(postgres_engine), messaging)

    assert await retention.prune(NOW) == 0
    assert await left(postgres_engine) == (["r0", "r1"], ["r0", "r1"])
    # With nothing to keep track of, the task ends at once.
    await asyncio.wait_for(retention.run(asyncio.Event()), timeout=1)


async def backlogs_larger_than_a_batch_are_deleted_whole(engine: AsyncEngine) -> None:
    await add_rows(engine, [timedelta(days=40, minutes=i) for i in range(23)]
                   + [timedelta(days=1)], prefix="x")
    t = messaging.inbox
    retention = Retention(make_sessionmaker(engine), [Kept(t, t.c.received_at, timedelta(days=7))],
                          batch_size=5)

    assert await retention.prune(NOW) == 23
    assert (await left(engine))[1] == ["x23"]


@pytest.mark.postgres
async def test_backlogs_larger_than_a_batch_are_deleted_whole_on_postgres(
    postgres_engine: AsyncEngine,
) -> None:
    await backlogs_larger_than_a_batch_are_deleted_whole(postgres_engine)


async def test_backlogs_larger_than_a_batch_are_deleted_whole_on_sqlite(
    sqlite_engine: AsyncEngine,
) -> None:
    await backlogs_larger_than_a_batch_are_deleted_whole(sqlite_engine)


async def test_the_running_task_prunes_survives_errors_and_stops_promptly(
    sqlite_engine: AsyncEngine, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shanzhi_kit.retention")
    retention = Retention(make_sessionmaker(sqlite_engine), [
        Kept(messaging.inbox, messaging.inbox.c.received_at, timedelta(days=1))], every_seconds=0.05)
    await add_rows(sqlite_engine, [timedelta(days=2)], now=datetime.now(UTC))
    prune, calls = retention.prune, 0

    async def database_away_at_first(now: datetime | None = None,
                                     stop: asyncio.Event | None = None) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database is away")
        return await prune(now, stop)

    retention.prune = database_away_at_first  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(retention.run(stop))
    for _ in range(50):
        if retention.deleted:
            break
        await asyncio.sleep(0.05)
    assert not task.done()
    assert "retention pass failed: database is away" in caplog.text
    assert retention.deleted == 1
    assert "inbox: deleted 1 rows" in caplog.text

    started = asyncio.get_running_loop().time()
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert asyncio.get_running_loop().time() - started < 0.5


@pytest.mark.postgres
@pytest.mark.parametrize(("table", "column", "index"), [
    ("idempotency_keys", "created_at", "ix_idempotency_keys_created_at"),
    ("inbox", "received_at", "ix_inbox_received_at"),
])
async def test_the_selection_of_expired_rows_uses_the_brin_index(
    postgres_engine: AsyncEngine, table: str, column: str, index: str,
) -> None:
    await add_rows(postgres_engine, [timedelta(days=60, minutes=-i) for i in range(5000)])
    async with postgres_engine.begin() as conn:
        await conn.execute(text(f"ANALYZE {table}"))
    t = messaging.idempotency_keys if table == "idempotency_keys" else messaging.inbox
    kept = Kept(t, t.c[column], timedelta(days=30))
    selection = Retention(make_sessionmaker(postgres_engine), [kept]).expired(
        kept, NOW - timedelta(days=59, hours=23))
    compiled = selection.compile(postgres_engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with postgres_engine.connect() as conn:
        # A few thousand rows fit in a few pages, where a sequential scan may cost the
        # planner less; the index has to be usable all the same.
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join((await conn.execute(text(f"EXPLAIN {compiled}"))).scalars())
    assert f"Bitmap Index Scan on {index}" in plan
    assert "Seq Scan" not in plan
