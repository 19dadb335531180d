"""SQLite (the zero-setup database of ``make run``): read-then-write transactions stay whole,
and the relay's clean-up of published events reads their times right."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shanzhi_kit.db import make_engine, make_sessionmaker, new_metadata
from shanzhi_kit.messaging import MessagingTables
from shanzhi_kit.relay import OutboxRelay, Producer
from sqlalchemy import select, text


async def test_concurrent_read_then_write_transactions_lose_no_update(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'counter.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    sessions = make_sessionmaker(engine)

    async def increment() -> None:
        async with sessions() as session, session.begin():
            value = (await session.execute(text("SELECT value FROM counter WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0.01)  # let the others read the same row meanwhile
            await session.execute(text("UPDATE counter SET value = :v WHERE id = 1"), {"v": value + 1})

    try:
        await asyncio.gather(*(increment() for _ in range(10)))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT value FROM counter"))).scalar_one() == 10
    finally:
        await engine.dispose()


def _no_broker() -> Producer:
    raise AssertionError("pruning needs no broker")


async def test_published_events_older_than_kept_are_deleted(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    metadata = new_metadata()
    outbox = MessagingTables(metadata).outbox
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(outbox.insert(), [
            {"event_id": str(uuid.uuid4()), "topic": "t", "key": key, "event_type": "t",
             "payload": b"", "created_at": now - timedelta(days=9),
             "published_at": None if published is None else now - published}
            for key, published in [("old", timedelta(days=8)), ("kept", timedelta(days=6, hours=23)),
                                   ("pending", None)]])
    relay = OutboxRelay(make_sessionmaker(engine), outbox, _no_broker,
                        keep_published=timedelta(days=7))
    try:
        assert await relay.prune_published(now) == 1
        async with engine.connect() as conn:
            left = (await conn.execute(select(outbox.c.key).order_by(outbox.c.seq))).scalars().all()
        assert left == ["kept", "pending"]
    finally:
        await engine.dispose()
