"""Events the audit service consumes: talent events feed the audit schedule (审计计划).

An appointment to a cadre post (任职, ``PersonAppointedEvent``) schedules the term's
in-office audit (任中审计); the end of a cadre term (离任, ``PostEndedEvent``)
schedules its leaving-office audit (离任审计).

The consumer runner (:class:`shanzhi_kit.consumer.EventConsumer`) calls each
handler inside one transaction that also records the event id in the inbox; the
handler writes the schedule entry and its ``AuditScheduledEvent`` in that same
transaction, so an event is applied at most once even when redelivered.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from shanzhi.audit.v1 import audit_pb2, events_pb2
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi_kit.consumer import EventEnvelope, Handler
from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.events import Outbox, event_type, unpack
from shanzhi_kit.values import format_date, new_id, utcnow
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_audit import domain
from shanzhi_audit.repository import AuditRepository

log = logging.getLogger(__name__)

#: Name of the consumer; the inbox keys applied events by it.
SCHEDULE_CONSUMER = "audit-schedule"
#: The talent service's event topic.
TALENT_TOPIC = "shanzhi.talent.v1"
PERSON_APPOINTED = event_type(talent_events.PersonAppointedEvent())
POST_ENDED = event_type(talent_events.PostEndedEvent())

M = TypeVar("M", bound=Message)


def _unpack(env: EventEnvelope, cls: type[M]) -> M:
    """The event's payload; a payload that is not the announced type is refused, not retried."""
    try:
        event = unpack(env, cls)
    except (ValueError, DecodeError) as exc:
        raise InvalidArgument.field("data", f"not a {cls.__name__}: {exc}") from None
    assert isinstance(event, cls)
    return event


class TalentEventHandlers:
    """Applies talent events (人才/干部) to the audit schedule (审计计划)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def handlers(self) -> dict[str, Handler]:
        return {PERSON_APPOINTED: self.person_appointed, POST_ENDED: self.post_ended}

    async def person_appointed(self, session: AsyncSession, env: EventEnvelope) -> None:
        """A cadre appointment (任职) schedules the in-office audit (任中审计) of the term."""
        planned = domain.plan_for_appointment(_unpack(env, talent_events.PersonAppointedEvent))
        if planned is not None:
            await self._schedule(session, env, planned)

    async def post_ended(self, session: AsyncSession, env: EventEnvelope) -> None:
        """The end of a cadre term (离任) schedules its leaving-office audit (离任审计).

        The post's in-office entry, if any, is left as it is (see
        :func:`shanzhi_audit.domain.plan_for_departure`). An event without the
        person's name takes the name from an earlier entry of the same post, if any.
        """
        planned = domain.plan_for_departure(_unpack(env, talent_events.PostEndedEvent))
        if planned is None:
            return
        if not planned.cadre_name:
            known = await AuditRepository(session).cadre_name_of_post(planned.post_id)
            if known:
                planned = replace(planned, cadre_name=known)
        await self._schedule(session, env, planned)

    async def _schedule(
        self, session: AsyncSession, env: EventEnvelope, planned: domain.PlannedAudit
    ) -> None:
        """Write the entry and its AuditScheduledEvent, unless the post has one of that kind."""
        entry_id = new_id()
        inserted = await AuditRepository(session).add_schedule_entry(
            id=entry_id,
            cadre_person_id=planned.cadre_person_id,
            cadre_name=planned.cadre_name,
            region_code=planned.region_code,
            post_id=planned.post_id,
            post_role=planned.post_role,
            kind=planned.kind,
            due_date=planned.due_date,
            status=audit_pb2.AUDIT_SCHEDULE_STATUS_DUE,
            source_event_id=env.id,
            created_at=utcnow(),
            created_by=domain.SCHEDULED_BY,
        )
        if not inserted:
            # Another event about the same post (a replay under a new id) got here first.
            log.info("post %s already has a %s audit scheduled; event %s changes nothing",
                     planned.post_id, audit_pb2.AuditKind.Name(planned.kind), env.id)
            return
        await self._outbox.add(
            session,
            events_pb2.AuditScheduledEvent(
                entry_id=entry_id, cadre_person_id=planned.cadre_person_id,
                region_code=planned.region_code, kind=planned.kind,
                due_date=format_date(planned.due_date),
            ),
            subject=entry_id, region_code=planned.region_code,
        )
