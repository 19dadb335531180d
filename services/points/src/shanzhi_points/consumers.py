"""Events the points service consumes: talent's registrations and appointments.

When the talent service appoints a villagers' representative (村民代表), points
opens that person's representative account and gives it the base score (以100分为基准,
or the base the village's representative scheme sets) of the year the term reaches
now: the current year, or the first year of a term that starts later. When the post
ends (辞职、撤换、终止资格 …), the account stops earning from the day after the term's
last day; a later appointment opens it again.

Points keeps the representative posts (村民代表任职, ``representative_posts``) it has
heard of, by talent's post id, from whichever of the appointment and the end came
first, whether or not the person has an account. The account is open exactly while
one of the person's posts is open, and otherwise closed on the latest last day: a
person who represents two villages keeps the account until both terms end; an end
delivered before its appointment, or an appointment resent after its end, neither
opens nor reopens it. A base score (年度基础分) is only for a year the term covers: an
appointment whose term is known to have ended before the year changes nothing, and
the end of a term entered after the fact (a back-filled 2019–2021 term) takes back
(冲正) the base score its appointment credited for a later year, unless another of the
person's posts covers that year.

When talent registers a party member (党员), points opens the person's party-member
account (党员积分) in the village, with the year's base score if the village's
party-member scheme sets one; a person who is not a party member gets nothing. When talent changes a
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
from shanzhi_kit.db import insert_ignoring_conflicts
from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.events import Outbox, event_type, unpack
from shanzhi_kit.regions import is_village_code
from shanzhi_kit.values import calendar_date, valid_uuid
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points.accounts import credit_base, open_account, set_closed_on
from shanzhi_points.clock import Clock, china_date
from shanzhi_points.domain import PERSON_KINDS
from shanzhi_points.ledger import plan_take_back
from shanzhi_points.outbox import EventBuffer
from shanzhi_points.posting import AccountState, LedgerWriter
from shanzhi_points.publicity import SYSTEM_ACTOR
from shanzhi_points.repository import PointsRepository
from shanzhi_points.tables import accounts, entries, representative_posts

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


async def _record_post(session: AsyncSession, *, post_id: str, person_id: str, region_code: str,
                       start: date, end: date | None) -> date | None:
    """Record a representative post (村民代表任职) if it is new, and its end (离任) if given;
    returns the post's last day as now known (None while it is open)."""
    p = representative_posts
    dialect = session.get_bind().dialect.name
    await session.execute(insert_ignoring_conflicts(dialect, p, dict(
        post_id=post_id, person_id=person_id, region_code=region_code, start_date=start,
        end_date=end), ["post_id"]))
    if end is not None:
        await session.execute(update(p).where(p.c.post_id == post_id, p.c.end_date.is_(None))
                              .values(end_date=end))
    known: date | None = (await session.execute(
        select(p.c.end_date).where(p.c.post_id == post_id))).scalar_one()
    return known


async def _settle(session: AsyncSession, events: EventBuffer, state: AccountState) -> None:
    """Open the representative's account while one of the person's posts is open; else close
    it on the latest last day of them."""
    p = representative_posts
    row = (await session.execute(select(
        func.count() - func.count(p.c.end_date), func.max(p.c.end_date)
    ).where(p.c.person_id == state.subject_id))).one()
    still_open, last_day = int(row[0]), row[1]
    if not still_open and last_day is None:
        return  # no post known: nothing to go by
    await set_closed_on(session, events, state, None if still_open else last_day)


async def _covered_by_another_post(session: AsyncSession, person_id: str, post_id: str,
                                   year: int) -> bool:
    p = representative_posts
    return (await session.execute(select(p.c.post_id).where(
        p.c.person_id == person_id, p.c.post_id != post_id, p.c.start_date <= date(year, 12, 31),
        or_(p.c.end_date.is_(None), p.c.end_date >= date(year, 1, 1))).limit(1))).first() is not None


