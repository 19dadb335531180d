"""Events the points service consumes: talent's registrations and appointments.

When the talent service appoints a villagers' representative (村民代表), points
opens that person's representative account and gives it the year's base score
(以100分为基准, or the base the village's representative scheme sets). When the
post ends (辞职、撤换、终止资格 …), the account stops earning from the day after the
term's last day; a later appointment opens it again. When talent registers a
party member (党员), points opens the person's party-member account (党员积分) in
the village, with the year's base score if the village's party-member scheme
sets one; a person who is not a party member gets nothing. When talent changes a
person's record (人员信息维护) and the person is now a party member without a
party-member account, the same path opens one; a changed name becomes the display
name (显示名称) of the person's accounts, unless the name there came from a later change
(a rename delivered late, or replayed under another event id); nothing else changes. The
consumer runner applies each event inside one transaction that also records its
id in the inbox; the account's unique subject and the one-base-score-a-year
index make a replay of the same event under another event id change
nothing either.

Each base entry these events post points to its cause (来源, ``Entry.source_id``) by an
id the talent service keeps and an auditor can look up there: a representative's base
score to the appointment's post (任职, ``post_id``, talent's ``GetPost``), a party
member's to the person (人员, ``person_id``, talent's ``GetPerson``, whose record says
the person is a party member and since when). Not the event's envelope id: talent
keeps no record under it, and a replay under another event id would name another one.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError
from shanzhi.points.v1 import points_pb2
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.consumer import EventEnvelope, Handler
from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.events import Outbox, event_type, unpack
from shanzhi_kit.regions import is_village_code
from shanzhi_kit.values import calendar_date, valid_uuid
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points.accounts import credit_base, open_account
from shanzhi_points.clock import Clock, china_date
from shanzhi_points.domain import PERSON_KINDS
from shanzhi_points.outbox import EventBuffer
from shanzhi_points.posting import LedgerWriter
from shanzhi_points.publicity import SYSTEM_ACTOR
from shanzhi_points.tables import accounts

log = logging.getLogger(__name__)

#: Name of the consumer; the inbox keys applied events by it.
REPRESENTATIVES_CONSUMER = "points-representatives"
#: The talent service's event topic.
TALENT_TOPIC = "shanzhi.talent.v1"
PERSON_REGISTERED = event_type(talent_events.PersonRegisteredEvent())
PERSON_UPDATED = event_type(talent_events.PersonUpdatedEvent())
PERSON_APPOINTED = event_type(talent_events.PersonAppointedEvent())
POST_ENDED = event_type(talent_events.PostEndedEvent())
REPRESENTATIVE = points_pb2.SUBJECT_KIND_REPRESENTATIVE
PARTY_MEMBER = points_pb2.SUBJECT_KIND_PARTY_MEMBER
M = TypeVar("M", talent_events.PersonRegisteredEvent, talent_events.PersonUpdatedEvent,
            talent_events.PersonAppointedEvent, talent_events.PostEndedEvent)


def _payload(env: EventEnvelope, kind: type[M]) -> M:
    """The event's payload; a payload that is not the announced type is refused, not retried."""
    try:
        event = unpack(env, kind)
    except (ValueError, DecodeError) as exc:
        raise InvalidArgument.field("data", f"not a {kind.__name__}: {exc}") from None
    assert isinstance(event, kind)
    if not valid_uuid(event.person_id) or not is_village_code(event.region_code):
        raise InvalidArgument.field("data", "person_id or region_code is malformed")
    return event


def _day(value: str, field: str) -> date:
    try:
        return calendar_date(value)
    except ValueError:
        raise InvalidArgument.field(field, "is not a date") from None


def representative_year(start: date, today: date) -> tuple[int, date]:
    """The year an appointment opens at the base score, and the entry's date."""
    year = max(start.year, today.year)
    return year, max(start, date(year, 1, 1))


