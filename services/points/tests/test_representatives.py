"""Villagers' representatives' accounts (村民代表积分) kept from talent's appointments (任职)
and ends of terms (离任) however they arrive: back-filled terms, ends before their
appointments, appointments resent under a new event id, posts in two villages; and the
events written from talent's events naming the clerk the ledger names. Real broker, real
PostgreSQL; events are produced the way talent's relay does and applied by the service's
own consumer. The service's clock stands at 2025-06-18."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import points_pb2 as P
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.events import envelope
from shanzhi_kit.pytest_plugin import wait_until
from shanzhi_kit.testing import Broker
from shanzhi_points.consumers import REPRESENTATIVES_CONSUMER, TALENT_TOPIC
from shanzhi_points.tables import accounts, entries, messaging, representative_posts
from sqlalchemy import select

pytestmark = [pytest.mark.postgres, pytest.mark.broker]

CLERK = "talent-clerk-12"
REPRESENTATIVE = talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE


def appointed(village: str, person: str, start: str, *, post_id: str = "",
              name: str = "赵桂兰") -> talent_events.PersonAppointedEvent:
    return talent_events.PersonAppointedEvent(
        post_id=post_id or str(uuid.uuid4()), person_id=person, region_code=village,
        role=REPRESENTATIVE, start_date=start, person_name=name)


def ended(of: talent_events.PersonAppointedEvent, end: str) -> talent_events.PostEndedEvent:
    return talent_events.PostEndedEvent(
        post_id=of.post_id, person_id=of.person_id, region_code=of.region_code, role=of.role,
        start_date=of.start_date, end_date=end, reason=talent_pb2.POST_END_REASON_RESIGNED,
        person_name=of.person_name)


def wrapped(event: talent_events.PersonAppointedEvent | talent_events.PostEndedEvent
            | talent_events.PersonRegisteredEvent) -> event_pb2.EventEnvelope:
    """A new envelope (a new event id) each time, as talent's relay resends do."""
    return envelope(event, source="shanzhi.talent", subject=event.person_id,
                    region_code=event.region_code, actor=CLERK)


async def deliver(pk: Any, broker: Broker, *events: Any) -> None:
    """Publish each event in its own envelope, in order, and wait until all are applied."""
    envelopes = [wrapped(e) for e in events]
    await broker.publish(TALENT_TOPIC, *envelopes)
    ids = [e.id for e in envelopes]
    inbox = messaging.inbox

    async def recorded() -> bool:
        return await pk.count(inbox, inbox.c.consumer == REPRESENTATIVES_CONSUMER,
                              inbox.c.event_id.in_(ids), inbox.c.outcome == "applied") == len(ids)

    await wait_until(recorded, within=30)


def ref(person: str) -> P.SubjectRef:
    return P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=person)


