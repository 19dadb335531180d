"""Events of one transaction, added to the outbox in one statement.

The kit's :class:`~shanzhi_kit.events.Outbox` writes one row per call; a batch
scoring writes thousands of events, so the points service collects them and
inserts them together, with the same row shape and the same envelope.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from google.protobuf.message import Message
from shanzhi_kit.events import Outbox, envelope
from sqlalchemy.ext.asyncio import AsyncSession


class EventBuffer:
    """Collects events and writes them to the outbox inside the caller's transaction."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._rows: list[dict[str, Any]] = []

    def add(self, data: Message, *, subject: str, region_code: str) -> None:
        env = envelope(data, source=self._outbox.source, subject=subject, region_code=region_code)
        self._rows.append({
            "event_id": env.id,
            "topic": self._outbox.topic,
            "key": subject,
            "event_type": env.type,
            "payload": env.SerializeToString(),
            "created_at": env.time.ToDatetime(tzinfo=UTC),
            "published_at": None,
        })

    def __len__(self) -> int:
        return len(self._rows)

    async def flush(self, session: AsyncSession) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        await session.execute(self._outbox.table.insert(), rows)
