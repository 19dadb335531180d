"""Retention of the idempotency keys and the inbox.

Both tables take a row per write request or per consumed event, so without a limit
they grow as fast as the ledger. :class:`Retention` runs in the background and,
once a minute, deletes the rows older than each table's keep period:

- ``idempotency_keys`` after ``SHANZHI_IDEMPOTENCY_KEEP_DAYS`` (30 by default): a
  retry with the same request id within that time gets the first answer; after it,
  the id is forgotten and the request is a new one.
- ``inbox`` after ``SHANZHI_INBOX_KEEP_DAYS`` (0 by default: kept forever). An
  inbox row may go only once its event can no longer be delivered again, so the
  period must exceed the retention of the topics consumed and the broker's
  retention of committed offsets. Events recorded as ``failed`` stay however old,
  until they are delivered again and applied: they are an operator's to-do list.

Rows are found by their time (a BRIN index on PostgreSQL, a plain index on SQLite)
and deleted a batch at a time, one transaction each, by ``ctid`` (PostgreSQL) or
``rowid`` (SQLite), so a backlog is never one long delete and a pass with nothing
to do reads a few index pages rather than the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, ColumnElement, Table, delete, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Select

from shanzhi_kit.messaging import MessagingTables
from shanzhi_kit.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """One table's rows, kept for ``keep`` after the time in ``column``."""

    table: Table
    column: Column[datetime]
    keep: timedelta
    #: Rows kept whatever their age, if any (a condition on the table).
    exempt: ColumnElement[bool] | None = None


def _keep(days: float) -> timedelta | None:
    return timedelta(days=days) if days > 0 else None


class Retention:
    """Deletes expired rows of the given tables until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kept: list[Kept],
        *,
        every_seconds: float = 60.0,
        batch_size: int = 5000,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._kept = kept
        self._every = every_seconds
        self._batch_size = batch_size
        self.deleted = 0

    @classmethod
    def for_service(cls, settings: ServiceSettings, sessionmaker: async_sessionmaker[AsyncSession],
                    messaging: MessagingTables) -> Retention:
        """A service's retention of its idempotency keys and inbox, from its settings."""
        kept = []
        if (keys := _keep(settings.idempotency_keep_days)) is not None:
            t = messaging.idempotency_keys
            kept.append(Kept(t, t.c.created_at, keys))
        if (inbox := _keep(settings.inbox_keep_days)) is not None:
            t = messaging.inbox
            kept.append(Kept(t, t.c.received_at, inbox, exempt=t.c.outcome == "failed"))
        return cls(sessionmaker, kept)

    def expired(self, kept: Kept, cutoff: datetime, *, row_id: str = "ctid") -> Select[tuple[object]]:
        """The ids of one batch of rows older than ``cutoff``."""
        query: Select[tuple[object]] = (select(literal_column(row_id)).select_from(kept.table)
                                        .where(kept.column < cutoff))
        if kept.exempt is not None:
            query = query.where(~kept.exempt)
        return query.limit(self._batch_size)

    async def prune(self, now: datetime | None = None, stop: asyncio.Event | None = None) -> int:
        """Delete every expired row, a batch per transaction; returns how many went."""
        now = now or datetime.now(UTC)
        total = 0
        for kept in self._kept:
            cutoff = now - kept.keep
            count = 0
            while stop is None or not stop.is_set():
                async with self._sessionmaker() as session, session.begin():
                    dialect = session.get_bind().dialect.name
                    row_id = "ctid" if dialect == "postgresql" else "rowid"
                    result = await session.execute(
                        delete(kept.table).where(literal_column(row_id).in_(
                            self.expired(kept, cutoff, row_id=row_id))))
                deleted: int = result.rowcount  # type: ignore[attr-defined]
                count += deleted
                if deleted < self._batch_size:
                    break
            if count:
                log.info("%s: deleted %d rows older than %s", kept.table.name, count, kept.keep)
            total += count
        self.deleted += total
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Prune every ``every_seconds`` until ``stop`` is set; a failed pass is retried
        at the next one."""
        if not self._kept:
            return
        while not stop.is_set():
            try:
                await self.prune(stop=stop)
            except Exception as exc:
                log.warning("retention pass failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._every)
