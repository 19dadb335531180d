"""SQLite (the zero-setup database of ``make run``) keeps read-then-write transactions whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shanzhi_kit.db import make_engine, make_sessionmaker
from sqlalchemy import text


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
