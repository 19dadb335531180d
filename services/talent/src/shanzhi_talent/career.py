"""Reserve pool (后备人才), training (轮训), assessments (考核) and major-matter reports
(重大事项报告). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.errors import FailedPrecondition, Validator
from shanzhi_kit.regions import code_problem
from shanzhi_kit.values import valid_uuid

from shanzhi_talent.domain import MAX_NOTE

Status = talent_pb2.ReserveStatus

# -- reserve pool ----------------------------------------------------------------------

#: The path a candidate walks; EXITED may follow any state before APPOINTED.
RESERVE_PATH = (
    talent_pb2.RESERVE_STATUS_IDENTIFIED,
    talent_pb2.RESERVE_STATUS_IN_TRAINING,
    talent_pb2.RESERVE_STATUS_QUALIFIED,
    talent_pb2.RESERVE_STATUS_APPOINTED,
)
ACTIVE_RESERVE = frozenset(RESERVE_PATH[:3])


def check_new_candidate(req: talent_pb2.AddReserveCandidateRequest) -> None:
    v = Validator()
    v.check(valid_uuid(req.person_id), "person_id", "is required: a person's id")
    v.check(req.source in talent_pb2.ReserveSource.values() and req.source != 0, "source",
            "is required: one of the ReserveSource values")
    if req.mentor_person_id:
        v.check(valid_uuid(req.mentor_person_id), "mentor_person_id", "is not a valid id (UUID)")
        v.check(req.mentor_person_id.lower() != req.person_id.lower(), "mentor_person_id",
                "a candidate cannot mentor themselves")
    v.check(len(req.note) <= MAX_NOTE, "note", f"must be at most {MAX_NOTE} characters")
    v.raise_if_any()


def check_status_change(current: int, req: talent_pb2.ChangeReserveStatusRequest) -> str:
    """The reason kept for a move from ``current`` to ``req.status``; refuses other moves."""
    state = Status.ValueType(current)
    v = Validator()
    v.check(req.status in Status.values() and req.status != 0, "status",
            "is required: one of the ReserveStatus values")
    reason = req.reason.strip()
    if req.status == talent_pb2.RESERVE_STATUS_EXITED:
        v.require("reason", reason)
    v.check(len(reason) <= MAX_NOTE, "reason", f"must be at most {MAX_NOTE} characters")
    v.raise_if_any()
    if current not in ACTIVE_RESERVE:
        raise FailedPrecondition(f"the candidate is {Status.Name(state)}: nothing follows")
    if req.status == talent_pb2.RESERVE_STATUS_EXITED:
        return reason
    following = RESERVE_PATH[RESERVE_PATH.index(state) + 1]
    if req.status != following:
        raise FailedPrecondition(
            f"a candidate {Status.Name(state)} moves to {Status.Name(following)} "
            f"or RESERVE_STATUS_EXITED, not {Status.Name(req.status)}"
        )
    return reason


# -- training --------------------------------------------------------------------------

MAX_COURSE_HOURS = 200
MAX_ATTENDEES = 500


@dataclass(frozen=True)
class NewCourse:
    region_code: str
    title: str
    organizer: str
    start_date: date
    end_date: date
    hours: int


def check_new_course(req: talent_pb2.CreateTrainingCourseRequest) -> NewCourse:
    v = Validator()
    problem = code_problem(req.region_code)
    if problem:
        v.add("region_code", problem)
    title, organizer = req.title.strip(), req.organizer.strip()
    v.require("title", title)
    v.check(len(title) <= 200, "title", "must be at most 200 characters")
    v.require("organizer", organizer)
    v.check(len(organizer) <= 100, "organizer", "must be at most 100 characters")
    start = v.date_field("start_date", req.start_date)
    end = v.date_field("end_date", req.end_date)
    if start and end:
        v.check(start <= end, "end_date", "must not be before start_date")
    v.check(1 <= req.hours <= MAX_COURSE_HOURS, "hours", f"must be between 1 and {MAX_COURSE_HOURS}")
    v.raise_if_any()
    assert start is not None and end is not None
    return NewCourse(req.region_code, title, organizer, start, end, req.hours)


def check_attendance(req: talent_pb2.RecordTrainingRequest, course_hours: int) -> tuple[list[str], int]:
    v = Validator()
    if not req.person_ids:
        v.add("person_ids", "at least one person")
    v.check(len(req.person_ids) <= MAX_ATTENDEES, "person_ids", f"at most {MAX_ATTENDEES} per call")
    bad = [i for i, p in enumerate(req.person_ids) if not valid_uuid(p)]
    if bad:
        v.add(f"person_ids[{bad[0]}]", "is not a valid id (UUID)")
    v.check(0 <= req.hours <= course_hours, "hours",
            f"must be between 0 (the course's hours) and the course's {course_hours} hours")
    v.raise_if_any()
    return list(dict.fromkeys(p.lower() for p in req.person_ids)), req.hours or course_hours


def coverage_day(year: int, today: date) -> date:
    """Members counted for a year's coverage are those serving on this day."""
    return min(date(year, 12, 31), today)


# -- assessments -----------------------------------------------------------------------

Period = talent_pb2.AssessmentPeriod
MAX_SCORES = 100


