"""County rules (县级配置) and qualification reviews (任职资格审查). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.errors import InvalidArgument, Validator
from shanzhi_kit.regions import code_problem

from shanzhi_talent.domain import MAX_NOTE, REVIEWED_ROLES, years_between

Kind = talent_pb2.ReviewCheckKind
Result = talent_pb2.ReviewResult

#: Checks the service evaluates itself from the person's record.
SYSTEM_CHECKS = (talent_pb2.REVIEW_CHECK_KIND_AGE, talent_pb2.REVIEW_CHECK_KIND_EDUCATION)
SYSTEM_DEPARTMENT = "system"


@dataclass(frozen=True)
class CountyRules:
    """A county's rules; :data:`DEFAULT_RULES` apply until the county sets its own."""

    min_women_per_village: int = 1
    min_young_per_village: int = 1
    young_age_limit: int = 35
    one_shoulder_share_percent: int = 30
    college_share_percent: int = 30
    max_member_age: int = 65
    min_age_at_appointment: int = 18
    max_age_at_appointment: int = 60
    min_education_at_appointment: int = talent_pb2.EDUCATION_SENIOR_SECONDARY
    required_checks: tuple[int, ...] = (
        talent_pb2.REVIEW_CHECK_KIND_CRIMINAL_RECORD,
        talent_pb2.REVIEW_CHECK_KIND_DISCIPLINE,
        talent_pb2.REVIEW_CHECK_KIND_DISHONEST_DEBTOR,
        talent_pb2.REVIEW_CHECK_KIND_ORGANIZED_CRIME,
    )
    allow_appointment_without_review: bool = False
    min_training_hours_per_year: int = 0
    version: int = 0


DEFAULT_RULES = CountyRules()

#: Integer fields of CountyConfig stored as columns, with their allowed range.
INT_FIELDS: dict[str, tuple[int, int]] = {
    "min_women_per_village": (0, 20),
    "min_young_per_village": (0, 20),
    "young_age_limit": (18, 60),
    "one_shoulder_share_percent": (0, 100),
    "college_share_percent": (0, 100),
    "max_member_age": (0, 120),
    "min_age_at_appointment": (16, 120),
    "max_age_at_appointment": (0, 120),
    "min_training_hours_per_year": (0, 1000),
}


def check_config(config: talent_pb2.CountyConfig) -> CountyRules:
    """Validate a county's rules as sent; every wrong field is named."""
    v = Validator()
    county = config.county_code
    if len(county) != 6 or code_problem(county + "000000"):
        v.add("config.county_code", "must be a 6-digit county code (县级行政区划代码)")
    for name, (low, high) in INT_FIELDS.items():
        value = getattr(config, name)
        v.check(low <= value <= high, f"config.{name}", f"must be between {low} and {high}")
    if config.max_age_at_appointment:
        v.check(config.min_age_at_appointment <= config.max_age_at_appointment,
                "config.max_age_at_appointment", "must not be below min_age_at_appointment")
    v.check(config.min_education_at_appointment in talent_pb2.Education.values(),
            "config.min_education_at_appointment", "is not a known level")
    for i, kind in enumerate(config.required_checks):
        v.check(kind in Kind.values() and kind not in (0, *SYSTEM_CHECKS),
                f"config.required_checks[{i}]",
                "must be a department check (AGE and EDUCATION are always checked)")
    v.raise_if_any()
    return CountyRules(
        **{name: getattr(config, name) for name in INT_FIELDS},
        min_education_at_appointment=config.min_education_at_appointment,
        required_checks=tuple(sorted(set(config.required_checks))),
        allow_appointment_without_review=config.allow_appointment_without_review,
    )


def config_message(county_code: str, rules: CountyRules) -> talent_pb2.CountyConfig:
    return talent_pb2.CountyConfig(
        county_code=county_code,
        version=rules.version,
        **{name: getattr(rules, name) for name in INT_FIELDS},
        min_education_at_appointment=rules.min_education_at_appointment,  # type: ignore[arg-type]
        required_checks=list(rules.required_checks),  # type: ignore[arg-type]
        allow_appointment_without_review=rules.allow_appointment_without_review,
    )


# -- qualification reviews -------------------------------------------------------------


@dataclass(frozen=True)
class CheckInput:
    kind: int
    department: str
    result: int
    note: str
    checked_date: date


