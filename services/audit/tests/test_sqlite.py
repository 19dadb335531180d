"""The same code on the embedded SQLite default: gRPC API and the talent-event handler."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest_asyncio
from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_audit import SERVICE, TOPIC
from shanzhi_audit.app import MIGRATIONS, build
from shanzhi_audit.consumers import SCHEDULE_CONSUMER, TALENT_TOPIC, TalentEventHandlers
from shanzhi_audit.tables import audit_schedule, messaging
from shanzhi_kit.consumer import EventConsumer
from shanzhi_kit.db import make_sessionmaker
from shanzhi_kit.events import Outbox, envelope
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.pytest_plugin import auth_metadata
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings
from sqlalchemy import func, select

ADMIN = auth_metadata("130123")


@pytest_asyncio.fixture
async def sqlite_host(tmp_path: Path) -> AsyncIterator[ServiceHost]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    await upgrade_async(MIGRATIONS, url)
    host = build(ServiceSettings(database_url=url, grpc_port=0, run_relay=False,
                                 run_consumers=False, shutdown_grace_seconds=1))
    await host.start()
    await host.ready.wait()
    yield host
    await host.stop()


async def test_rounds_and_schedule_pages_on_sqlite(sqlite_host: ServiceHost) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{sqlite_host.port}") as channel:
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        made = (await audit.CreateInspectionRound(audit_pb2.CreateInspectionRoundRequest(
            request_id="r1", region_code="130123000000", name="第一轮",
            kind=audit_pb2.INSPECTION_KIND_ACUPUNCTURE,
            target_region_codes=["130123101201", "130123101202"],
            start_date="2026-03-01", end_date="2026-03-31"), metadata=ADMIN)).round
        got = await audit.GetInspectionRound(audit_pb2.GetInspectionRoundRequest(id=made.id),
                                             metadata=ADMIN)
        assert got.round == made

        rows = [dict(id=str(uuid.uuid4()), cadre_person_id=str(uuid.uuid4()), cadre_name="",
                     region_code="130123101201", post_id=str(uuid.uuid4()),
                     post_role="POST_ROLE_PARTY_SECRETARY", kind=audit_pb2.AUDIT_KIND_IN_OFFICE,
                     due_date=date(2029, 1, 1 + i // 2), status=audit_pb2.AUDIT_SCHEDULE_STATUS_DUE,
                     source_event_id=str(uuid.uuid4()), created_at=datetime.now(UTC),
                     created_by="system:talent-event") for i in range(5)]
        async with sqlite_host.engine.begin() as conn:
            await conn.execute(audit_schedule.insert(), rows)
        seen, token = [], ""
        while True:
            reply = await audit.ListAuditScheduleEntries(audit_pb2.ListAuditScheduleEntriesRequest(
                page={"page_size": 2, "page_token": token}), metadata=ADMIN)
            seen += [(e.due_date, e.id) for e in reply.entries]
            token = reply.page_info.next_page_token
            if not token:
                break
        assert seen == sorted((r["due_date"].isoformat(), r["id"]) for r in rows)


async def test_talent_event_is_applied_once_on_sqlite(sqlite_host: ServiceHost) -> None:
    consumer = EventConsumer(
        name=SCHEDULE_CONSUMER, topics=[TALENT_TOPIC],
        handlers=TalentEventHandlers(Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)).handlers(),
        sessionmaker=make_sessionmaker(sqlite_host.engine), inbox=messaging.inbox,
        bootstrap_servers="127.0.0.1:9", group_id="unused", loop=asyncio.get_running_loop(),
    )
    person_id = str(uuid.uuid4())
    data = talent_events.PersonAppointedEvent(
        post_id=str(uuid.uuid4()), person_id=person_id, region_code="130123101201",
        role=talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR, start_date="2026-01-05", person_name="李主任")
    env = envelope(data, source="shanzhi.talent", subject=person_id, region_code="130123101201",
                   actor="tester")
    record = SimpleNamespace(topic=TALENT_TOPIC, partition=0, offset=0, value=env.SerializeToString())
    again = envelope(data, source="shanzhi.talent", subject=person_id, region_code="130123101201",
                     actor="tester")
    for r in (record, record, SimpleNamespace(**{**vars(record), "value": again.SerializeToString()})):
        await consumer.apply(r)
    assert (consumer.applied, consumer.duplicates) == (2, 1)
    async with sqlite_host.engine.connect() as conn:
        dues = (await conn.execute(select(audit_schedule.c.due_date).where(
            audit_schedule.c.cadre_person_id == person_id))).scalars().all()
        inbox = (await conn.execute(select(func.count()).select_from(messaging.inbox))).scalar_one()
        events = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
            messaging.outbox.c.event_type == "shanzhi.audit.v1.AuditScheduledEvent"))).scalar_one()
    assert dues == [date(2029, 1, 5)]
    assert (inbox, events) == (2, 1)


async def test_an_end_of_term_is_applied_once_on_sqlite(sqlite_host: ServiceHost) -> None:
    consumer = EventConsumer(
        name=SCHEDULE_CONSUMER, topics=[TALENT_TOPIC],
        handlers=TalentEventHandlers(Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)).handlers(),
        sessionmaker=make_sessionmaker(sqlite_host.engine), inbox=messaging.inbox,
        bootstrap_servers="127.0.0.1:9", group_id="unused", loop=asyncio.get_running_loop(),
    )
    person_id, post_id, village = str(uuid.uuid4()), str(uuid.uuid4()), "130123101201"
    appointed = talent_events.PersonAppointedEvent(
        post_id=post_id, person_id=person_id, region_code=village,
        role=talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER, start_date="2026-01-05",
        person_name="李委员")
    # No name on the end of term: the in-office entry of the post supplies it.
    ended = talent_events.PostEndedEvent(
        post_id=post_id, person_id=person_id, region_code=village,
        role=talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER, start_date="2026-01-05",
        end_date="2026-07-31", reason=talent_pb2.POST_END_REASON_RESIGNED)
    records = [
        SimpleNamespace(topic=TALENT_TOPIC, partition=0, offset=i, value=envelope(
            data, source="shanzhi.talent", subject=person_id, region_code=village,
            actor="tester").SerializeToString())
        for i, data in enumerate([appointed, ended])
    ]
    for r in (*records, records[1]):
        await consumer.apply(r)
    assert (consumer.applied, consumer.duplicates) == (2, 1)
    s = audit_schedule
    async with sqlite_host.engine.connect() as conn:
        rows = (await conn.execute(select(s.c.kind, s.c.due_date, s.c.cadre_name).where(
            s.c.post_id == post_id).order_by(s.c.kind))).all()
        events = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
            messaging.outbox.c.event_type == "shanzhi.audit.v1.AuditScheduledEvent"))).scalar_one()
    assert [tuple(r) for r in rows] == [
        (audit_pb2.AUDIT_KIND_IN_OFFICE, date(2029, 1, 5), "李委员"),
        (audit_pb2.AUDIT_KIND_DEPARTURE, date(2026, 10, 29), "李委员"),
    ]
    assert events == 2


async def test_a_payload_of_the_wrong_type_is_rejected_not_retried(sqlite_host: ServiceHost) -> None:
    consumer = EventConsumer(
        name=SCHEDULE_CONSUMER, topics=[TALENT_TOPIC],
        handlers=TalentEventHandlers(Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)).handlers(),
        sessionmaker=make_sessionmaker(sqlite_host.engine), inbox=messaging.inbox,
        bootstrap_servers="127.0.0.1:9", group_id="unused", loop=asyncio.get_running_loop(),
    )
    person_id = str(uuid.uuid4())
    env = envelope(talent_events.PersonRegisteredEvent(person_id=person_id, region_code="130123101201"),
                   source="shanzhi.talent", subject=person_id, region_code="130123101201",
                   actor="tester")
    env.type = "shanzhi.talent.v1.PersonAppointedEvent"
    await consumer.apply(SimpleNamespace(topic=TALENT_TOPIC, partition=0, offset=7,
                                         value=env.SerializeToString()))
    async with sqlite_host.engine.connect() as conn:
        row = (await conn.execute(select(messaging.inbox).where(
            messaging.inbox.c.event_id == env.id))).one()
    assert row.outcome == "rejected" and row.detail.startswith("invalid request: data:")
