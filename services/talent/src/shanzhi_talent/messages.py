"""Rows to protobuf messages. Personal data is opened here, and only for allowed callers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.auth import ROLE_ORGANIZATION_DEPT, Caller
from shanzhi_kit.values import format_date, to_timestamp

from shanzhi_talent import rules
from shanzhi_talent.pii import PiiVault

#: Roles that see ID numbers and phones in full (admin always does).
FULL_PII_ROLES = (ROLE_ORGANIZATION_DEPT,)


def may_see_pii(caller: Caller) -> bool:
    return caller.has_any_role(FULL_PII_ROLES)


def person_message(row: Any, vault: PiiVault, reveal: bool) -> talent_pb2.Person:
    """A person; ID number and phone in full if ``reveal``, masked otherwise."""
    msg = talent_pb2.Person(
        id=row.id,
        region_code=row.region_code,
        name=row.name,
        gender=row.gender,
        birth_date=format_date(row.birth_date),
        party_member=row.party_member,
        education=row.education,
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
        party_join_date=format_date(row.party_join_date),
        updated_by=row.updated_by or "",
    )
    if row.updated_at is not None:
        msg.update_time.CopyFrom(to_timestamp(row.updated_at))
    if row.id_number_cipher is not None:
        if reveal:
            msg.id_number = vault.decrypt(row.id_number_cipher, f"id_number:{row.id}")
        else:
            msg.id_number, msg.id_number_masked = row.id_number_masked, True
    if row.phone_cipher is not None:
        msg.phone = vault.decrypt(row.phone_cipher, f"phone:{row.id}") if reveal else row.phone_masked
    return msg


def post_message(row: Any) -> talent_pb2.Post:
    msg = talent_pb2.Post(
        id=row.id,
        person_id=row.person_id,
        region_code=row.region_code,
        role=row.role,
        method=row.method,
        start_date=format_date(row.start_date),
        end_date=format_date(row.end_date),
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
        end_reason=row.end_reason or talent_pb2.POST_END_REASON_UNSPECIFIED,
        end_note=row.end_note or "",
        ended_by=row.ended_by or "",
        review_id=row.review_id or "",
        review_override_reason=row.review_override_reason or "",
        filing_date=format_date(row.filing_date),
        filing_reference=row.filing_reference or "",
    )
    if row.ended_at is not None:
        msg.end_time.CopyFrom(to_timestamp(row.ended_at))
    return msg


def latest_checks(checks: Sequence[Any]) -> dict[int, Any]:
    """The latest recorded check of each kind (rows in recording order)."""
    latest: dict[int, Any] = {}
    for c in checks:
        latest[c.kind] = c
    return latest


def review_message(row: Any, checks: Sequence[Any]) -> talent_pb2.QualificationReview:
    latest = latest_checks(checks)
    required = list(row.required_checks)
    listed = [*rules.SYSTEM_CHECKS, *required, *(k for k in sorted(latest) if k not in required
                                                 and k not in rules.SYSTEM_CHECKS)]
    out = []
    for kind in listed:
        c = latest.get(kind)
        if c is None:
            out.append(talent_pb2.ReviewCheck(kind=kind, result=talent_pb2.REVIEW_RESULT_PENDING))
        else:
            out.append(talent_pb2.ReviewCheck(
                kind=c.kind, department=c.department, result=c.result, note=c.note,
                checked_date=format_date(c.checked_date), recorded_by=c.recorded_by,
                record_time=to_timestamp(c.recorded_at)))
    return talent_pb2.QualificationReview(
        id=row.id, person_id=row.person_id, region_code=row.region_code, role=row.role,
        checks=out,
        result=rules.review_result(required, {k: c.result for k, c in latest.items()}),
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def candidate_message(row: Any, history: Sequence[Any]) -> talent_pb2.ReserveCandidate:
    return talent_pb2.ReserveCandidate(
        id=row.id, person_id=row.person_id, region_code=row.region_code, source=row.source,
        mentor_person_id=row.mentor_person_id or "", status=row.status, note=row.note,
        history=[talent_pb2.ReserveStatusChange(
            from_status=h.from_status, to_status=h.to_status, reason=h.reason,
            change_time=to_timestamp(h.changed_at), changed_by=h.changed_by) for h in history],
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def course_message(row: Any) -> talent_pb2.TrainingCourse:
    return talent_pb2.TrainingCourse(
        id=row.id, region_code=row.region_code, title=row.title, organizer=row.organizer,
        start_date=format_date(row.start_date), end_date=format_date(row.end_date), hours=row.hours,
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def record_message(row: Any) -> talent_pb2.TrainingRecord:
    return talent_pb2.TrainingRecord(
        id=row.id, course_id=row.course_id, person_id=row.person_id, region_code=row.region_code,
        hours=row.hours, course_start_date=format_date(row.course_start_date),
        course_title=row.course_title, create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )


def assessment_message(row: Any) -> talent_pb2.Assessment:
    msg = talent_pb2.Assessment(
        id=row.id, person_id=row.person_id, region_code=row.region_code, year=row.year,
        period=row.period,
        scores=[talent_pb2.IndicatorScore(**s) for s in row.scores],
        total_score=row.total_score, total_max_score=row.total_max_score,
        democratic_appraisal_percent=row.democratic_appraisal_percent, grade=row.grade,
        state=row.state, comment=row.comment, create_time=to_timestamp(row.created_at),
        created_by=row.created_by, finalized_by=row.finalized_by or "",
    )
    if row.finalized_at is not None:
        msg.finalize_time.CopyFrom(to_timestamp(row.finalized_at))
    return msg


def flag_message(row: Any) -> talent_pb2.RemovalFlag:
    return talent_pb2.RemovalFlag(
        id=row.id, person_id=row.person_id, region_code=row.region_code,
        assessment_ids=list(row.assessment_ids), reason=row.reason,
        create_time=to_timestamp(row.created_at),
    )


def major_matter_message(row: Any) -> talent_pb2.MajorMatterReport:
    return talent_pb2.MajorMatterReport(
        id=row.id, person_id=row.person_id, region_code=row.region_code, category=row.category,
        title=row.title, description=row.description, occurred_date=format_date(row.occurred_date),
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def rules_from_row(row: Any) -> rules.CountyRules:
    return rules.CountyRules(
        **{name: getattr(row, name) for name in rules.INT_FIELDS},
        min_education_at_appointment=row.min_education_at_appointment,
        required_checks=tuple(row.required_checks),
        allow_appointment_without_review=row.allow_appointment_without_review,
        version=row.version,
    )


def config_message(county_code: str, found: Any | None) -> talent_pb2.CountyConfig:
    if found is None:
        return rules.config_message(county_code, rules.DEFAULT_RULES)
    msg = rules.config_message(county_code, rules_from_row(found))
    msg.create_time.CopyFrom(to_timestamp(found.created_at))
    msg.created_by = found.created_by
    return msg
