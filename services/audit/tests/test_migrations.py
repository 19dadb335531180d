"""The migrations build exactly the tables the code uses, on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from shanzhi_audit.app import MIGRATIONS
from shanzhi_audit.tables import metadata
from shanzhi_kit.migrations import alembic_config, upgrade_async
from shanzhi_kit.testing import schema_differences


@pytest.mark.postgres
async def test_postgres_schema_matches_the_tables(audit_url: str) -> None:
    assert await schema_differences(audit_url, metadata) == []


async def test_sqlite_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    await upgrade_async(MIGRATIONS, url)
    assert await schema_differences(url, metadata) == []
    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url), "base")
    await upgrade_async(MIGRATIONS, url)
    assert await schema_differences(url, metadata) == []