async def ledger(pk: Any, account_id: str) -> list[tuple[int, int, int, int]]:
    """The account's entries as (kind, year, amount, score), in order."""
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(entries.c.kind, entries.c.year, entries.c.amount,
                                          entries.c.score).where(entries.c.account_id == account_id)
                                   .order_by(entries.c.seq))).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_back_filled_term_keeps_no_base_score_for_a_year_it_did_not_cover(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    person = str(uuid.uuid4())
    # Entered in talent today for a term of 2019–2021: the appointment, then its end.
    past = appointed(village, person, "2019-01-01")
    await deliver(pk, broker, past, ended(past, "2021-12-31"))
    account = await pk.account(ref(person))
    assert account.closed_on == "2021-12-31"
    # The appointment could not know the term had ended; its end takes the 2025 base back.
    assert await ledger(pk, account.id) == [
        (P.ENTRY_KIND_BASE, 2025, 100, 100), (P.ENTRY_KIND_REVERSAL, 2025, -100, -100)]
    assert account.balance == 0

    # The same back-filled term arriving end first opens nothing at all.
    other = str(uuid.uuid4())
    late = appointed(village, other, "2019-01-01")
    await deliver(pk, broker, ended(late, "2021-12-31"), late)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.account(ref(other))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert await pk.count(representative_posts, representative_posts.c.person_id == other) == 1


async def test_an_end_delivered_before_its_appointment_leaves_the_account_closed(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    person = str(uuid.uuid4())
    post = appointed(village, person, "2024-01-15")
    # The term ended this year: the year it covered keeps its base, as in order.
    await deliver(pk, broker, ended(post, "2025-06-10"), post)
    account = await pk.account(ref(person))
    assert account.closed_on == "2025-06-10"
    assert await ledger(pk, account.id) == [(P.ENTRY_KIND_BASE, 2025, 100, 100)]


async def test_an_appointment_resent_after_its_end_does_not_reopen_the_account(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    person = str(uuid.uuid4())
    post = appointed(village, person, "2024-01-15")
    await deliver(pk, broker, post, ended(post, "2025-06-10"))
    assert (await pk.account(ref(person))).closed_on == "2025-06-10"
    await deliver(pk, broker, post)  # the relay's retry, under a new event id
    account = await pk.account(ref(person))
    assert account.closed_on == "2025-06-10"
    assert await ledger(pk, account.id) == [(P.ENTRY_KIND_BASE, 2025, 100, 100)]

    # A new term (a new post) opens it again.
    await deliver(pk, broker, appointed(village, person, "2025-06-15"))
    assert (await pk.account(ref(person))).closed_on == ""


async def test_a_representative_of_two_villages_keeps_the_account_until_both_terms_end(
        pk: Any, broker: Broker) -> None:
    first, second = pk.village(), pk.village()
    person = str(uuid.uuid4())
    here = appointed(first, person, "2024-03-01")
    there = appointed(second, person, "2025-02-01")
    await deliver(pk, broker, here, there, ended(here, "2025-05-31"))
    account = await pk.account(ref(person))
    assert (account.closed_on, account.region_code) == ("", first)
    # One base score for the year, however many posts cover it.
    assert await ledger(pk, account.id) == [(P.ENTRY_KIND_BASE, 2025, 100, 100)]
    await deliver(pk, broker, ended(there, "2025-06-12"))
    assert (await pk.account(ref(person))).closed_on == "2025-06-12"
    # The account closed once, when the last term ended, and said so.
    async with pk.host.engine.connect() as conn:
        told = (await conn.execute(select(messaging.outbox.c.event_type).where(
            messaging.outbox.c.key == account.id).order_by(messaging.outbox.c.seq))).scalars().all()
    assert [t.rsplit(".", 1)[-1] for t in told] == ["AccountOpenedEvent", "EntryPostedEvent",
                                                     "AccountClosedEvent"]


async def test_events_written_from_talents_events_name_the_clerk_the_ledger_names(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    person = str(uuid.uuid4())
    await pk.scheme(village, kind=P.SUBJECT_KIND_PARTY_MEMBER, base_score=60, items=(
        pk.item("DY-01", 2, category=P.ITEM_CATEGORY_PARTY_DUTY, name="按时参加组织生活"),))
    member = talent_events.PersonRegisteredEvent(
        person_id=person, region_code=village, party_member=True, person_name="赵桂兰")
    await deliver(pk, broker, appointed(village, person, "2025-03-01"), member)
    async with pk.host.engine.connect() as conn:
        opened = (await conn.execute(select(accounts.c.id, accounts.c.created_by).where(
            accounts.c.subject_id == person))).all()
        by = (await conn.execute(select(entries.c.created_by).where(
            entries.c.account_id.in_([a.id for a in opened])))).scalars().all()
        payloads = (await conn.execute(select(messaging.outbox.c.event_type, messaging.outbox.c.payload)
                                       .where(messaging.outbox.c.key.in_([a.id for a in opened])))).all()
    assert len(opened) == 2 and {a.created_by for a in opened} == {CLERK}
    assert sorted(by) == [CLERK, CLERK]
    kinds = sorted(p.event_type.rsplit(".", 1)[-1] for p in payloads)
    assert kinds == ["AccountOpenedEvent", "AccountOpenedEvent", "EntryPostedEvent", "EntryPostedEvent"]
    assert {event_pb2.EventEnvelope.FromString(p.payload).actor for p in payloads} == {CLERK}
