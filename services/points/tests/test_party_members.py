"""Party members' accounts (党员积分) opened from talent registrations and record changes
(人员信息维护), and names kept up from those changes: real broker, real PostgreSQL. Events
are produced the way talent's relay does (an EventEnvelope on "shanzhi.talent.v1", keyed by
the person's id) and applied by the service's own consumer."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import events_pb2
from shanzhi.points.v1 import points_pb2 as P
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.events import envelope
from shanzhi_kit.pytest_plugin import wait_until
from shanzhi_kit.testing import Broker
from shanzhi_points.clock import china_date
from shanzhi_points.consumers import REPRESENTATIVES_CONSUMER, TALENT_TOPIC
from shanzhi_points.tables import accounts, entries, messaging
from sqlalchemy import func, select, text

pytestmark = [pytest.mark.postgres, pytest.mark.broker]


def registered(village: str, *, party_member: bool, name: str = "孙红梅",
               person_id: str = "") -> talent_events.PersonRegisteredEvent:
    return talent_events.PersonRegisteredEvent(
        person_id=person_id or str(uuid.uuid4()), region_code=village, party_member=party_member,
        person_name=name)


def updated(village: str, person_id: str, *changed: str, party_member: bool,
            name: str = "孙红梅") -> talent_events.PersonUpdatedEvent:
    return talent_events.PersonUpdatedEvent(
        person_id=person_id, region_code=village, changed_fields=changed, party_member=party_member,
        person_name=name)


def wrapped(event: talent_events.PersonRegisteredEvent | talent_events.PersonUpdatedEvent
            ) -> event_pb2.EventEnvelope:
    return envelope(event, source="shanzhi.talent", subject=event.person_id,
                    region_code=event.region_code, actor="tester")


async def publish(broker: Broker, *envelopes: event_pb2.EventEnvelope) -> None:
    await broker.publish(TALENT_TOPIC, *envelopes)


async def applied(pk: Any, *envelopes: event_pb2.EventEnvelope) -> None:
    """Wait until the consumer has recorded every one of ``envelopes`` in its inbox."""
    ids = [e.id for e in envelopes]
    inbox = messaging.inbox

    async def recorded() -> bool:
        return await pk.count(inbox, inbox.c.consumer == REPRESENTATIVES_CONSUMER,
                              inbox.c.event_id.in_(ids)) == len(ids)

    await wait_until(recorded, within=30)


async def test_a_party_member_gets_one_account_and_a_non_member_none(pk: Any, broker: Broker) -> None:
    village = pk.village()
    member = registered(village, party_member=True)
    non_member = registered(village, party_member=False, name="钱志军")
    first, replay, other = wrapped(member), wrapped(member), wrapped(non_member)
    # The same event twice, the same registration under a new event id, and a non-member.
    await publish(broker, first, first, replay, other)
    await applied(pk, first, replay, other)

    subject = P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=member.person_id)
    # Opened by whoever registered the party member in talent (the event's actor).
    account = await pk.account(subject)
    assert (account.region_code, account.display_name, account.balance, account.created_by) == (
        village, "孙红梅", 0, "tester")
    assert await pk.count(accounts, accounts.c.subject_id == member.person_id) == 1
    assert await pk.count(messaging.outbox, messaging.outbox.c.key == account.id,
                          messaging.outbox.c.event_type == "shanzhi.points.v1.AccountOpenedEvent") == 1
    inbox = messaging.inbox
    async with pk.host.engine.connect() as conn:
        outcomes = (await conn.execute(select(inbox.c.event_id, inbox.c.outcome).where(
            inbox.c.event_id.in_([first.id, replay.id, other.id])))).all()
    assert sorted(o for _, o in outcomes) == ["applied"] * 3

    assert await pk.count(accounts, accounts.c.subject_id == non_member.person_id) == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=non_member.person_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_party_members_account_opens_at_the_base_score_of_the_village_scheme(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    await pk.scheme(village, kind=P.SUBJECT_KIND_PARTY_MEMBER, base_score=60, items=(
        pk.item("DY-01", 2, category=P.ITEM_CATEGORY_PARTY_DUTY, name="按时参加组织生活"),))
    member = registered(village, party_member=True, name="吴国庆")
    first, replay = wrapped(member), wrapped(member)
    await publish(broker, first, replay)
    await applied(pk, first, replay)
    account = await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=member.person_id))
    assert account.balance == 60
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(entries.c.kind, entries.c.year, entries.c.amount).where(
            entries.c.account_id == account.id))).all()
    assert [tuple(r) for r in rows] == [(P.ENTRY_KIND_BASE, 2025, 60)]


async def test_a_person_who_joins_the_party_by_a_change_gets_one_account(pk: Any, broker: Broker) -> None:
    village = pk.village()
    joined = registered(village, party_member=False, name="郑海")
    change = updated(village, joined.person_id, "party_member", "party_join_date", party_member=True,
                     name="郑海")
    first, replay = wrapped(change), wrapped(change)
    # Registered as a non-member; the change delivered twice and replayed under a new event id.
    await publish(broker, wrapped(joined), first, first, replay)
    await applied(pk, first, replay)
    account = await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=joined.person_id))
    assert (account.region_code, account.display_name, account.created_by) == (village, "郑海", "tester")
    assert await pk.count(accounts, accounts.c.subject_id == joined.person_id) == 1
    assert await pk.count(messaging.outbox, messaging.outbox.c.key == account.id,
                          messaging.outbox.c.event_type == "shanzhi.points.v1.AccountOpenedEvent") == 1


async def test_other_changes_open_nothing_and_a_new_name_reaches_the_persons_accounts(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    member = registered(village, party_member=True, name="冯军")
    other = registered(village, party_member=True)
    non_member = registered(village, party_member=False, name="陈静")
    registrations = [wrapped(member), wrapped(other), wrapped(non_member)]
    await publish(broker, *registrations)
    await applied(pk, *registrations)
    await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=member.person_id),
        region_code=village, display_name="冯军"), metadata=pk.ADMIN)
    changes = [
        wrapped(updated(village, non_member.person_id, "phone", party_member=False, name="陈静")),
        wrapped(updated(village, non_member.person_id, "name", party_member=False, name="陈晶")),
        wrapped(updated(village, member.person_id, "education", party_member=True, name="冯军")),
        wrapped(updated(village, member.person_id, "name", "phone", party_member=True, name="冯俊")),
    ]
    await publish(broker, *changes)
    await applied(pk, *changes)
    # Both of the member's accounts show the new name; still one party-member account.
    for kind in (P.SUBJECT_KIND_PARTY_MEMBER, P.SUBJECT_KIND_REPRESENTATIVE):
        assert (await pk.account(P.SubjectRef(kind=kind, id=member.person_id))).display_name == "冯俊"
    assert await pk.count(accounts, accounts.c.subject_id == member.person_id) == 2
    # The non-member still has no account; another member keeps their name.
    assert await pk.count(accounts, accounts.c.subject_id == non_member.person_id) == 0
    assert (await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER,
                                          id=other.person_id))).display_name == "孙红梅"


async def test_a_rename_older_than_the_accounts_name_is_not_applied(pk: Any, broker: Broker) -> None:
    village = pk.village()
    member = registered(village, party_member=True, name="卫东")
    joined = wrapped(member)
    await publish(broker, joined)
    await applied(pk, joined)
    await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=member.person_id),
        region_code=village, display_name="卫东"), metadata=pk.ADMIN)
    # Two renames, made in this order, delivered the other way round; then the older one
    # again under another event id.
    older = wrapped(updated(village, member.person_id, "name", party_member=True, name="卫冬"))
    newer = wrapped(updated(village, member.person_id, "name", party_member=True, name="卫栋"))
    assert newer.time.ToNanoseconds() > older.time.ToNanoseconds()
    replay = event_pb2.EventEnvelope()
    replay.CopyFrom(older)
    replay.id = str(uuid.uuid4())
    await publish(broker, newer, older, replay)
    await applied(pk, newer, older, replay)
    # The account opened from the registration and the one a clerk opened both keep the
    # newest name.
    for kind in (P.SUBJECT_KIND_PARTY_MEMBER, P.SUBJECT_KIND_REPRESENTATIVE):
        assert (await pk.account(P.SubjectRef(kind=kind, id=member.person_id))).display_name == "卫栋"


async def test_leaving_the_party_closes_the_account_and_rejoining_opens_it_again(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    member = registered(village, party_member=True, name="褚红")
    subject = P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=member.person_id)
    joined = wrapped(member)
    await publish(broker, joined)
    await applied(pk, joined)
    assert (await pk.account(subject)).closed_on == ""

    left = wrapped(updated(village, member.person_id, "party_member", "party_join_date",
                           party_member=False, name="褚红"))
    renamed = wrapped(updated(village, member.person_id, "name", party_member=False, name="褚虹"))
    # A replay of the registration under a new event id does not undo the leaving.
    replay = wrapped(member)
    await publish(broker, left, left, renamed, replay)
    await applied(pk, left, renamed, replay)
    closed = await pk.account(subject)
    left_day = china_date(left.time.ToDatetime(UTC)).isoformat()
    assert (closed.closed_on, closed.display_name) == (left_day, "褚虹")

    rejoined = wrapped(updated(village, member.person_id, "party_member", "party_join_date",
                               party_member=True, name="褚虹"))
    await publish(broker, rejoined, rejoined)
    await applied(pk, rejoined)
    again = await pk.account(subject)
    assert (again.id, again.closed_on) == (closed.id, "")
    assert await pk.count(accounts, accounts.c.subject_id == member.person_id) == 1
    # Each change of the account's state is told once, keyed by the account, though the
    # leaving and the rejoining were each delivered twice.
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(messaging.outbox.c.event_type, messaging.outbox.c.payload)
                                   .where(messaging.outbox.c.key == closed.id)
                                   .order_by(messaging.outbox.c.seq))).all()
    told = [r.event_type.rsplit(".", 1)[-1] for r in rows]
    assert told == ["AccountOpenedEvent", "AccountClosedEvent", "AccountReopenedEvent"]
    closing = events_pb2.AccountClosedEvent()
    assert event_pb2.EventEnvelope.FromString(rows[1].payload).data.Unpack(closing)
    assert (closing.subject_kind, closing.subject_id, closing.closed_on) == (
        P.SUBJECT_KIND_PARTY_MEMBER, member.person_id, left_day)



async def test_a_rename_takes_the_persons_accounts_in_id_order_so_it_never_deadlocks(
    pk: Any, broker: Broker,
) -> None:
    # A party member (account made first) later appointed a representative (account made
    # second). Another transaction holds the older account and then wants the newer one,
    # in id order as every path that locks several accounts does; the rename arriving in
    # between must wait for the older one holding nothing, not hold the newer one.
    village = pk.village()
    member = registered(village, party_member=True, name="赵新民")
    appointed = talent_events.PersonAppointedEvent(
        post_id=str(uuid.uuid4()), person_id=member.person_id, region_code=village,
        role=talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start_date="2024-01-15", person_name="赵新民")
    first = wrapped(member)
    second = envelope(appointed, source="shanzhi.talent", subject=member.person_id,
                      region_code=village, actor="tester")
    await publish(broker, first)
    await applied(pk, first)
    await publish(broker, second)
    await applied(pk, second)
    party = await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=member.person_id))
    representative = await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE,
                                                   id=member.person_id))
    assert party.id < representative.id
    # The older account written since (as any award would write it): its row version now
    # lies after the newer account's in the table, so a scan meets the newer one first.
    async with pk.host.engine.begin() as conn:
        await conn.execute(accounts.update().where(accounts.c.id == party.id)
                           .values(display_name=accounts.c.display_name))

    waiting = select(func.count()).select_from(text("pg_stat_activity")).where(
        text("wait_event_type = 'Lock' AND datname = current_database()"))
    rename = wrapped(updated(village, member.person_id, "name", party_member=True, name="赵新明"))
    async with pk.host.engine.begin() as holder:
        # Find a deadlock at once on this side, so that a cycle would fail this test
        # rather than abort the consumer's side and be retried.
        await holder.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
        await holder.execute(select(accounts.c.id).where(accounts.c.id == party.id).with_for_update())
        await publish(broker, rename)

        async def consumer_waits() -> bool:
            # A transaction of its own each time: pg_stat_activity holds still within one.
            async with pk.host.engine.connect() as watcher:
                return (await watcher.execute(waiting)).scalar_one() >= 1
        await wait_until(consumer_waits, within=30)
        await holder.execute(
            select(accounts.c.id).where(accounts.c.id == representative.id).with_for_update())
    await applied(pk, rename)
    assert {(await pk.account(P.SubjectRef(kind=kind, id=member.person_id))).display_name
            for kind in (P.SUBJECT_KIND_PARTY_MEMBER, P.SUBJECT_KIND_REPRESENTATIVE)} == {"赵新明"}
