"""Talent appointments feed the audit schedule (审计计划): real broker, real PostgreSQL.

Events are produced the way the talent service's relay does (an EventEnvelope on
the topic "shanzhi.talent.v1", keyed by the person's id) and consumed by the
audit service's own consumer, run by its ServiceHost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import grpc
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc, events_pb2
from shanzhi.common.v1 import event_pb2
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_audit import SERVICE, TOPIC
from shanzhi_audit.consumers import SCHEDULE_CONSUMER, TALENT_TOPIC, TalentEventHandlers
from shanzhi_audit.tables import audit_schedule, messaging
from shanzhi_kit.consumer import EventConsumer
from shanzhi_kit.db import make_sessionmaker
from shanzhi_kit.events import Outbox, envelope, unpack
from shanzhi_kit.pytest_plugin import auth_metadata, wait_until
from shanzhi_kit.relay import headers_for
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.testing import Broker
from sqlalchemy import select

pytestmark = [pytest.mark.postgres, pytest.mark.broker]

ADMIN = auth_metadata("130123")
VILLAGE = "130123105201"
WITHIN = 20.0


@pytest.fixture(scope="module")
def producer(broker: Broker) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=[broker.bootstrap], client_id="talent-test")
    yield p
    p.close(5)


def appointed(role: int = talent_pb2.POST_ROLE_PARTY_SECRETARY, *, person_id: str | None = None,
              post_id: str | None = None, start_date: str = "2026-01-05",
              region_code: str = VILLAGE) -> event_pb2.EventEnvelope:
    """A PersonAppointedEvent envelope as the talent service publishes it."""
    person_id = person_id or str(uuid.uuid4())
    data = talent_events.PersonAppointedEvent(
        post_id=post_id or str(uuid.uuid4()), person_id=person_id, region_code=region_code,
        role=role, start_date=start_date, person_name="王书记")  # type: ignore[arg-type]
    return envelope(data, source="shanzhi.talent", subject=person_id, region_code=region_code,
                    actor="tester")


async def send(producer: KafkaProducer, env: event_pb2.EventEnvelope, topic: str = TALENT_TOPIC) -> None:
    def blocking() -> None:
        producer.send(topic, value=env.SerializeToString(), key=env.subject.encode(),
                      headers=headers_for(env)).get(timeout=10)

    await asyncio.to_thread(blocking)


def data_of(env: event_pb2.EventEnvelope) -> talent_events.PersonAppointedEvent:
    event = unpack(env, talent_events.PersonAppointedEvent)
    assert isinstance(event, talent_events.PersonAppointedEvent)
    return event


async def entries(host: ServiceHost, **where: str) -> list[Any]:
    s = audit_schedule
    query = select(s).where(*(s.c[k] == v for k, v in where.items()))
    async with host.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def inbox(host: ServiceHost, event_id: str) -> list[Any]:
    i = messaging.inbox
    async with host.engine.connect() as conn:
        return list((await conn.execute(select(i).where(i.c.event_id == event_id))).all())


async def scheduled_events(host: ServiceHost, entry_id: str) -> list[event_pb2.EventEnvelope]:
    o = messaging.outbox
    async with host.engine.connect() as conn:
        payloads = (await conn.execute(select(o.c.payload).where(o.c.key == entry_id))).scalars().all()
    return [event_pb2.EventEnvelope.FromString(p) for p in payloads]


async def wait_for_entries(host: ServiceHost, n: int, **where: str) -> list[Any]:
    async def enough() -> bool:
        return len(await entries(host, **where)) >= n

    await wait_until(enough, within=WITHIN)
    return await entries(host, **where)


async def wait_for_inbox(host: ServiceHost, event_id: str) -> Any:
    async def recorded() -> bool:
        return bool(await inbox(host, event_id))

    await wait_until(recorded, within=WITHIN)
    rows = await inbox(host, event_id)
    assert len(rows) == 1
    return rows[0]


def spy(consumer: EventConsumer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the envelopes ``consumer`` handles from now on, duplicates included."""
    seen: list[str] = []
    original = consumer.apply

    async def apply(record: Any) -> event_pb2.EventEnvelope | None:
        env = await original(record)
        if env is not None:
            seen.append(env.id)
        return env

    monkeypatch.setattr(consumer, "apply", apply)
    return seen


def seen_at_least(seen: list[str], event_id: str, n: int) -> Callable[[], Any]:
    async def check() -> bool:
        return seen.count(event_id) >= n

    return check


