"""Outstanding villagers' representatives (优秀村民代表) from the points service join the
reserve talent pool (后备人才), exactly once: real broker, real PostgreSQL.

Events are produced the way the points service's relay does (an EventEnvelope on the
topic "shanzhi.points.v1", keyed by the honour's id) and applied by the talent
service's own consumer, run by its ServiceHost. Also: registrations announce party
membership and the name, for the points service's party members' accounts (党员积分).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import events_pb2 as points_events
from shanzhi.talent.v1 import events_pb2, talent_pb2, talent_pb2_grpc
from shanzhi_kit.events import envelope, unpack
from shanzhi_kit.pytest_plugin import auth_metadata, wait_until
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.testing import Broker
from shanzhi_talent.consumers import HONOURS_CONSUMER, POINTS_TOPIC
from shanzhi_talent.tables import messaging, reserve_candidates
from sqlalchemy import func, select

pytestmark = [pytest.mark.postgres, pytest.mark.broker]

COUNTY = "130128"
ADMIN = auth_metadata(COUNTY)
S = talent_pb2
OUTSTANDING = S.RESERVE_SOURCE_OUTSTANDING_REPRESENTATIVE


def village(n: int) -> str:
    return f"{COUNTY}101{n:03d}"


def rid() -> str:
    return str(uuid.uuid4())


def honoured(person: talent_pb2.Person, *, honour_id: str = "", year: int = 2025,
             certificate: str = "2025-001") -> points_events.RepresentativeHonouredEvent:
    return points_events.RepresentativeHonouredEvent(
        honour_id=honour_id or str(uuid.uuid4()), person_id=person.id, region_code=person.region_code,
        year=year, account_id=str(uuid.uuid4()), certificate_number=certificate)


def wrapped(event: points_events.RepresentativeHonouredEvent) -> event_pb2.EventEnvelope:
    return envelope(event, source="shanzhi.points", subject=event.honour_id,
                    region_code=event.region_code, actor="clerk-1")


async def publish(broker: Broker, *envelopes: event_pb2.EventEnvelope) -> None:
    await broker.publish(POINTS_TOPIC, *envelopes)


async def inbox(host: ServiceHost, *envelopes: event_pb2.EventEnvelope) -> dict[str, Any]:
    """The inbox rows of ``envelopes`` once the consumer has recorded every one of them."""
    i = messaging.inbox
    ids = [e.id for e in envelopes]

    async def rows() -> dict[str, Any]:
        async with host.engine.connect() as conn:
            found = (await conn.execute(select(i).where(
                i.c.consumer == HONOURS_CONSUMER, i.c.event_id.in_(ids)))).all()
        return {r.event_id: r for r in found}

    async def recorded() -> bool:
        return len(await rows()) == len(ids)

    await wait_until(recorded, within=30)
    return await rows()


async def candidates(host: ServiceHost, person_id: str) -> int:
    async with host.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(reserve_candidates).where(
            reserve_candidates.c.person_id == person_id))).scalar_one())


async def status_events(host: ServiceHost, person_id: str) -> list[events_pb2.ReserveStatusChangedEvent]:
    o = messaging.outbox
    async with host.engine.connect() as conn:
        payloads = (await conn.execute(select(o.c.payload).where(
            o.c.key == person_id, o.c.event_type == "shanzhi.talent.v1.ReserveStatusChangedEvent")
            .order_by(o.c.seq))).scalars().all()
    out = []
    for payload in payloads:
        event = unpack(event_pb2.EventEnvelope.FromString(payload), events_pb2.ReserveStatusChangedEvent)
        assert isinstance(event, events_pb2.ReserveStatusChangedEvent)
        out.append(event)
    return out


def test_the_consumer_reads_the_points_topic(talent_host: ServiceHost) -> None:
    [consumer] = talent_host.consumers
    assert (consumer.name, consumer.topics) == (HONOURS_CONSUMER, ["shanzhi.points.v1"])


async def test_an_honoured_representative_joins_the_pool_exactly_once(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any, broker: Broker,
) -> None:
    person = await ops.register(village(1), "李秀英")
    event = honoured(person)
    first, replay = wrapped(event), wrapped(event)
    # The same event delivered twice, then the same honour under a new event id.
    await publish(broker, first, first, replay)
    rows = await inbox(talent_host, first, replay)
    assert {r.outcome for r in rows.values()} == {"applied"}

    listed = await talent.ListReserveCandidates(S.ListReserveCandidatesRequest(
        region_code_prefix=village(1)), metadata=ADMIN)
    [candidate] = [c for c in listed.candidates if c.person_id == person.id]
    assert (candidate.source, candidate.status, candidate.region_code, candidate.created_by) == (
        OUTSTANDING, S.RESERVE_STATUS_IDENTIFIED, person.region_code, "system:points-event")
    assert candidate.note == "2025年度优秀村民代表 (村民代表会议表决, 荣誉证书 2025-001)"
    assert [(h.from_status, h.to_status) for h in candidate.history] == [
        (S.RESERVE_STATUS_UNSPECIFIED, S.RESERVE_STATUS_IDENTIFIED)]
    assert await candidates(talent_host, person.id) == 1
    # The status-changed event, as for a candidate a clerk adds.
    [changed] = await status_events(talent_host, person.id)
    assert (changed.candidate_id, changed.person_id, changed.region_code, changed.from_status,
            changed.to_status) == (candidate.id, person.id, person.region_code,
                                   S.RESERVE_STATUS_UNSPECIFIED, S.RESERVE_STATUS_IDENTIFIED)

    # Out of the pool again, the same honour under yet another event id adds nobody.
    await talent.ChangeReserveStatus(S.ChangeReserveStatusRequest(
        request_id=rid(), candidate_id=candidate.id, status=S.RESERVE_STATUS_EXITED, reason="外出务工"),
        metadata=ADMIN)
    late = wrapped(event)
    await publish(broker, late)
    await inbox(talent_host, late)
    assert await candidates(talent_host, person.id) == 1
    assert [e.to_status for e in await status_events(talent_host, person.id)] == [
        S.RESERVE_STATUS_IDENTIFIED, S.RESERVE_STATUS_EXITED]
    # A later year's honour puts the person back.
    next_year = wrapped(honoured(person, year=2026, certificate="2026-004"))
    await publish(broker, next_year)
    await inbox(talent_host, next_year)
    assert await candidates(talent_host, person.id) == 2


async def test_an_active_candidate_stays_as_they_are_and_the_log_says_so(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any, broker: Broker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = await ops.register(village(2), "王志强", gender=S.GENDER_MALE,
                                id_number="110105199003040133", phone="13800138000")
    added = (await talent.AddReserveCandidate(S.AddReserveCandidateRequest(
        request_id=rid(), person_id=person.id, source=S.RESERVE_SOURCE_YOUNG_PARTY_MEMBER,
        note="青年党员"), metadata=ADMIN)).candidate
    env = wrapped(honoured(person))
    with caplog.at_level(logging.INFO, logger="shanzhi_talent.consumers"):
        await publish(broker, env)
        [row] = (await inbox(talent_host, env)).values()
    assert row.outcome == "applied"
    got = (await talent.BatchGetReserveCandidates(S.BatchGetReserveCandidatesRequest(
        ids=[added.id]), metadata=ADMIN)).candidates
    assert got == [added]
    assert await candidates(talent_host, person.id) == 1
    assert len(await status_events(talent_host, person.id)) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "shanzhi_talent.consumers"]
    [line] = [m for m in lines if person.id in m]
    assert "already an active reserve candidate" in line
    for secret in ("王志强", "110105199003040133", "13800138000"):
        assert all(secret not in m for m in lines)


async def test_an_honour_of_an_unknown_person_is_rejected(
    talent_host: ServiceHost, broker: Broker,
) -> None:
    stranger = talent_pb2.Person(id=str(uuid.uuid4()), region_code=village(3))
    env = wrapped(honoured(stranger))
    await publish(broker, env)
    [row] = (await inbox(talent_host, env)).values()
    assert row.outcome == "rejected" and stranger.id in row.detail
    assert await candidates(talent_host, stranger.id) == 0


async def test_a_registration_announces_party_membership_and_the_name(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    member = await ops.register(village(4), "孙红梅", id_number="110105199003040029")
    other = (await talent.RegisterPerson(S.RegisterPersonRequest(
        request_id=rid(), region_code=village(4), name="钱志军", gender=S.GENDER_MALE,
        birth_date="1985-05-05", party_member=False, education=S.EDUCATION_SENIOR_SECONDARY),
        metadata=ADMIN)).person
    o = messaging.outbox
    found = {}
    async with talent_host.engine.connect() as conn:
        for person in (member, other):
            [payload] = (await conn.execute(select(o.c.payload).where(
                o.c.key == person.id, o.c.event_type == "shanzhi.talent.v1.PersonRegisteredEvent"))
            ).scalars().all()
            event = unpack(event_pb2.EventEnvelope.FromString(payload), events_pb2.PersonRegisteredEvent)
            assert isinstance(event, events_pb2.PersonRegisteredEvent)
            assert b"110105199003040029" not in payload
            found[person.id] = (event.person_id, event.region_code, event.party_member, event.person_name)
    assert found == {member.id: (member.id, village(4), True, "孙红梅"),
                     other.id: (other.id, village(4), False, "钱志军")}
