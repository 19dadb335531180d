"""Events the talent service consumes: outstanding villagers' representatives from points.

The villagers' representative meeting votes a representative outstanding for a
year (优秀村民代表); the points service records the honour and its certificate and
publishes ``RepresentativeHonouredEvent``. Talent puts the person into the reserve
talent pool (后备人才) with source RESERVE_SOURCE_OUTSTANDING_REPRESENTATIVE, the way
``AddReserveCandidate`` does (:func:`shanzhi_talent.reserve.enter_pool`: the same
first history step and the same ``ReserveStatusChangedEvent``).

Exactly once: the consumer runner records each event id in the inbox in the same
transaction as its effect, and the candidate keeps the honour's id as its source
reference (unique), so the same honour delivered again under another event id adds
nothing. A person who already is an active candidate stays as they are: the honour
adds nothing and a log line says so. Log lines name people by id only.
"""

from __future__ import annotations

import logging

from google.protobuf.message import DecodeError
from shanzhi.points.v1 import events_pb2 as points_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.consumer import EventEnvelope, Handler
from shanzhi_kit.errors import InvalidArgument, NotFound
from shanzhi_kit.events import Outbox, event_type, unpack
from shanzhi_kit.values import valid_uuid
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_talent import reserve
from shanzhi_talent.repository import TalentRepository

log = logging.getLogger(__name__)

#: Name of the consumer; the inbox keys applied events by it.
HONOURS_CONSUMER = "talent-honours"
#: The points service's event topic.
POINTS_TOPIC = "shanzhi.points.v1"
REPRESENTATIVE_HONOURED = event_type(points_events.RepresentativeHonouredEvent())
#: Who the consumer's changes are recorded as (留痕).
ENTERED_BY = "system:points-event"


def honour_reference(honour_id: str) -> str:
    """The source reference a candidate put into the pool by a points honour keeps."""
    return f"points-honour:{honour_id}"


def honour_note(year: int, certificate_number: str) -> str:
    """The candidate's note: why the person is in the pool (入库理由)."""
    certificate = f", 荣誉证书 {certificate_number}" if certificate_number else ""
    return f"{year}年度优秀村民代表 (村民代表会议表决{certificate})"


def _honour(env: EventEnvelope) -> points_events.RepresentativeHonouredEvent:
    """The event's payload; a payload that is not the announced type is refused, not retried."""
    try:
        event = unpack(env, points_events.RepresentativeHonouredEvent)
    except (ValueError, DecodeError) as exc:
        raise InvalidArgument.field("data", f"not a RepresentativeHonouredEvent: {exc}") from None
    assert isinstance(event, points_events.RepresentativeHonouredEvent)
    if not valid_uuid(event.person_id) or not valid_uuid(event.honour_id):
        raise InvalidArgument.field("data", "person_id or honour_id is malformed")
    return event


class PointsEventHandlers:
    """Applies points events (积分制) to the reserve talent pool (后备人才)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def handlers(self) -> dict[str, Handler]:
        return {REPRESENTATIVE_HONOURED: self.representative_honoured}

    async def representative_honoured(self, session: AsyncSession, env: EventEnvelope) -> None:
        """An outstanding representative (优秀村民代表) joins the reserve pool, once."""
        event = _honour(env)
        repo = TalentRepository(session)
        person = await repo.lock_person(event.person_id)
        if person is None:
            raise NotFound("person", event.person_id)
        reference = honour_reference(event.honour_id)
        known = await repo.candidate_by_source_reference(reference)
        if known is not None:
            log.info("honour %s already put person %s into the reserve pool (candidate %s)",
                     event.honour_id, person.id, known.id)
            return
        candidate_id = await reserve.enter_pool(
            session, self._outbox, person, source=talent_pb2.RESERVE_SOURCE_OUTSTANDING_REPRESENTATIVE,
            actor=ENTERED_BY, note=honour_note(event.year, event.certificate_number),
            source_reference=reference)
        if candidate_id is None:
            log.info("person %s is already an active reserve candidate: honour %s adds nothing",
                     person.id, event.honour_id)
            return
        log.info("person %s entered the reserve pool as candidate %s (outstanding representative, "
                 "honour %s)", person.id, candidate_id, event.honour_id)
