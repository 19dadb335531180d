"""The migrations build exactly the tables the code uses, on PostgreSQL and on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from shanzhi_kit.testing import check_migrations_on_sqlite, schema_differences
from shanzhi_talent.app import MIGRATIONS
from shanzhi_talent.tables import metadata


@pytest.mark.postgres
async def test_postgres_schema_matches_the_tables(talent_url: str) -> None:
    assert await schema_differences(talent_url, metadata) == []


async def test_sqlite_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    await check_migrations_on_sqlite(MIGRATIONS, metadata, tmp_path)
