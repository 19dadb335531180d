"""A consumed record that keeps failing, on SQLite: given up on after its attempts and
kept in the inbox as ``failed``; errors of the moment are retried for as long as they
last; a failed event delivered again once fixed is applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from shanzhi.common.v1 import region_pb2
from shanzhi_kit.consumer import EventConsumer, failure_reason, is_transient
from shanzhi_kit.db import make_engine, make_sessionmaker, new_metadata
from shanzhi_kit.events import envelope, unpack
from shanzhi_kit.messaging import MessagingTables
from sqlalchemy import Column, Integer, String, Table, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

metadata = new_metadata()
stamps = Table("stamps", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
               Column("event_id", String(36), nullable=False), Column("at", String(40)))
messaging = MessagingTables(metadata)
TYPE = "shanzhi.common.v1.RegionScope"


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}")
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield eng
    await eng.dispose()


async def stamp(session: AsyncSession, env: Any) -> None:
    """A handler that reads a timestamp from the event: a malformed one raises ValueError."""
    at = datetime.fromisoformat(unpack(env, region_pb2.RegionScope).code_prefix)
    await session.execute(stamps.insert().values(event_id=env.id, at=at.isoformat()))


def record(code: str, offset: int = 3) -> tuple[SimpleNamespace, str]:
    env = envelope(region_pb2.RegionScope(code_prefix=code), source="kit-test", subject="s",
                   region_code="130123101201", actor="tester")
    return SimpleNamespace(topic="kit-topic", partition=1, offset=offset, headers=[],
                           value=env.SerializeToString()), env.id


def consumer(engine: AsyncEngine, handler: Any, name: str = "kit-stamps") -> EventConsumer:
    return EventConsumer(
        name=name, topics=["kit-topic"], handlers={TYPE: handler},
        sessionmaker=make_sessionmaker(engine), inbox=messaging.inbox,
        bootstrap_servers="127.0.0.1:9", group_id="unused", loop=asyncio.get_running_loop(),
        max_attempts=3, retry_backoff_seconds=0.01)


async def inbox_row(engine: AsyncEngine, event_id: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(messaging.inbox).where(
            messaging.inbox.c.event_id == event_id))).one_or_none()


async def test_a_record_that_keeps_failing_is_kept_as_failed_after_its_attempts(
    engine: AsyncEngine,
) -> None:
    calls = 0

    async def counted(session: AsyncSession, env: Any) -> None:
        nonlocal calls
        calls += 1
        await stamp(session, env)

    runner = consumer(engine, counted)
    rec, event_id = record("1990-13-45T00:00:00")  # no 13th month
    assert await asyncio.to_thread(runner._apply_with_retry, rec) is True
    assert calls == 3 and runner.failed == 1 and runner.applied == 0
    row = await inbox_row(engine, event_id)
    assert row.outcome == "failed" and row.event_type == TYPE and row.consumer == "kit-stamps"
    assert row.detail.startswith("ValueError at test_consumer_failures.py:")
    assert "in stamp; kit-topic[1]@3 after 3 attempts" in row.detail
    assert "1990-13-45" not in row.detail  # the message, which may quote data, is left out

    # Delivered again (the same record, before its offset was committed): it is tried
    # again, and stays failed.
    assert await asyncio.to_thread(runner._apply_with_retry, rec) is True
    assert calls == 6 and (await inbox_row(engine, event_id)).outcome == "failed"


async def test_a_failed_event_delivered_again_once_fixed_is_applied(engine: AsyncEngine) -> None:
    rec, event_id = record("2024-02-30T00:00:00")  # no 30 February
    assert await asyncio.to_thread(consumer(engine, stamp)._apply_with_retry, rec) is True
    assert (await inbox_row(engine, event_id)).outcome == "failed"

    async def lenient(session: AsyncSession, env: Any) -> None:
        await session.execute(stamps.insert().values(event_id=env.id, at=None))

    fixed = consumer(engine, lenient)
    assert await asyncio.to_thread(fixed._apply_with_retry, rec) is True
    assert fixed.applied == 1 and fixed.duplicates == 0
    assert (await inbox_row(engine, event_id)).outcome == "applied"
    # And once applied, it is a duplicate like any other.
    assert await asyncio.to_thread(fixed._apply_with_retry, rec) is True
    assert fixed.duplicates == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(stamps.c.event_id))).scalars().all() == [event_id]


async def test_errors_of_the_moment_are_retried_without_counting(engine: AsyncEngine) -> None:
    failures = [ConnectionResetError("the database went away")] * 5

    async def flaky(session: AsyncSession, env: Any) -> None:
        if failures:
            raise failures.pop()
        await stamp(session, env)

    runner = consumer(engine, flaky)
    rec, event_id = record("2024-02-28T00:00:00")
    assert await asyncio.to_thread(runner._apply_with_retry, rec) is True
    assert runner.applied == 1 and runner.failed == 0
    assert (await inbox_row(engine, event_id)).outcome == "applied"


class PgError(Exception):
    """A driver's error, with its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("error", "transient"), [
    (ConnectionResetError(), True),
    (TimeoutError(), True),
    (OperationalError("SELECT 1", None, Exception("x")), False),
    (DBAPIError("SELECT 1", None, PgError("40001")), True),
    (DBAPIError("SELECT 1", None, PgError("40P01")), True),
    (DBAPIError("SELECT 1", None, PgError("08006")), True),
    (DBAPIError("SELECT 1", None, PgError("57P01")), True),
    (DBAPIError("SELECT 1", None, PgError("22007")), False),
    (DBAPIError("SELECT 1", None, PgError("23505")), False),
    (ValueError("bad"), False),
    (KeyError("k"), False),
])
def test_which_errors_are_of_the_moment(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_failure_reason_names_the_error_not_its_data() -> None:
    class UniqueViolationError(Exception):
        sqlstate = "23505"
        constraint_name = "uq_people_id_number"
        table_name = "people"

    cause = UniqueViolationError('duplicate key value violates unique constraint: Key (id_number)=(130123)')
    try:
        raise DBAPIError("INSERT", None, cause)
    except DBAPIError as exc:
        reason = failure_reason(exc)
    assert reason.startswith("DBAPIError from UniqueViolationError (SQLSTATE 23505, "
                             "constraint uq_people_id_number, table people) at test_consumer_failures.py:")
    assert "130123" not in reason