def period_bounds(year: int, period: int) -> tuple[date, date]:
    if period == talent_pb2.ASSESSMENT_PERIOD_FIRST_HALF:
        return date(year, 1, 1), date(year, 6, 30)
    if period == talent_pb2.ASSESSMENT_PERIOD_SECOND_HALF:
        return date(year, 7, 1), date(year, 12, 31)
    return date(year, 1, 1), date(year, 12, 31)


def previous_period(year: int, period: int) -> tuple[int, int]:
    """The period before, in the same cycle: half-years follow half-years, years years."""
    if period == talent_pb2.ASSESSMENT_PERIOD_FIRST_HALF:
        return year - 1, talent_pb2.ASSESSMENT_PERIOD_SECOND_HALF
    if period == talent_pb2.ASSESSMENT_PERIOD_SECOND_HALF:
        return year, talent_pb2.ASSESSMENT_PERIOD_FIRST_HALF
    return year - 1, talent_pb2.ASSESSMENT_PERIOD_ANNUAL


def next_period(year: int, period: int) -> tuple[int, int]:
    if period == talent_pb2.ASSESSMENT_PERIOD_FIRST_HALF:
        return year, talent_pb2.ASSESSMENT_PERIOD_SECOND_HALF
    if period == talent_pb2.ASSESSMENT_PERIOD_SECOND_HALF:
        return year + 1, talent_pb2.ASSESSMENT_PERIOD_FIRST_HALF
    return year + 1, talent_pb2.ASSESSMENT_PERIOD_ANNUAL


@dataclass(frozen=True)
class NewAssessment:
    person_id: str
    year: int
    period: int
    scores: list[dict[str, object]]
    total: int
    total_max: int
    appraisal: int
    grade: int
    comment: str


def check_new_assessment(req: talent_pb2.RecordAssessmentRequest, today: date) -> NewAssessment:
    v = Validator()
    v.check(valid_uuid(req.person_id), "person_id", "is required: a person's id")
    v.check(2000 <= req.year <= today.year + 1, "year", f"must be between 2000 and {today.year + 1}")
    v.check(req.period in Period.values() and req.period != 0, "period",
            "is required: one of the AssessmentPeriod values")
    v.check(req.grade in talent_pb2.AssessmentGrade.values() and req.grade != 0, "grade",
            "is required: one of the AssessmentGrade values")
    v.check(0 <= req.democratic_appraisal_percent <= 100, "democratic_appraisal_percent",
            "must be between 0 and 100")
    if not req.scores:
        v.add("scores", "at least one indicator score")
    v.check(len(req.scores) <= MAX_SCORES, "scores", f"at most {MAX_SCORES}")
    scores = []
    for i, s in enumerate(req.scores):
        line, indicator = s.work_line.strip(), s.indicator.strip()
        v.require(f"scores[{i}].work_line", line)
        v.require(f"scores[{i}].indicator", indicator)
        v.check(0 < s.max_score <= 1000, f"scores[{i}].max_score", "must be between 1 and 1000")
        v.check(0 <= s.score <= s.max_score, f"scores[{i}].score", "must be between 0 and max_score")
        scores.append({"work_line": line, "indicator": indicator, "score": s.score, "max_score": s.max_score})
    comment = req.comment.strip()
    v.check(len(comment) <= 2000, "comment", "must be at most 2000 characters")
    v.raise_if_any()
    return NewAssessment(
        req.person_id.lower(), req.year, req.period, scores,
        sum(s.score for s in req.scores), sum(s.max_score for s in req.scores),
        req.democratic_appraisal_percent, req.grade, comment,
    )


def removal_pair(
    this: tuple[str, int, int, int],
    finalized: list[tuple[str, int, int, int]],
) -> list[str] | None:
    """The two assessment ids of two consecutive 不称职, if ``this`` completes such a pair.

    Each item is (id, year, period, grade). The neighbour may come before or after
    ``this`` in the cycle (a late finalisation of an earlier period counts too).
    """
    ident, year, period, grade = this
    if grade != talent_pb2.ASSESSMENT_GRADE_INCOMPETENT:
        return None
    by_period = {(y, p): (i, g) for i, y, p, g in finalized}
    before = by_period.get(previous_period(year, period))
    if before and before[1] == talent_pb2.ASSESSMENT_GRADE_INCOMPETENT:
        return [before[0], ident]
    after = by_period.get(next_period(year, period))
    if after and after[1] == talent_pb2.ASSESSMENT_GRADE_INCOMPETENT:
        return [ident, after[0]]
    return None


# -- major-matter reports --------------------------------------------------------------


def check_major_matter(req: talent_pb2.FileMajorMatterReportRequest, today: date) -> date:
    v = Validator()
    v.check(valid_uuid(req.person_id), "person_id", "is required: a person's id")
    v.check(req.category in talent_pb2.MajorMatterCategory.values() and req.category != 0, "category",
            "is required: one of the MajorMatterCategory values")
    v.require("title", req.title.strip())
    v.check(len(req.title.strip()) <= 200, "title", "must be at most 200 characters")
    v.check(len(req.description) <= 4000, "description", "must be at most 4000 characters")
    occurred = v.date_field("occurred_date", req.occurred_date)
    v.raise_if_any()
    assert occurred is not None
    return occurred