class TalentEventHandlers:
    """Applies talent events (人才/干部) to points accounts."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    @staticmethod
    def _actor(env: EventEnvelope) -> str:
        """Who caused what an event leads to: the talent caller who made the change (the
        clerk who appointed a representative, who registered a party member), or the
        service when the event names no one."""
        return (env.actor or SYSTEM_ACTOR)[:200]

    def handlers(self) -> dict[str, Handler]:
        return {PERSON_REGISTERED: self.person_registered, PERSON_UPDATED: self.person_updated,
                PERSON_APPOINTED: self.person_appointed, POST_ENDED: self.post_ended}

    async def person_registered(self, session: AsyncSession, env: EventEnvelope) -> None:
        """A party member (党员) gets a party-member account (党员积分) in the village."""
        event = _payload(env, talent_events.PersonRegisteredEvent)
        if event.party_member:
            await self._open_party_member_account(session, event, env.time.ToDatetime(UTC),
                                                  actor=self._actor(env))

    async def person_updated(self, session: AsyncSession, env: EventEnvelope) -> None:
        """A changed record (人员信息维护): a party member without a party-member account gets
        one, as at registration; a new name (姓名) becomes the accounts' display name."""
        event = _payload(env, talent_events.PersonUpdatedEvent)
        name = event.person_name.strip()[:100]
        changed_at = env.time.ToDatetime(UTC)
        # The person's accounts locked first, in id order as every path that locks several
        # accounts does: the updates below would take them in the order they find them.
        await session.execute(select(accounts.c.id).where(
            accounts.c.subject_kind.in_(PERSON_KINDS), accounts.c.subject_id == event.person_id,
        ).order_by(accounts.c.id).with_for_update())
        if "name" in event.changed_fields and name:
            # Only a change newer than the one the name came from: a rename delivered late,
            # or replayed under another event id, does not bring an old name back.
            await session.execute(update(accounts).where(
                accounts.c.subject_kind.in_(PERSON_KINDS), accounts.c.subject_id == event.person_id,
                or_(accounts.c.display_name_at.is_(None), accounts.c.display_name_at < changed_at),
            ).values(display_name=name, display_name_at=changed_at))
        if event.party_member:
            await self._open_party_member_account(
                session, event, changed_at, actor=self._actor(env),
                reopen="party_member" in event.changed_fields)
        elif "party_member" in event.changed_fields:
            # Left the party (出党): the account earns nothing after the day the record
            # changed; its balance and history stay. Rejoining opens it again.
            await session.execute(update(accounts).where(
                accounts.c.subject_kind == PARTY_MEMBER, accounts.c.subject_id == event.person_id,
                accounts.c.closed_on.is_(None)).values(closed_on=china_date(env.time.ToDatetime(UTC))))

    async def _open_party_member_account(
            self, session: AsyncSession,
            event: talent_events.PersonRegisteredEvent | talent_events.PersonUpdatedEvent,
            named_at: datetime, *, actor: str, reopen: bool = False) -> None:
        """Open the person's party-member account with the year's base score, unless it
        exists; ``reopen`` (the person rejoined the party) opens a closed one again."""
        writer = LedgerWriter(session, EventBuffer(self._outbox), actor, self._clock.now(),
                              self._clock.today())
        existing = await writer.lock_subject(PARTY_MEMBER, event.person_id)
        if existing is not None:
            if existing.closed_on is None or not reopen:
                log.info("person %s already has a party-member account", event.person_id)
                return
            await session.execute(update(accounts).where(accounts.c.id == existing.id)
                                  .values(closed_on=None))
            log.info("party-member account %s opened again", existing.id)
            return
        state = await open_account(session, writer.events, kind=PARTY_MEMBER,
                                   subject_id=event.person_id, region_code=event.region_code,
                                   display_name=event.person_name or event.person_id,
                                   now=writer.now, actor=actor, named_at=named_at)
        state.lots = {}
        # The person's record is the cause: registration and changes carry no other
        # id of theirs, and the envelope's id names nothing talent keeps.
        await credit_base(writer, state, writer.today.year, writer.today, source_id=event.person_id)
        await writer.flush()
        log.info("party-member account %s opened", state.id)

    async def person_appointed(self, session: AsyncSession, env: EventEnvelope) -> None:
        """A villagers' representative (村民代表) gets an account and the year's base score.

        The base entry points to the appointment (任职): talent's post id, the same in every
        delivery of the event and the record of who was appointed, when and how.
        """
        event = _payload(env, talent_events.PersonAppointedEvent)
        if event.role != talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE:
            return
        if not valid_uuid(event.post_id):
            raise InvalidArgument.field("data.post_id", "is not a UUID")
        start = _day(event.start_date, "data.start_date")
        writer = LedgerWriter(session, EventBuffer(self._outbox), self._actor(env), self._clock.now(),
                              self._clock.today())
        state = await writer.lock_subject(REPRESENTATIVE, event.person_id)
        if state is None:
            state = await open_account(session, writer.events, kind=REPRESENTATIVE,
                                       subject_id=event.person_id, region_code=event.region_code,
                                       display_name=event.person_name or event.person_id,
                                       now=writer.now, actor=writer.actor,
                                       named_at=env.time.ToDatetime(UTC))
        elif state.closed_on is not None:
            await session.execute(update(accounts).where(accounts.c.id == state.id)
                                  .values(closed_on=None))
        year, day = representative_year(start, writer.today)
        if await credit_base(writer, state, year, day, source_id=event.post_id):
            log.info("representative account %s opened %s at its base score", state.id, year)
        await writer.flush()

    async def post_ended(self, session: AsyncSession, env: EventEnvelope) -> None:
        """A representative's term ended (出缺): the account earns nothing after its last day."""
        event = _payload(env, talent_events.PostEndedEvent)
        if event.role != talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE:
            return
        end = _day(event.end_date, "data.end_date")
        await session.execute(update(accounts).where(
            accounts.c.subject_kind == REPRESENTATIVE, accounts.c.subject_id == event.person_id,
            accounts.c.closed_on.is_(None)).values(closed_on=end))
