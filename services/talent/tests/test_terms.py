"""Terms over gRPC on PostgreSQL: ends, successors, history, one shoulder by dates,
filing, and the qualification-review gate on appointments."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from shanzhi.talent.v1 import events_pb2, talent_pb2, talent_pb2_grpc
from shanzhi_kit.events import EventEnvelope, unpack
from shanzhi_kit.pytest_plugin import auth_metadata
from shanzhi_kit.server import ServiceHost
from shanzhi_talent.tables import messaging
from sqlalchemy import select

pytestmark = pytest.mark.postgres

COUNTY = "130126"
ADMIN = auth_metadata(COUNTY)
PROVINCE = auth_metadata("13")
SECRETARY = talent_pb2.POST_ROLE_PARTY_SECRETARY
DIRECTOR = talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR


def village(n: int) -> str:
    return f"{COUNTY}101{n:03d}"


def rid() -> str:
    return str(uuid.uuid4())


async def record(stub: talent_pb2_grpc.TalentServiceStub, person: talent_pb2.Person,
                 day: str) -> talent_pb2.CadreRecord:
    return (await stub.GetCadreRecord(talent_pb2.GetCadreRecordRequest(
        person_id=person.id, as_of_date=day), metadata=ADMIN)).record


async def test_end_of_term_and_successor_keep_the_whole_history(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    old = await ops.register(village(1), "老书记", gender=talent_pb2.GENDER_MALE, birth_date="1968-02-02")
    new = await ops.register(village(1), "新书记")
    first = await ops.appoint(old, SECRETARY, start="2021-01-10")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ops.appoint(new, SECRETARY, start="2026-01-05")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    ended = await ops.end(first, "2026-01-04")
    assert ended.end_date == "2026-01-04" and ended.end_reason == talent_pb2.POST_END_REASON_TERM_EXPIRED
    assert ended.ended_by == "tester" and ended.end_time.seconds > 0
    with pytest.raises(grpc.aio.AioRpcError) as err:  # overlaps the ended term
        await ops.appoint(new, SECRETARY, start="2026-01-04")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    second = await ops.appoint(new, SECRETARY, start="2026-01-05")
    listed = await talent.ListPosts(talent_pb2.ListPostsRequest(region_code_prefix=village(1)),
                                    metadata=ADMIN)
    assert {p.id: p.end_date for p in listed.posts} == {first.id: "2026-01-04", second.id: ""}
    old_record = await record(talent, old, "2025-06-01")
    assert [p.id for p in old_record.posts] == [first.id]
    assert [list(c.roles) for c in old_record.concurrent] == [[SECRETARY]]
    assert (await record(talent, old, "2026-02-01")).concurrent == []
    async with talent_host.engine.connect() as conn:
        rows = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.event_type == "shanzhi.talent.v1.PostEndedEvent",
            messaging.outbox.c.key == old.id))).scalars().all()
    event = unpack(EventEnvelope.FromString(rows[0]), events_pb2.PostEndedEvent)
    assert isinstance(event, events_pb2.PostEndedEvent)
    assert (event.post_id, event.end_date, event.person_name) == (first.id, "2026-01-04", "老书记")


async def test_one_shoulder_and_cross_posts_follow_the_dates(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    person = await ops.register(village(2), "一肩挑")
    secretary = await ops.appoint(person, SECRETARY, start="2021-01-10")
    director = await ops.appoint(person, DIRECTOR, start="2023-03-01")
    before = await record(talent, person, "2022-12-31")
    during = await record(talent, person, "2024-06-01")
    assert not before.concurrent[0].one_shoulder and not before.concurrent[0].cross_posts
    assert during.concurrent[0].one_shoulder and during.concurrent[0].cross_posts
    await ops.end(director, "2025-12-31", talent_pb2.POST_END_REASON_RESIGNED)
    after = await record(talent, person, "2026-01-02")
    assert not after.concurrent[0].one_shoulder
    assert len(after.posts) == 2 and after.posts[0].id == secretary.id
    # A party-committee member who also sits on the villagers' committee: cross posts.
    member = await ops.register(village(2), "交叉")
    await ops.appoint(member, talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER, start="2024-01-01")
    await ops.appoint(member, talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER, start="2024-01-01")
    crossed = (await record(talent, member, "2024-06-01")).concurrent[0]
    assert crossed.cross_posts and not crossed.one_shoulder


async def test_ending_a_term_is_checked_and_happens_once(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    person = await ops.register(village(3))
    post = await ops.appoint(person, talent_pb2.POST_ROLE_GRID_WORKER, start="2024-05-01")
    for end, reason in [("2024-04-30", talent_pb2.POST_END_REASON_RESIGNED),
                        ("2999-01-01", talent_pb2.POST_END_REASON_RESIGNED),
                        ("2025-01-01", talent_pb2.POST_END_REASON_OTHER)]:  # OTHER needs a note
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ops.end(post, end, reason)
        assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    results = await asyncio.gather(ops.end(post, "2025-01-01"), ops.end(post, "2025-02-01"),
                                   return_exceptions=True)
    assert sum(isinstance(r, talent_pb2.Post) for r in results) == 1
    assert {r.code() for r in results if isinstance(r, grpc.aio.AioRpcError)} == {
        grpc.StatusCode.FAILED_PRECONDITION}


async def test_villagers_representatives_are_filed_by_the_county(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    person = await ops.register(village(4))
    rep = await ops.appoint(person, talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start="2024-01-01")
    req = talent_pb2.FilePostRequest(request_id=rid(), post_id=rep.id, filing_date="2024-02-01",
                                     filing_reference="县民政备〔2024〕3号")
    township = auth_metadata(f"{COUNTY}101", roles=("township_officer",), subject="township")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.FilePost(req, metadata=township)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    filed = (await talent.FilePost(req, metadata=ADMIN)).post
    assert (filed.filing_date, filed.filing_reference) == ("2024-02-01", "县民政备〔2024〕3号")
    req.request_id = rid()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.FilePost(req, metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def appoint_with(talent: talent_pb2_grpc.TalentServiceStub, person: talent_pb2.Person,
                       review_id: str = "", reason: str = "",
                       role: int = talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER,
                       md: Any = PROVINCE) -> talent_pb2.Post:
    return (await talent.AppointPerson(talent_pb2.AppointPersonRequest(
        request_id=rid(), person_id=person.id, region_code=person.region_code, role=role,  # type: ignore[arg-type]
        method=talent_pb2.APPOINTMENT_METHOD_BY_ELECTION, start_date="2026-02-01",
        review_id=review_id, review_override_reason=reason), metadata=md)).post


async def test_two_committee_appointments_need_a_passed_review(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    person = await ops.register(village(5), "待审查")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await appoint_with(talent, person)
    assert "任职资格审查" in (err.value.details() or "")
    role = talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER
    pending = (await talent.StartQualificationReview(talent_pb2.StartQualificationReviewRequest(
        request_id=rid(), person_id=person.id, region_code=person.region_code, role=role),
        metadata=ADMIN)).review
    assert pending.result == talent_pb2.REVIEW_RESULT_PENDING
    kinds = {c.kind: c for c in pending.checks}
    assert kinds[talent_pb2.REVIEW_CHECK_KIND_AGE].result == talent_pb2.REVIEW_RESULT_PASSED
    assert kinds[talent_pb2.REVIEW_CHECK_KIND_CRIMINAL_RECORD].result == talent_pb2.REVIEW_RESULT_PENDING
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await appoint_with(talent, person, pending.id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    review = pending
    for kind in (3, 4, 5, 6):
        review = (await talent.RecordReviewCheck(talent_pb2.RecordReviewCheckRequest(
            request_id=rid(), review_id=pending.id, check=talent_pb2.ReviewCheckInput(
                kind=kind, department="县纪委监委", result=talent_pb2.REVIEW_RESULT_PASSED,  # type: ignore[arg-type]
                checked_date="2026-01-20")), metadata=ADMIN)).review
    assert review.result == talent_pb2.REVIEW_RESULT_PASSED
    other = await ops.register(village(5), "别人")
    with pytest.raises(grpc.aio.AioRpcError) as err:  # someone else's review
        await appoint_with(talent, other, review.id)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    post = await appoint_with(talent, person, review.id)
    assert post.review_id == review.id and post.review_override_reason == ""


async def test_a_failed_review_refuses_unless_the_county_allows_an_override(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    old = await ops.register("130128101001", "超龄者", birth_date="1955-05-05")
    review = await ops.review(old, talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER)
    age = next(c for c in review.checks if c.kind == talent_pb2.REVIEW_CHECK_KIND_AGE)
    assert review.result == talent_pb2.REVIEW_RESULT_FAILED and age.result == talent_pb2.REVIEW_RESULT_FAILED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await appoint_with(talent, old, review.id, reason="群众推选")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    clerk = auth_metadata("130128", roles=("county_officer",), subject="officer")
    config = talent_pb2.CountyConfig(
        county_code="130128", min_women_per_village=1, min_young_per_village=1, young_age_limit=35,
        one_shoulder_share_percent=30, college_share_percent=30, max_member_age=70,
        min_age_at_appointment=18, max_age_at_appointment=60,
        required_checks=[talent_pb2.REVIEW_CHECK_KIND_CRIMINAL_RECORD],
        allow_appointment_without_review=True)
    with pytest.raises(grpc.aio.AioRpcError) as err:  # only the organisation department sets rules
        await talent.SetCountyConfig(talent_pb2.SetCountyConfigRequest(request_id=rid(), config=config),
                                     metadata=clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stored = (await talent.SetCountyConfig(talent_pb2.SetCountyConfigRequest(
        request_id=rid(), config=config), metadata=PROVINCE)).config
    assert stored.version >= 1 and stored.created_by == "tester"
    with pytest.raises(grpc.aio.AioRpcError) as err:  # allowed, but only with a reason
        await appoint_with(talent, old, review.id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    post = await appoint_with(talent, old, review.id, reason="县委组织部批准: 群众推选")
    assert post.review_override_reason == "县委组织部批准: 群众推选"
    read = (await talent.GetCountyConfig(talent_pb2.GetCountyConfigRequest(county_code="130128"),
                                         metadata=auth_metadata("130128101001", roles=("village_clerk",))))
    assert read.config.allow_appointment_without_review and read.config.version == stored.version


async def test_the_cadre_record_leaves_out_what_lies_outside_the_callers_scope(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    person = await ops.register(village(6), "两村任职")
    here = await ops.appoint(person, talent_pb2.POST_ROLE_GRID_WORKER, start="2024-01-01")
    await ops.appoint(person, talent_pb2.POST_ROLE_GRID_WORKER, start="2024-01-01", region=village(7))
    clerk = auth_metadata(village(6), roles=("village_clerk",), subject="clerk6")
    seen = (await talent.GetCadreRecord(talent_pb2.GetCadreRecordRequest(person_id=person.id),
                                        metadata=clerk)).record
    assert [p.id for p in seen.posts] == [here.id]
    assert len((await record(talent, person, "2025-01-01")).posts) == 2


async def test_one_person_appointed_twice_at_once_to_a_role_of_many_holders_holds_it_once(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    # Villagers' representatives are many per village, so no unique index stops a second
    # post: the appointment's lock on the person does. Its events keep their order too.
    for attempt in range(5):
        person = await ops.register(village(6), f"代表{attempt}")
        results = await asyncio.gather(
            *(ops.appoint(person, talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start="2025-01-01")
              for _ in range(3)), return_exceptions=True)
        assert sum(isinstance(r, talent_pb2.Post) for r in results) == 1, results
        assert {r.code() for r in results if isinstance(r, grpc.aio.AioRpcError)} == {
            grpc.StatusCode.FAILED_PRECONDITION}
        terms = (await record(talent, person, "2025-06-01")).posts
        assert len(terms) == 1
        async with talent_host.engine.connect() as conn:
            appointed = (await conn.execute(select(messaging.outbox.c.event_type).where(
                messaging.outbox.c.key == person.id,
                messaging.outbox.c.event_type == events_pb2.PersonAppointedEvent.DESCRIPTOR.full_name)
            )).scalars().all()
        assert len(appointed) == 1


async def test_a_persons_events_are_numbered_in_the_order_their_writes_commit(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    # A rename races an appointment and the end of another term. Each write locks the
    # person before adding its event, so the outbox numbers them (the relay publishes in
    # that order) in the order they commit: every event before the rename's carries the
    # old name, and every event from it on the new one.
    person = await ops.register(village(7), "原名")
    grid = await ops.appoint(person, talent_pb2.POST_ROLE_GRID_WORKER, start="2024-01-01")
    rename = talent_pb2.UpdatePersonRequest(
        request_id=rid(), person=talent_pb2.Person(id=person.id, name="新名"))
    rename.update_mask.paths.append("name")
    await asyncio.gather(
        ops.appoint(person, talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start="2025-01-01"),
        ops.end(grid, "2024-12-31"),
        talent.UpdatePerson(rename, metadata=ADMIN))
    async with talent_host.engine.connect() as conn:
        rows = (await conn.execute(select(messaging.outbox.c.event_type, messaging.outbox.c.payload)
                                   .where(messaging.outbox.c.key == person.id)
                                   .order_by(messaging.outbox.c.seq))).all()
    names = []
    for event_type, payload in rows:
        env = EventEnvelope.FromString(payload)
        if event_type == events_pb2.PersonUpdatedEvent.DESCRIPTOR.full_name:
            names.append(unpack(env, events_pb2.PersonUpdatedEvent).person_name)
        elif event_type == events_pb2.PersonAppointedEvent.DESCRIPTOR.full_name:
            names.append(unpack(env, events_pb2.PersonAppointedEvent).person_name)
        elif event_type == events_pb2.PostEndedEvent.DESCRIPTOR.full_name:
            names.append(unpack(env, events_pb2.PostEndedEvent).person_name)
    first_new = names.index("新名")
    assert all(n == "原名" for n in names[:first_new]), names
    assert all(n == "新名" for n in names[first_new:]), names