def check_review_check(check: talent_pb2.ReviewCheckInput, field: str, today: date,
                       v: Validator) -> CheckInput | None:
    before = len(v.violations)
    v.check(check.kind in Kind.values() and check.kind not in (0, *SYSTEM_CHECKS), f"{field}.kind",
            "must be a department check; AGE and EDUCATION are evaluated by the service")
    department = check.department.strip()
    v.require(f"{field}.department", department)
    v.check(len(department) <= 100, f"{field}.department", "must be at most 100 characters")
    v.check(check.result in Result.values() and check.result != 0, f"{field}.result",
            "is required: PENDING, PASSED or FAILED")
    note = check.note.strip()
    if check.result == talent_pb2.REVIEW_RESULT_FAILED:
        v.require(f"{field}.note", note)
    v.check(len(note) <= MAX_NOTE, f"{field}.note", f"must be at most {MAX_NOTE} characters")
    checked = v.date_field(f"{field}.checked_date", check.checked_date)
    if checked is not None:
        v.check(checked <= today, f"{field}.checked_date", "must not be in the future")
    if len(v.violations) > before or checked is None:
        return None
    return CheckInput(check.kind, department, check.result, note, checked)


@dataclass(frozen=True)
class NewReview:
    person_id: str
    region_code: str
    role: int
    checks: list[CheckInput]


def check_new_review(req: talent_pb2.StartQualificationReviewRequest, today: date) -> NewReview:
    from shanzhi_talent.domain import _village

    v = Validator()
    v.require("person_id", req.person_id)
    _village(v, req.region_code)
    v.check(req.role in REVIEWED_ROLES, "role",
            "must be a two-committee post (村两委): only those are reviewed")
    checks = [check_review_check(c, f"checks[{i}]", today, v) for i, c in enumerate(req.checks)]
    kinds = [c.kind for c in req.checks]
    if len(kinds) != len(set(kinds)):
        v.add("checks", "each kind at most once")
    v.raise_if_any()
    return NewReview(req.person_id.lower(), req.region_code, req.role, [c for c in checks if c])


def system_checks(rules: CountyRules, birth: date, education: int, today: date) -> list[CheckInput]:
    """The age and education checks, evaluated against the county's rules."""
    age = years_between(birth, today)
    low, high = rules.min_age_at_appointment, rules.max_age_at_appointment
    age_ok = age >= low and (high == 0 or age <= high)
    limit = f"{low}-{high}" if high else f"{low} or more"
    age_check = CheckInput(talent_pb2.REVIEW_CHECK_KIND_AGE, SYSTEM_DEPARTMENT,
                           Result.Value("REVIEW_RESULT_PASSED" if age_ok else "REVIEW_RESULT_FAILED"),
                           f"age {age}, allowed {limit}", today)
    need = rules.min_education_at_appointment
    if need == talent_pb2.EDUCATION_UNSPECIFIED:
        edu_ok, note = True, "no education requirement"
    elif education == talent_pb2.EDUCATION_UNSPECIFIED:
        edu_ok, note = False, "education not recorded"
    else:
        edu_ok = education >= need
        note = (f"{talent_pb2.Education.Name(education)}, needed "  # type: ignore[arg-type]
                f"{talent_pb2.Education.Name(need)}")  # type: ignore[arg-type]
    edu_check = CheckInput(talent_pb2.REVIEW_CHECK_KIND_EDUCATION, SYSTEM_DEPARTMENT,
                           Result.Value("REVIEW_RESULT_PASSED" if edu_ok else "REVIEW_RESULT_FAILED"),
                           note, today)
    return [age_check, edu_check]


def review_result(required: Iterable[int], latest: dict[int, int]) -> talent_pb2.ReviewResult.ValueType:
    """FAILED if any check failed; PASSED when every required check passed; else PENDING.

    ``latest`` maps each check kind to its latest result.
    """
    if any(r == talent_pb2.REVIEW_RESULT_FAILED for r in latest.values()):
        return talent_pb2.REVIEW_RESULT_FAILED
    needed = set(required) | set(SYSTEM_CHECKS)
    if all(latest.get(k) == talent_pb2.REVIEW_RESULT_PASSED for k in needed):
        return talent_pb2.REVIEW_RESULT_PASSED
    return talent_pb2.REVIEW_RESULT_PENDING


def require_matching_review(review_person: str, review_region: str, review_role: int,
                            person_id: str, region_code: str, role: int) -> None:
    if (review_person, review_region, review_role) != (person_id, region_code, role):
        raise InvalidArgument.field(
            "review_id", "is a review of another person, village or post than this appointment")
