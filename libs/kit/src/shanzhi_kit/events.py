"""Building and reading event envelopes (shanzhi.common.v1.EventEnvelope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from opentelemetry import propagate, trace
from shanzhi.common.v1 import event_pb2
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_kit.auth import current_caller
from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.values import new_id, to_timestamp

M = TypeVar("M", bound=Message)

EventEnvelope = event_pb2.EventEnvelope


def event_type(message: Message) -> str:
    return message.DESCRIPTOR.full_name


def envelope(
    data: Message,
    *,
    source: str,
    subject: str,
    region_code: str,
    actor: str | None = None,
    now: datetime | None = None,
) -> EventEnvelope:
    """Wrap ``data`` with a new id, the time, the caller and the current trace context."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    payload = any_pb2.Any()
    payload.Pack(data)
    stamp = to_timestamp(now or datetime.now(UTC))
    if actor is None:
        try:
            actor = current_caller().subject
        except Exception:
            actor = "system"
    return EventEnvelope(
        id=new_id(),
        type=event_type(data),
        source=source,
        time=stamp,
        subject=subject,
        region_code=region_code,
        traceparent=carrier.get("traceparent", ""),
        tracestate=carrier.get("tracestate", ""),
        data=payload,
        actor=actor,
    )


class Outbox:
    """Adds events to a service's outbox inside the caller's transaction."""

    def __init__(self, table: Table, *, source: str, topic: str) -> None:
        self.table = table
        self.source = source
        self.topic = topic
        self._insert = table.insert()

    async def add(
        self, session: AsyncSession, data: Message, *, subject: str, region_code: str,
        actor: str | None = None,
    ) -> EventEnvelope:
        """Add an event; ``actor`` defaults to the current caller (or "system")."""
        env = envelope(data, source=self.source, subject=subject, region_code=region_code,
                       actor=actor)
        await session.execute(self._insert, self.row(env))
        return env

    def row(self, env: EventEnvelope) -> dict[str, object]:
        """The outbox row of an envelope (for bulk inserts of many events)."""
        return {
            "event_id": env.id,
            "topic": self.topic,
            "key": env.subject,
            "event_type": env.type,
            "payload": env.SerializeToString(),
            "created_at": env.time.ToDatetime(tzinfo=UTC),
            "published_at": None,
        }


def unpack(env: EventEnvelope, message_type: type[M]) -> M:
    """The envelope's data as ``message_type``; an event that does not hold one is refused.

    The refusal is an :class:`~shanzhi_kit.errors.InvalidArgument`, which the consumer
    runner records as ``rejected`` instead of retrying it forever.
    """
    msg = message_type()
    try:
        ok = env.data.Unpack(msg)
    except DecodeError as exc:
        raise InvalidArgument.field("data", f"event {env.id} cannot be decoded: {exc}") from None
    if not ok:
        raise InvalidArgument.field(
            "data", f"event {env.id} holds {env.data.type_url}, not {event_type(msg)}"
        )
    return msg