class TalentEventHandlers:
    """Applies talent events (人才/干部) to points accounts."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    @staticmethod
    def _actor(env: EventEnvelope) -> str:
        """Who caused what an event leads to: the talent caller who made the change (the
        clerk who appointed a representative, who registered a party member), or the
        service when the event names no one. The rows (账户、积分明细) and the events
        written with them name the same one."""
        return (env.actor or SYSTEM_ACTOR)[:200]

    def _writer(self, session: AsyncSession, actor: str) -> LedgerWriter:
        return LedgerWriter(session, EventBuffer(self._outbox, actor=actor), actor,
                            self._clock.now(), self._clock.today())

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
            writer = self._writer(session, self._actor(env))
            member = await writer.lock_subject(PARTY_MEMBER, event.person_id)
            if member is not None and member.closed_on is None:
                await set_closed_on(session, writer.events, member, china_date(env.time.ToDatetime(UTC)))
                await writer.flush()

    async def _open_party_member_account(
            self, session: AsyncSession,
            event: talent_events.PersonRegisteredEvent | talent_events.PersonUpdatedEvent,
            named_at: datetime, *, actor: str, reopen: bool = False) -> None:
        """Open the person's party-member account with the year's base score, unless it
        exists; ``reopen`` (the person rejoined the party) opens a closed one again."""
        writer = self._writer(session, actor)
        existing = await writer.lock_subject(PARTY_MEMBER, event.person_id)
        if existing is not None:
            if existing.closed_on is None or not reopen:
                log.info("person %s already has a party-member account", event.person_id)
                return
            await set_closed_on(session, writer.events, existing, None)
            await writer.flush()
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
        """A villagers' representative (村民代表) gets an account and the base score of the
        year the term reaches now (年度基础分).

        The base entry points to the appointment (任职): talent's post id, the same in every
        delivery of the event and the record of who was appointed, when and how. For a post
        already known to have ended (its end delivered first, or this a resend) the account
        stays closed: it is opened (closed on the term's last day) and credited only if the
        term reached into the year, as it would have been had the events come in order.
        """
        event = _payload(env, talent_events.PersonAppointedEvent)
        if event.role != talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE:
            return
        if not valid_uuid(event.post_id):
            raise InvalidArgument.field("data.post_id", "is not a UUID")
        start = _day(event.start_date, "data.start_date")
        writer = self._writer(session, self._actor(env))
        state = await writer.lock_subject(REPRESENTATIVE, event.person_id)
        end = await _record_post(session, post_id=event.post_id, person_id=event.person_id,
                                 region_code=event.region_code, start=start, end=None)
        year, day = representative_year(start, writer.today)
        if end is not None and end < day:
            log.info("post %s ended on %s, before %s: its appointment changes nothing",
                     event.post_id, end, year)
            return
        if state is None:
            state = await open_account(session, writer.events, kind=REPRESENTATIVE,
                                       subject_id=event.person_id, region_code=event.region_code,
                                       display_name=event.person_name or event.person_id,
                                       now=writer.now, actor=writer.actor,
                                       named_at=env.time.ToDatetime(UTC))
        await _settle(session, writer.events, state)
        if await credit_base(writer, state, year, day, source_id=event.post_id):
            log.info("representative account %s opened %s at its base score", state.id, year)
        await writer.flush()

    async def post_ended(self, session: AsyncSession, env: EventEnvelope) -> None:
        """A representative's term ended (出缺): the account earns nothing after its last day,
        unless another of the person's posts is still open.

        A base score the appointment credited for a year after the term's last day (a term
        entered after it ended) is taken back (冲正), unless another post covers that year.
        """
        event = _payload(env, talent_events.PostEndedEvent)
        if event.role != talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE:
            return
        if not valid_uuid(event.post_id):
            raise InvalidArgument.field("data.post_id", "is not a UUID")
        start = _day(event.start_date, "data.start_date")
        end = _day(event.end_date, "data.end_date")
        writer = self._writer(session, self._actor(env))
        state = await writer.lock_subject(REPRESENTATIVE, event.person_id)
        last_day = await _record_post(session, post_id=event.post_id, person_id=event.person_id,
                                      region_code=event.region_code, start=start, end=end)
        if state is None:
            return
        await _settle(session, writer.events, state)
        assert last_day is not None
        await self._take_back_bases_after(writer, state, event.post_id, last_day)
        await writer.flush()

    @staticmethod
    async def _take_back_bases_after(writer: LedgerWriter, state: AccountState, post_id: str,
                                     last_day: date) -> None:
        """Reverse (冲正) the base scores the post's appointment credited for years after the
        term's last day that no other post of the person covers."""
        session, e = writer.session, entries
        reversal = entries.alias("reversal")
        rows = (await session.execute(select(e).where(
            e.c.account_id == state.id, e.c.kind == points_pb2.ENTRY_KIND_BASE,
            e.c.source_id == post_id, e.c.year > last_day.year,
            ~select(reversal.c.id).where(reversal.c.reverses_entry_id == e.c.id).exists(),
        ).order_by(e.c.year))).all()
        repo = PointsRepository(session)
        for entry in rows:
            if await _covered_by_another_post(session, state.subject_id, post_id, entry.year):
                continue
            if state.closed_cycle_year is not None and entry.year <= state.closed_cycle_year:
                log.warning("base entry %s of account %s stays: its year %s is closed (年度已结算)",
                            entry.id, state.id, entry.year)
                continue
            lot = await repo.lot_made_by(entry.id)
            reserved = None if lot is None else await repo.reserved_from(state.id, lot)
            if reserved is not None:
                log.warning("base entry %s of account %s stays: redemption %s reserved from it",
                            entry.id, state.id, reserved)
                continue
            if await writer.expire_due([state]):
                await writer.flush()
            assert state.lots is not None
            expired = 0 if lot is None else await repo.expired_from(state.id, lot)
            plan = plan_take_back(list(state.lots.values()), entry.amount, expired, writer.today,
                                  lot=lot, score=-entry.score)
            writer.post(state, points_pb2.ENTRY_KIND_REVERSAL, plan, entry_date=entry.entry_date,
                        year=entry.year, scheme_id=entry.scheme_id, source_id=post_id,
                        reverses_entry_id=entry.id,
                        reason=f"{entry.year} base score (年度基础分) taken back: the term (任期) "
                               f"ended on {last_day.isoformat()}")
            log.info("base entry %s of account %s reversed: post %s ended on %s",
                     entry.id, state.id, post_id, last_day)
