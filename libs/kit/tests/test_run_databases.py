"""Test runs against one PostgreSQL server keep their databases apart and clean up."""

from __future__ import annotations

import asyncio

from shanzhi_kit.testing import drop_run_databases, fresh_database, postgres_admin_url, run_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def _databases() -> set[str]:
    admin = create_async_engine(postgres_admin_url())
    try:
        async with admin.connect() as conn:
            return set((await conn.execute(text("SELECT datname FROM pg_database"))).scalars())
    finally:
        await admin.dispose()


async def test_databases_of_finished_runs_are_swept_and_live_ones_kept(postgres: None) -> None:
    finished = await asyncio.create_subprocess_exec("true")  # a run whose process has ended
    await finished.wait()
    stale = f"shanzhi_test_sweep_r{finished.pid}"
    await fresh_database(stale)
    ours = await run_database("shanzhi_test_sweep")
    ours_name = ours.rsplit("/", 1)[-1]
    assert {stale, ours_name} <= await _databases()

    swept = await drop_run_databases(own=False)

    remaining = await _databases()
    assert stale in swept and stale not in remaining
    assert ours_name in remaining
