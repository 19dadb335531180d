"""Events of one transaction, added to the outbox together with the change.

The kit's :class:`~shanzhi_kit.events.Outbox` writes one row per call; a batch
scoring writes thousands of events, so the points service collects them and
writes them with the transaction's other rows (see :mod:`shanzhi_points.posting`),
with the kit's row shape and envelope. Events of one transaction share their
time, actor and trace context, so the first envelope is built by the kit and the
others reuse those fields, serialized once per event type.

The envelopes' actor is who the transaction's rows name as having caused them: given
by writers that act for someone other than the current caller (the talent clerk whose
change a consumed event reports); else the kit's default, the current caller or
"system".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import any_pb2
from google.protobuf.message import Message
from shanzhi_kit.events import EventEnvelope, Outbox, envelope, event_type
from shanzhi_kit.values import new_id
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

#: What ``Any.Pack`` puts before a message's full name.
_TYPE_URL_PREFIX = "type.googleapis.com/"


class EventBuffer:
    """Collects events and writes them to the outbox inside the caller's transaction."""

    def __init__(self, outbox: Outbox, *, actor: str | None = None) -> None:
        self._outbox = outbox
        #: Who the envelopes name (``EventEnvelope.actor``); None for the kit's default.
        self._actor = actor
        self._rows: list[dict[str, Any]] = []
        self._first: EventEnvelope | None = None
        self._created_at: datetime | None = None
        #: The serialized fields every envelope of one event type shares, by type.
        self._shared: dict[str, bytes] = {}

    @property
    def table(self) -> Table:
        return self._outbox.table

    def add(self, data: Message, *, subject: str, region_code: str) -> None:
        if self._first is None:
            env = self._first = envelope(data, source=self._outbox.source, subject=subject,
                                         region_code=region_code, actor=self._actor)
            self._created_at = env.time.ToDatetime(tzinfo=UTC)
            event_id, kind, payload = env.id, env.type, env.SerializeToString()
        else:
            # The fields of this event alone, followed by those it shares with the first:
            # serialized messages placed one after the other parse as one message.
            kind = event_type(data)
            shared = self._shared.get(kind)
            if shared is None:
                first = self._first
                shared = self._shared[kind] = EventEnvelope(
                    type=kind, source=first.source, time=first.time, traceparent=first.traceparent,
                    tracestate=first.tracestate, actor=first.actor).SerializeToString()
            event_id = new_id()
            payload = EventEnvelope(
                id=event_id, subject=subject, region_code=region_code,
                data=any_pb2.Any(type_url=_TYPE_URL_PREFIX + kind, value=data.SerializeToString()),
            ).SerializeToString() + shared
        self._rows.append({
            "event_id": event_id,
            "topic": self._outbox.topic,
            "key": subject,
            "event_type": kind,
            "payload": payload,
            "created_at": self._created_at,
            "published_at": None,
        })

    def __len__(self) -> int:
        return len(self._rows)

    def take(self) -> list[dict[str, Any]]:
        """The rows collected so far, handed over to be written."""
        rows, self._rows = self._rows, []
        return rows

    async def flush(self, session: AsyncSession) -> None:
        rows = self.take()
        if rows:
            await session.execute(self._outbox.table.insert(), rows)
