"""Alembic helpers shared by every service's migrations.

Each service keeps its own ``migrations/`` folder (its own history and its own
``alembic_version`` table); its ``env.py`` calls :func:`run_env` with the service's
metadata. :func:`upgrade` applies a service's migrations from code (tests,
``SHANZHI_MIGRATE_ON_START`` and ``make run``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('alembic:' || current_database()))")


def alembic_config(script_location: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Run ``alembic upgrade`` synchronously (call it from a worker thread in async code)."""
    command.upgrade(alembic_config(script_location, url), revision)


async def upgrade_async(script_location: Path, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, script_location, url, revision)


def run_env(target_metadata: MetaData, url_from_env: str | None = None) -> None:
    """Body of a service's ``env.py``: offline SQL or online with an async engine."""
    config = context.config
    if url_from_env and not config.get_main_option("sqlalchemy.url"):
        config.set_main_option("sqlalchemy.url", url_from_env)
    url = config.get_main_option("sqlalchemy.url")
    render_as_batch = bool(url and url.startswith("sqlite"))

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=render_as_batch,
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together migrate one at a time.
                connection.execute(MIGRATION_LOCK)
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def online() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(online())
