"""The migrations build exactly the tables the code uses, on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from shanzhi_audit.app import MIGRATIONS
from shanzhi_audit.tables import metadata
from shanzhi_kit.db import make_engine
from shanzhi_kit.migrations import alembic_config, upgrade_async


async def differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_schema_matches_the_tables(audit_url: str) -> None:
    assert await differences(audit_url) == []


async def test_sqlite_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    await upgrade_async(MIGRATIONS, url)
    assert await differences(url) == []
    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url), "base")
    await upgrade_async(MIGRATIONS, url)
    assert await differences(url) == []