async def test_a_cadre_appointment_schedules_an_in_office_audit(
    audit_host: ServiceHost, audit: audit_pb2_grpc.AuditServiceStub, producer: KafkaProducer,
    broker: Broker,
) -> None:
    env = appointed(start_date="2024-02-29")
    event = data_of(env)
    await send(producer, env)
    [row] = await wait_for_entries(audit_host, 1, cadre_person_id=event.person_id)
    assert (row.post_id, row.region_code, row.post_role, row.cadre_name) == (
        event.post_id, VILLAGE, "POST_ROLE_PARTY_SECRETARY", "王书记")
    assert (row.kind, row.status, row.due_date) == (
        audit_pb2.AUDIT_KIND_IN_OFFICE, audit_pb2.AUDIT_SCHEDULE_STATUS_DUE, date(2027, 2, 28))
    assert (row.source_event_id, row.created_by) == (env.id, "system:talent-event")
    assert (await wait_for_inbox(audit_host, env.id)).outcome == "applied"

    # The schedule is readable over gRPC, one cadre or many at once.
    got = (await audit.GetAuditScheduleEntry(audit_pb2.GetAuditScheduleEntryRequest(id=row.id),
                                             metadata=ADMIN)).entry
    assert (got.cadre_person_id, got.due_date, got.post_role) == (
        event.person_id, "2027-02-28", "POST_ROLE_PARTY_SECRETARY")
    schedules = await audit.BatchGetCadreAuditSchedules(
        audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=[event.person_id]),
        metadata=ADMIN)
    assert [e.id for e in schedules.schedules[0].entries] == [row.id]

    # AuditScheduledEvent went to the outbox in the same transaction; there is no
    # caller behind a consumed event, so the envelope names the system as actor.
    [out] = await scheduled_events(audit_host, row.id)
    assert (out.type, out.source, out.actor, out.region_code) == (
        "shanzhi.audit.v1.AuditScheduledEvent", SERVICE, "system", VILLAGE)
    scheduled = unpack(out, events_pb2.AuditScheduledEvent)
    assert scheduled == events_pb2.AuditScheduledEvent(
        entry_id=row.id, cadre_person_id=event.person_id, region_code=VILLAGE,
        kind=audit_pb2.AUDIT_KIND_IN_OFFICE, due_date="2027-02-28")

    # ... and the relay publishes it on the audit topic.
    found = await asyncio.to_thread(read_topic, broker, TOPIC, out.id)
    assert found == out


def read_topic(broker: Broker, topic: str, event_id: str, within: float = WITHIN) -> Any:
    """The envelope with ``event_id`` read from ``topic`` (no consumer group: no join wait)."""
    consumer = KafkaConsumer(bootstrap_servers=[broker.bootstrap], enable_auto_commit=False)
    try:
        deadline = time.monotonic() + within
        partitions: set[int] | None = None
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                time.sleep(0.1)
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    env = event_pb2.EventEnvelope.FromString(record.value)
                    if env.id == event_id:
                        return env
        raise AssertionError(f"event {event_id} not on {topic} within {within}s")
    finally:
        consumer.close()


