"""Reserve pool, training coverage, assessments with removal flags and major-matter reports,
over gRPC on PostgreSQL."""

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

COUNTY = "130127"
ADMIN = auth_metadata(COUNTY)
S = talent_pb2


def village(n: int) -> str:
    return f"{COUNTY}101{n:03d}"


def rid() -> str:
    return str(uuid.uuid4())


async def events_of(host: ServiceHost, key: str, type_: type[Any]) -> list[Any]:
    async with host.engine.connect() as conn:
        rows = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.key == key,
            messaging.outbox.c.event_type == type_.DESCRIPTOR.full_name)
            .order_by(messaging.outbox.c.seq))).scalars().all()
    return [unpack(EventEnvelope.FromString(r), type_) for r in rows]


async def test_reserve_candidate_walks_the_path_with_a_cadre_mentor(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    secretary = await ops.register(village(1), "书记")
    await ops.appoint(secretary, S.POST_ROLE_PARTY_SECRETARY, start="2024-01-01")
    villager = await ops.register(village(1), "普通村民")
    young = await ops.register(village(1), "青年", birth_date="2000-08-08")

    async def add(person: talent_pb2.Person, mentor: str = "") -> talent_pb2.ReserveCandidate:
        return (await talent.AddReserveCandidate(S.AddReserveCandidateRequest(
            request_id=rid(), person_id=person.id, source=S.RESERVE_SOURCE_RETURNING_MIGRANT,
            mentor_person_id=mentor, note="雁归"), metadata=ADMIN)).candidate

    with pytest.raises(grpc.aio.AioRpcError) as err:  # a mentor must be a serving cadre
        await add(young, villager.id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    cand = await add(young, secretary.id)
    assert cand.status == S.RESERVE_STATUS_IDENTIFIED and cand.mentor_person_id == secretary.id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await add(young)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS

    async def move(status: int, reason: str = "") -> talent_pb2.ReserveCandidate:
        return (await talent.ChangeReserveStatus(S.ChangeReserveStatusRequest(
            request_id=rid(), candidate_id=cand.id, status=status, reason=reason),  # type: ignore[arg-type]
            metadata=ADMIN)).candidate

    for wrong in (S.RESERVE_STATUS_QUALIFIED, S.RESERVE_STATUS_APPOINTED):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await move(wrong)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await move(S.RESERVE_STATUS_IN_TRAINING)
    await move(S.RESERVE_STATUS_QUALIFIED)
    with pytest.raises(grpc.aio.AioRpcError) as err:  # appointed means holding a post
        await move(S.RESERVE_STATUS_APPOINTED)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await ops.appoint(young, S.POST_ROLE_VILLAGE_COMMITTEE_MEMBER, start="2026-01-01")
    done = await move(S.RESERVE_STATUS_APPOINTED)
    assert [h.to_status for h in done.history] == [
        S.RESERVE_STATUS_IDENTIFIED, S.RESERVE_STATUS_IN_TRAINING, S.RESERVE_STATUS_QUALIFIED,
        S.RESERVE_STATUS_APPOINTED]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await move(S.RESERVE_STATUS_EXITED, "已任用")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    changed = await events_of(talent_host, young.id, events_pb2.ReserveStatusChangedEvent)
    assert [e.to_status for e in changed] == [1, 2, 3, 4]
    # Another candidate exits, with a reason; then may be identified again.
    other = await add(villager)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.ChangeReserveStatus(S.ChangeReserveStatusRequest(
            request_id=rid(), candidate_id=other.id, status=S.RESERVE_STATUS_EXITED), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    exited = (await talent.ChangeReserveStatus(S.ChangeReserveStatusRequest(
        request_id=rid(), candidate_id=other.id, status=S.RESERVE_STATUS_EXITED, reason="外出务工"),
        metadata=ADMIN)).candidate
    assert exited.status == S.RESERVE_STATUS_EXITED and exited.history[-1].reason == "外出务工"
    assert (await add(villager)).status == S.RESERVE_STATUS_IDENTIFIED
    listed = await talent.ListReserveCandidates(S.ListReserveCandidatesRequest(
        region_code_prefix=village(1), status=S.RESERVE_STATUS_IDENTIFIED), metadata=ADMIN)
    assert [c.person_id for c in listed.candidates] == [villager.id]


async def test_training_coverage_names_who_is_missing(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    a = await ops.register(village(2), "甲")
    b = await ops.register(village(2), "乙")
    grid = await ops.register(village(2), "网格员")
    await ops.appoint(a, S.POST_ROLE_PARTY_SECRETARY, start="2024-01-01")
    await ops.appoint(b, S.POST_ROLE_PARTY_COMMITTEE_MEMBER, start="2024-01-01")
    await ops.appoint(grid, S.POST_ROLE_GRID_WORKER, start="2024-01-01")
    course = (await talent.CreateTrainingCourse(S.CreateTrainingCourseRequest(
        request_id=rid(), region_code=f"{COUNTY}000000", title="乡村治理专题轮训",
        organizer="县委组织部", start_date="2025-04-01", end_date="2025-04-02", hours=12),
        metadata=ADMIN)).course
    clerk = auth_metadata(village(2), roles=("village_clerk",), subject="clerk")
    recorded = (await talent.RecordTraining(S.RecordTrainingRequest(
        request_id=rid(), course_id=course.id, person_ids=[a.id, grid.id]), metadata=clerk))
    assert sorted(r.person_id for r in recorded.records) == sorted([a.id, grid.id])
    again = await talent.RecordTraining(S.RecordTrainingRequest(
        request_id=rid(), course_id=course.id, person_ids=[a.id]), metadata=clerk)
    assert list(again.already_recorded_person_ids) == [a.id] and not again.records
    coverage = await talent.GetTrainingCoverage(S.GetTrainingCoverageRequest(
        region_code_prefix=village(2), year=2025), metadata=ADMIN)
    row = coverage.villages[0]
    assert (row.member_count, row.trained_count, row.fully_covered) == (2, 1, False)
    assert [(m.person_id, m.name) for m in row.missing] == [(b.id, "乙")]
    assert coverage.as_of_date == "2025-12-31"
    nothing = await talent.GetTrainingCoverage(S.GetTrainingCoverageRequest(
        region_code_prefix=village(2), year=2024), metadata=ADMIN)
    assert nothing.villages[0].trained_count == 0
    [event] = await events_of(talent_host, a.id, events_pb2.TrainingRecordedEvent)
    assert (event.course_id, event.hours) == (course.id, 12)


async def assess(talent: talent_pb2_grpc.TalentServiceStub, person: talent_pb2.Person, year: int,
                 period: int, grade: int) -> talent_pb2.FinalizeAssessmentResponse:
    draft = (await talent.RecordAssessment(S.RecordAssessmentRequest(
        request_id=rid(), person_id=person.id, year=year, period=period,  # type: ignore[arg-type]
        scores=[S.IndicatorScore(work_line="党建", indicator="三会一课", score=15, max_score=20),
                S.IndicatorScore(work_line="乡村振兴", indicator="集体经济", score=30, max_score=40)],
        democratic_appraisal_percent=72, grade=grade, comment="评语"), metadata=ADMIN)).assessment  # type: ignore[arg-type]
    assert draft.state == S.ASSESSMENT_STATE_DRAFT and draft.total_score == 45
    return await talent.FinalizeAssessment(S.FinalizeAssessmentRequest(
        request_id=rid(), assessment_id=draft.id), metadata=ADMIN)


async def test_two_consecutive_incompetent_grades_raise_a_removal_flag(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    person = await ops.register(village(3), "考核对象")
    await ops.appoint(person, S.POST_ROLE_COMMITTEE_DIRECTOR, start="2023-01-01")
    first = await assess(talent, person, 2024, S.ASSESSMENT_PERIOD_ANNUAL, S.ASSESSMENT_GRADE_INCOMPETENT)
    assert not first.HasField("removal_flag")
    half = await assess(talent, person, 2025, S.ASSESSMENT_PERIOD_FIRST_HALF, S.ASSESSMENT_GRADE_INCOMPETENT)
    assert not half.HasField("removal_flag")  # a half-year follows half-years, not the annual
    second = await assess(talent, person, 2025, S.ASSESSMENT_PERIOD_ANNUAL, S.ASSESSMENT_GRADE_INCOMPETENT)
    assert list(second.removal_flag.assessment_ids) == [first.assessment.id, second.assessment.id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.FinalizeAssessment(S.FinalizeAssessmentRequest(
            request_id=rid(), assessment_id=second.assessment.id), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await assess(talent, person, 2025, S.ASSESSMENT_PERIOD_ANNUAL, S.ASSESSMENT_GRADE_COMPETENT)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    [flagged] = await events_of(talent_host, person.id, events_pb2.RemovalFlaggedEvent)
    assert flagged.flag_id == second.removal_flag.id
    finals = await events_of(talent_host, person.id, events_pb2.AssessmentFinalizedEvent)
    assert [e.grade for e in finals] == [S.ASSESSMENT_GRADE_INCOMPETENT] * 3
    flags = await talent.ListRemovalFlags(S.ListRemovalFlagsRequest(region_code_prefix=village(3)),
                                          metadata=ADMIN)
    assert [f.person_id for f in flags.flags] == [person.id]
    nobody = await ops.register(village(3), "无职务")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await assess(talent, nobody, 2025, S.ASSESSMENT_PERIOD_ANNUAL, S.ASSESSMENT_GRADE_EXCELLENT)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_major_matters_and_the_complete_record(
    talent: talent_pb2_grpc.TalentServiceStub, ops: Any,
) -> None:
    person = await ops.register(village(4), "报告人")
    with pytest.raises(grpc.aio.AioRpcError) as err:  # only serving cadres report
        await talent.FileMajorMatterReport(S.FileMajorMatterReportRequest(
            request_id=rid(), person_id=person.id, category=S.MAJOR_MATTER_CATEGORY_FAMILY_EVENT,
            title="子女婚礼", occurred_date="2026-05-01"), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await ops.appoint(person, S.POST_ROLE_PARTY_SECRETARY, start="2024-01-01")
    report = (await talent.FileMajorMatterReport(S.FileMajorMatterReportRequest(
        request_id=rid(), person_id=person.id, category=S.MAJOR_MATTER_CATEGORY_FAMILY_EVENT,
        title="子女婚礼", description="简办, 不超过10桌", occurred_date="2026-05-01"),
        metadata=ADMIN)).report
    record = (await talent.GetCadreRecord(S.GetCadreRecordRequest(person_id=person.id),
                                          metadata=ADMIN)).record
    assert [m.id for m in record.major_matters] == [report.id]
    assert len(record.reviews) == 1 and record.reviews[0].result == S.REVIEW_RESULT_PASSED
    assert [p.role for p in record.posts] == [S.POST_ROLE_PARTY_SECRETARY]
    got = await talent.BatchGetMajorMatterReports(S.BatchGetMajorMatterReportsRequest(ids=[report.id]),
                                                  metadata=ADMIN)
    assert got.reports[0].title == "子女婚礼"


async def test_two_incompetent_grades_finalised_at_once_still_raise_one_removal_flag(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    # Each finalisation locks the person first, so the second sees the first's grade.
    for attempt in range(3):
        person = await ops.register(village(10 + attempt), f"同时定档{attempt}")
        await ops.appoint(person, S.POST_ROLE_COMMITTEE_DIRECTOR, start="2023-01-01")
        drafts = []
        for year in (2024, 2025):
            drafts.append((await talent.RecordAssessment(S.RecordAssessmentRequest(
                request_id=rid(), person_id=person.id, year=year, period=S.ASSESSMENT_PERIOD_ANNUAL,
                scores=[S.IndicatorScore(work_line="党建", indicator="三会一课", score=5, max_score=20)],
                democratic_appraisal_percent=30, grade=S.ASSESSMENT_GRADE_INCOMPETENT,
                comment="评语"), metadata=ADMIN)).assessment)
        results = await asyncio.gather(*(talent.FinalizeAssessment(S.FinalizeAssessmentRequest(
            request_id=rid(), assessment_id=d.id), metadata=ADMIN) for d in drafts))
        assert sum(r.HasField("removal_flag") for r in results) == 1
        [flagged] = await events_of(talent_host, person.id, events_pb2.RemovalFlaggedEvent)
        assert sorted(flagged.assessment_ids) == sorted(d.id for d in drafts)