async def test_redelivery_of_the_same_event_changes_nothing(
    audit_host: ServiceHost, producer: KafkaProducer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = appointed(talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR)
    person_id = data_of(env).person_id
    await send(producer, env)
    [row] = await wait_for_entries(audit_host, 1, cadre_person_id=person_id)
    seen = spy(audit_host.consumers[0], monkeypatch)
    await send(producer, env)
    await wait_until(seen_at_least(seen, env.id, 1), within=WITHIN)
    assert len(await entries(audit_host, cadre_person_id=person_id)) == 1
    assert len(await inbox(audit_host, env.id)) == 1
    assert len(await scheduled_events(audit_host, row.id)) == 1


async def test_a_new_event_for_an_already_scheduled_post_is_not_scheduled_twice(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    first = appointed(talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER)
    event = data_of(first)
    await send(producer, first)
    [row] = await wait_for_entries(audit_host, 1, post_id=event.post_id)
    # The same appointment announced again under a new event id (e.g. a replayed outbox).
    again = envelope(event, source="shanzhi.talent", subject=event.person_id,
                     region_code=event.region_code, actor="tester")
    assert again.id != first.id
    await send(producer, again)
    assert (await wait_for_inbox(audit_host, again.id)).outcome == "applied"
    assert [r.id for r in await entries(audit_host, post_id=event.post_id)] == [row.id]
    assert len(await scheduled_events(audit_host, row.id)) == 1
    # The consumer was not stuck on it: a later event is applied.
    later = appointed(person_id=event.person_id)
    await send(producer, later)
    await wait_for_entries(audit_host, 2, cadre_person_id=event.person_id)


@pytest.mark.parametrize(
    "role",
    [talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER, talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER],
)
async def test_a_member_of_a_named_committee_gets_an_in_office_audit(
    audit_host: ServiceHost, producer: KafkaProducer, role: talent_pb2.PostRole.ValueType,
) -> None:
    env = appointed(role, start_date="2026-01-05")
    event = data_of(env)
    await send(producer, env)
    [row] = await wait_for_entries(audit_host, 1, post_id=event.post_id)
    assert (row.post_role, row.kind, row.due_date) == (
        talent_pb2.PostRole.Name(role), audit_pb2.AUDIT_KIND_IN_OFFICE, date(2029, 1, 5))


async def test_a_non_cadre_post_schedules_nothing(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    env = appointed(talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE)
    await send(producer, env)
    assert (await wait_for_inbox(audit_host, env.id)).outcome == "applied"
    assert await entries(audit_host, cadre_person_id=data_of(env).person_id) == []


async def test_an_unschedulable_cadre_event_is_rejected_without_blocking_the_stream(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    person_id = str(uuid.uuid4())
    bad = appointed(person_id=person_id, start_date="2026-13-01")
    good = appointed(person_id=person_id)
    await send(producer, bad)
    await send(producer, good)
    await wait_for_entries(audit_host, 1, cadre_person_id=person_id)
    row = await wait_for_inbox(audit_host, bad.id)
    assert row.outcome == "rejected" and "start_date" in row.detail
    assert [r.source_event_id for r in await entries(audit_host, cadre_person_id=person_id)] == [good.id]


async def test_a_consumer_killed_after_its_commit_does_not_apply_twice(
    audit_host: ServiceHost, producer: KafkaProducer, broker: Broker,
) -> None:
    """The process dies after the database commit and before the offset commit.

    Its own topic keeps the service's consumer away from the event, so the
    consumer that dies is the one that applied it.
    """
    topic = f"{TALENT_TOPIC}.killed-{uuid.uuid4().hex[:8]}"
    group = f"killed-{uuid.uuid4().hex[:8]}"
    env = appointed(talent_pb2.POST_ROLE_PARTY_SECRETARY)
    person_id = data_of(env).person_id
    await send(producer, env, topic=topic)
    handlers = TalentEventHandlers(Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)).handlers()
    sessionmaker = make_sessionmaker(audit_host.engine)
    loop = asyncio.get_running_loop()

    def consumer(**kw: Any) -> EventConsumer:
        return EventConsumer(name=SCHEDULE_CONSUMER, topics=[topic], handlers=handlers,
                             sessionmaker=sessionmaker, inbox=messaging.inbox,
                             bootstrap_servers=broker.bootstrap, group_id=group, loop=loop, **kw)

    dying = consumer(crash_after_apply=lambda e: e.id == env.id)
    dying.start()
    try:
        async def dead() -> bool:
            return not dying.alive

        await wait_until(dead, within=WITHIN)
    finally:
        await asyncio.to_thread(dying.stop)
    assert dying.applied == 1
    [row] = await entries(audit_host, cadre_person_id=person_id)
    assert len(await inbox(audit_host, env.id)) == 1

    fresh = consumer()
    with pytest.MonkeyPatch.context() as mp:
        seen = spy(fresh, mp)
        fresh.start()
        try:
            await wait_until(seen_at_least(seen, env.id, 1), within=WITHIN)
        finally:
            await asyncio.to_thread(fresh.stop)
    assert (fresh.applied, fresh.duplicates) == (0, 1)
    assert [r.id for r in await entries(audit_host, cadre_person_id=person_id)] == [row.id]
    assert len(await inbox(audit_host, env.id)) == 1
    assert len(await scheduled_events(audit_host, row.id)) == 1


async def test_schedule_entries_of_a_cadre_are_listed_by_due_date(
    audit_host: ServiceHost, audit: audit_pb2_grpc.AuditServiceStub, producer: KafkaProducer,
) -> None:
    person_id = str(uuid.uuid4())
    for start in ("2026-06-01", "2025-06-01"):
        await send(producer, appointed(person_id=person_id, start_date=start,
                                       role=talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER))
    await wait_for_entries(audit_host, 2, cadre_person_id=person_id)
    listed = await audit.ListAuditScheduleEntries(
        audit_pb2.ListAuditScheduleEntriesRequest(cadre_person_id=person_id), metadata=ADMIN)
    assert [e.due_date for e in listed.entries] == ["2028-06-01", "2029-06-01"]
    clerk = auth_metadata("130123105202", roles=("village_clerk",), subject="clerk")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.GetAuditScheduleEntry(
            audit_pb2.GetAuditScheduleEntryRequest(id=listed.entries[0].id), metadata=clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


# -- leaving-office audits (离任审计) ---------------------------------------------------


def post_ended(role: int = talent_pb2.POST_ROLE_PARTY_SECRETARY, *, person_id: str | None = None,
               post_id: str | None = None, start_date: str = "2021-01-05",
               end_date: str = "2026-12-31", person_name: str = "王书记",
               reason: int = talent_pb2.POST_END_REASON_TERM_EXPIRED,
               region_code: str = VILLAGE) -> event_pb2.EventEnvelope:
    """A PostEndedEvent envelope as the talent service publishes it."""
    person_id = person_id or str(uuid.uuid4())
    data = talent_events.PostEndedEvent(
        post_id=post_id or str(uuid.uuid4()), person_id=person_id, region_code=region_code,
        role=role, start_date=start_date, end_date=end_date, reason=reason,  # type: ignore[arg-type]
        person_name=person_name)
    return envelope(data, source="shanzhi.talent", subject=person_id, region_code=region_code,
                    actor="tester")


def ended_data(env: event_pb2.EventEnvelope) -> talent_events.PostEndedEvent:
    event = unpack(env, talent_events.PostEndedEvent)
    assert isinstance(event, talent_events.PostEndedEvent)
    return event


async def test_the_end_of_a_cadre_term_schedules_a_departure_audit(
    audit_host: ServiceHost, audit: audit_pb2_grpc.AuditServiceStub, producer: KafkaProducer,
    broker: Broker,
) -> None:
    start = appointed(start_date="2024-02-29")
    person_id, post_id = data_of(start).person_id, data_of(start).post_id
    await send(producer, start)
    [in_office] = await wait_for_entries(audit_host, 1, post_id=post_id)

    end = post_ended(person_id=person_id, post_id=post_id, start_date="2024-02-29",
                     end_date="2026-12-31", reason=talent_pb2.POST_END_REASON_RESIGNED)
    await send(producer, end)
    rows = await wait_for_entries(audit_host, 2, post_id=post_id)
    [departure] = [r for r in rows if r.kind == audit_pb2.AUDIT_KIND_DEPARTURE]
    assert (departure.cadre_person_id, departure.region_code, departure.post_role,
            departure.cadre_name) == (person_id, VILLAGE, "POST_ROLE_PARTY_SECRETARY", "王书记")
    assert (departure.status, departure.due_date) == (
        audit_pb2.AUDIT_SCHEDULE_STATUS_DUE, date(2027, 3, 31))
    assert (departure.source_event_id, departure.created_by) == (end.id, "system:talent-event")
    assert (await wait_for_inbox(audit_host, end.id)).outcome == "applied"

    # The in-office entry, still due and not yet past, stays as it was.
    [kept] = [r for r in rows if r.kind == audit_pb2.AUDIT_KIND_IN_OFFICE]
    assert kept == in_office

    # Both are on the cadre's schedule, by due date.
    schedules = await audit.BatchGetCadreAuditSchedules(
        audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=[person_id]), metadata=ADMIN)
    assert [(e.kind, e.due_date) for e in schedules.schedules[0].entries] == [
        (audit_pb2.AUDIT_KIND_IN_OFFICE, "2027-02-28"),
        (audit_pb2.AUDIT_KIND_DEPARTURE, "2027-03-31"),
    ]

    # AuditScheduledEvent goes through the outbox and out on the audit topic.
    [out] = await scheduled_events(audit_host, departure.id)
    assert unpack(out, events_pb2.AuditScheduledEvent) == events_pb2.AuditScheduledEvent(
        entry_id=departure.id, cadre_person_id=person_id, region_code=VILLAGE,
        kind=audit_pb2.AUDIT_KIND_DEPARTURE, due_date="2027-03-31")
    assert (out.source, out.actor, out.region_code) == (SERVICE, "system", VILLAGE)
    found = await asyncio.to_thread(read_topic, broker, TOPIC, out.id)
    assert found == out


async def test_each_ended_cadre_post_gets_one_departure_audit(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    """A cadre holding two posts (e.g. 一肩挑: secretary and director) leaves both."""
    person_id = str(uuid.uuid4())
    ends = [
        post_ended(talent_pb2.POST_ROLE_PARTY_SECRETARY, person_id=person_id, end_date="2026-12-31"),
        post_ended(talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER, person_id=person_id,
                   end_date="2026-06-30", reason=talent_pb2.POST_END_REASON_TRANSFERRED),
        post_ended(talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER, person_id=person_id,
                   end_date="2026-01-31", reason=talent_pb2.POST_END_REASON_REMOVED),
    ]
    for env in ends:
        await send(producer, env)
    rows = await wait_for_entries(audit_host, 3, cadre_person_id=person_id)
    assert sorted((r.post_id, r.kind, r.due_date) for r in rows) == sorted(
        (ended_data(env).post_id, audit_pb2.AUDIT_KIND_DEPARTURE, due)
        for env, due in zip(ends, [date(2027, 3, 31), date(2026, 9, 28), date(2026, 5, 1)],
                            strict=True))
    for row in rows:
        assert len(await scheduled_events(audit_host, row.id)) == 1


async def test_redelivery_of_an_end_of_term_changes_nothing(
    audit_host: ServiceHost, producer: KafkaProducer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = post_ended(talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR)
    event = ended_data(env)
    await send(producer, env)
    [row] = await wait_for_entries(audit_host, 1, post_id=event.post_id)
    seen = spy(audit_host.consumers[0], monkeypatch)
    await send(producer, env)
    await wait_until(seen_at_least(seen, env.id, 1), within=WITHIN)
    # The same end of term announced again under a new event id is applied and adds nothing.
    again = envelope(event, source="shanzhi.talent", subject=event.person_id,
                     region_code=event.region_code, actor="tester")
    await send(producer, again)
    assert (await wait_for_inbox(audit_host, again.id)).outcome == "applied"
    assert await entries(audit_host, post_id=event.post_id) == [row]
    assert len(await inbox(audit_host, env.id)) == 1
    assert len(await scheduled_events(audit_host, row.id)) == 1


async def test_the_end_of_a_non_cadre_post_schedules_nothing(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    person_id = str(uuid.uuid4())
    for role in (talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, talent_pb2.POST_ROLE_GRID_WORKER,
                 talent_pb2.POST_ROLE_FIRST_SECRETARY):
        env = post_ended(role, person_id=person_id)
        await send(producer, env)
        assert (await wait_for_inbox(audit_host, env.id)).outcome == "applied"
    assert await entries(audit_host, cadre_person_id=person_id) == []


async def test_a_post_never_seen_is_scheduled_from_the_event_alone(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    """Appointed before the audit service existed: the end of term is enough."""
    unnamed = post_ended(talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER, person_name="",
                         start_date="2018-01-05", end_date="2021-01-04")
    event = ended_data(unnamed)
    await send(producer, unnamed)
    [row] = await wait_for_entries(audit_host, 1, post_id=event.post_id)
    assert (row.cadre_person_id, row.region_code, row.post_role, row.kind, row.due_date,
            row.cadre_name) == (
        event.person_id, VILLAGE, "POST_ROLE_TWO_COMMITTEE_MEMBER", audit_pb2.AUDIT_KIND_DEPARTURE,
        date(2021, 4, 4), "")


async def test_an_unnamed_end_of_term_takes_the_name_of_the_in_office_entry(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    start = appointed(talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR)
    event = data_of(start)
    await send(producer, start)
    await wait_for_entries(audit_host, 1, post_id=event.post_id)
    await send(producer, post_ended(talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR, person_id=event.person_id,
                                    post_id=event.post_id, person_name=""))
    rows = await wait_for_entries(audit_host, 2, post_id=event.post_id)
    [departure] = [r for r in rows if r.kind == audit_pb2.AUDIT_KIND_DEPARTURE]
    assert departure.cadre_name == "王书记"


async def test_an_unschedulable_end_of_term_is_rejected_without_blocking_the_stream(
    audit_host: ServiceHost, producer: KafkaProducer,
) -> None:
    person_id = str(uuid.uuid4())
    bad = post_ended(person_id=person_id, start_date="2026-06-01", end_date="2026-05-31")
    good = post_ended(person_id=person_id)
    await send(producer, bad)
    await send(producer, good)
    await wait_for_entries(audit_host, 1, cadre_person_id=person_id)
    row = await wait_for_inbox(audit_host, bad.id)
    assert row.outcome == "rejected" and "end_date" in row.detail
    assert [r.source_event_id for r in await entries(audit_host, cadre_person_id=person_id)] == [
        good.id]
