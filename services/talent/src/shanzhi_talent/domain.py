"""Talent domain rules (人才/干部). Pure: no I/O.

Validation of people (registration and upkeep, 人员登记/人员信息维护) and
appointments, which posts admit only one holder at a time in a village, how terms
end, and what concurrent posts amount to (一肩挑/交叉任职). Reviews, the county
rules, the reserve pool, training and assessments have their own modules beside
this one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.auth import (
    ROLE_COUNTY_OFFICER,
    ROLE_ORGANIZATION_DEPT,
    ROLE_TOWNSHIP_OFFICER,
    ROLE_VILLAGE_CLERK,
)
from shanzhi_kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, Validator
from shanzhi_kit.regions import code_problem, is_village_code
from shanzhi_kit.values import format_date

from shanzhi_talent import idnumbers

#: Who decides cadre matters (干部管理): posts and terms, qualification reviews (任职资格审查),
#: the reserve pool (后备人才), training courses (轮训) and assessments (考核). Admins may too;
#: viewers, grid workers and auditors only read.
PERSONNEL_ROLES = (ROLE_ORGANIZATION_DEPT, ROLE_COUNTY_OFFICER, ROLE_TOWNSHIP_OFFICER)
#: Who keeps the records a village keeps itself: the people registry (人员信息), training
#: attendance and cadres' major-matter reports (重大事项报告); village clerks (村级文书) too.
RECORD_ROLES = (*PERSONNEL_ROLES, ROLE_VILLAGE_CLERK)

PostRole = talent_pb2.PostRole

#: Posts with one holder per village at a time: party-branch secretary (村党组织书记),
#: committee director (村委会主任) and first secretary (第一书记).
SINGLE_HOLDER_ROLES = frozenset(
    {
        talent_pb2.POST_ROLE_PARTY_SECRETARY,
        talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR,
        talent_pb2.POST_ROLE_FIRST_SECRETARY,
    }
)

#: Posts of the village party organisation (村党组织): secretary and committee members.
PARTY_ROLES = frozenset(
    {talent_pb2.POST_ROLE_PARTY_SECRETARY, talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER}
)

#: Posts of the villagers' committee (村民委员会): director and committee members.
VILLAGE_COMMITTEE_ROLES = frozenset(
    {talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR, talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER}
)

#: Posts of the two committees (村两委): the structure targets, training coverage and
#: qualification reviews are about their holders.
TWO_COMMITTEE_ROLES = PARTY_ROLES | VILLAGE_COMMITTEE_ROLES | {talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER}

#: Posts whose holders are village cadres (村干部) subject to economic-responsibility audit.
CADRE_ROLES = TWO_COMMITTEE_ROLES

#: Posts whose holders may mentor a reserve candidate (培养联系人).
MENTOR_ROLES = TWO_COMMITTEE_ROLES | {talent_pb2.POST_ROLE_FIRST_SECRETARY}

#: Posts that need a passed qualification review (任职资格审查) before appointment.
REVIEWED_ROLES = TWO_COMMITTEE_ROLES

MAX_NAME = 50
MAX_NOTE = 500
EARLIEST_BIRTH = date(1900, 1, 1)
PARTY_MIN_AGE = 18
_PHONE = re.compile(r"\+?[0-9][0-9-]{5,18}[0-9]")


@dataclass(frozen=True)
class NewPerson:
    region_code: str
    name: str
    gender: talent_pb2.Gender.ValueType
    birth_date: date
    party_member: bool
    education: talent_pb2.Education.ValueType
    id_number: idnumbers.IdNumber | None = None
    party_join_date: date | None = None
    phone: str = ""


@dataclass(frozen=True)
class NewAppointment:
    person_id: str
    region_code: str
    role: talent_pb2.PostRole.ValueType
    method: talent_pb2.AppointmentMethod.ValueType
    start_date: date
    review_id: str = ""
    review_override_reason: str = ""


def _village(v: Validator, code: str, field: str = "region_code") -> None:
    problem = code_problem(code)
    if problem:
        v.add(field, problem)
    elif not is_village_code(code):
        v.add(field, "must be a village code: township and village digits set")


def years_between(born: date, day: date) -> int:
    """Full years of age on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def mask_phone(phone: str) -> str:
    """>>> mask_phone("13812345678")
    '138****5678'
    """
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def check_new_person(req: talent_pb2.RegisterPersonRequest, today: date) -> NewPerson:
    """Validate a registration; every wrong field is named in one error.

    With an ID number, gender and birth date may be omitted (they are derived)
    and, when given, must agree with the number.
    """
    v = Validator()
    _village(v, req.region_code)
    name = req.name.strip()
    v.require("name", name)
    v.check(len(name) <= MAX_NAME, "name", f"must be at most {MAX_NAME} characters")
    v.check(req.education in talent_pb2.Education.values(), "education", "is not a known level")
    number: idnumbers.IdNumber | None = None
    if req.id_number.strip():
        try:
            number = idnumbers.parse(req.id_number, today)
        except idnumbers.IdNumberError as exc:
            v.add("id_number", str(exc))
    gender = req.gender
    if number is not None and gender == talent_pb2.GENDER_UNSPECIFIED:
        gender = number.gender
    v.check(gender in (talent_pb2.GENDER_MALE, talent_pb2.GENDER_FEMALE), "gender",
            "must be GENDER_MALE or GENDER_FEMALE")
    if number is not None and gender != number.gender:
        v.add("gender", "does not agree with the ID number (its 17th digit: odd for men, even for women)")
    birth: date | None
    if number is not None and not req.birth_date:
        birth = number.birth_date
    else:
        birth = v.date_field("birth_date", req.birth_date)
        if birth is not None:
            v.check(EARLIEST_BIRTH <= birth <= today, "birth_date",
                    "must lie between 1900-01-01 and today")
            if number is not None and birth != number.birth_date:
                v.add("birth_date", "does not agree with the birth date in the ID number")
    joined = v.date_field("party_join_date", req.party_join_date, required=False)
    if joined is not None:
        if not req.party_member:
            v.add("party_join_date", "is only for party members (party_member is false)")
        elif joined > today:
            v.add("party_join_date", "must not be in the future")
        elif birth is not None and years_between(birth, joined) < PARTY_MIN_AGE:
            v.add("party_join_date", f"is before the person turned {PARTY_MIN_AGE}")
    phone = unicodedata.normalize("NFKC", req.phone).strip().replace(" ", "")
    if phone and not _PHONE.fullmatch(phone):
        v.add("phone", "must be a phone number: 7 to 20 digits, optionally with + and -")
    v.raise_if_any()
    assert birth is not None
    return NewPerson(req.region_code, name, gender, birth, req.party_member, req.education,
                     number, joined, phone)


#: Person fields UpdatePerson changes (人员信息维护), by their update_mask path, in the
#: order of the Person message. The column of each is the same name (phone: its cipher
#: and masked form).
EDITABLE_PERSON_FIELDS = (
    "name", "gender", "birth_date", "party_member", "education", "party_join_date", "phone",
)
_PERSON_FIELDS = frozenset(talent_pb2.Person.DESCRIPTOR.fields_by_name)


@dataclass(frozen=True)
class PersonUpdate:
    """A checked change of a person: the record after it, and the fields it alters."""

    person: NewPerson
    #: Editable fields whose value differs from the record's, in EDITABLE_PERSON_FIELDS order.
    changed: tuple[str, ...]


def check_update_mask(paths: Sequence[str]) -> tuple[str, ...]:
    """The editable fields an update_mask names, once each; any other path is refused.

    >>> check_update_mask(["phone", "name", "phone"])
    ('name', 'phone')
    """
    v = Validator()
    if not paths:
        v.add("update_mask", "is required: name the fields to change, e.g. \"name\" or \"phone\"")
    for path in paths:
        if path in EDITABLE_PERSON_FIELDS:
            continue
        if path == "id_number":
            v.add("update_mask", "\"id_number\" cannot be changed: the resident ID number "
                                 "(公民身份号码) is the person's identity")
        elif path in _PERSON_FIELDS:
            v.add("update_mask", f"{path!r} cannot be changed; editable fields: "
                                 + ", ".join(EDITABLE_PERSON_FIELDS))
        else:
            v.add("update_mask", f"{path!r} is not a field of Person (paths are snake_case "
                                 "field names, e.g. \"party_join_date\")")
    v.raise_if_any()
    return tuple(f for f in EDITABLE_PERSON_FIELDS if f in paths)


def as_registration(person: NewPerson) -> talent_pb2.RegisterPersonRequest:
    """A recorded person as the registration that would record them as they are."""
    return talent_pb2.RegisterPersonRequest(
        region_code=person.region_code, name=person.name, gender=person.gender,
        birth_date=format_date(person.birth_date), party_member=person.party_member,
        education=person.education, id_number=person.id_number.value if person.id_number else "",
        party_join_date=format_date(person.party_join_date), phone=person.phone,
    )


def check_person_update(req: talent_pb2.UpdatePersonRequest, current: NewPerson,
                        today: date) -> PersonUpdate:
    """Validate an update against the recorded person; every wrong field is named in one error.

    The record with the named fields replaced must pass the registration's checks
    (``check_new_person``), so a change is held to the same rules as a registration and
    fields that depend on each other (party membership and the date joined, birth date
    and the date joined, the ID number and gender or birth date) stay consistent. The
    ID number is the recorded one: never taken from the request.
    """
    paths = check_update_mask(req.update_mask.paths)
    merged = as_registration(current)
    for path in paths:
        setattr(merged, path, getattr(req.person, path))
    try:
        after = check_new_person(merged, today)
    except InvalidArgument as exc:
        raise InvalidArgument([
            FieldViolation(f"person.{v.field}", v.description if v.field in paths
                           or v.field not in EDITABLE_PERSON_FIELDS else
                           f"{v.description} (the recorded value: name {v.field} in "
                           "update_mask to change it)")
            for v in exc.violations
        ]) from None
    changed = tuple(f for f in paths if getattr(after, f) != getattr(current, f))
    return PersonUpdate(after, changed)


def check_new_appointment(req: talent_pb2.AppointPersonRequest) -> NewAppointment:
    v = Validator()
    v.require("person_id", req.person_id)
    _village(v, req.region_code)
    v.check(req.role in talent_pb2.PostRole.values() and req.role != 0, "role",
            "is required: one of the PostRole values")
    v.check(req.method in talent_pb2.AppointmentMethod.values() and req.method != 0, "method",
            "is required: one of the AppointmentMethod values")
    start = v.date_field("start_date", req.start_date)
    if req.review_id:
        from shanzhi_kit.values import valid_uuid

        v.check(valid_uuid(req.review_id), "review_id", "is not a valid id (UUID)")
    v.check(len(req.review_override_reason) <= MAX_NOTE, "review_override_reason",
            f"must be at most {MAX_NOTE} characters")
    v.raise_if_any()
    assert start is not None
    return NewAppointment(req.person_id.lower(), req.region_code, req.role, req.method, start,
                          req.review_id.lower(), req.review_override_reason.strip())


def check_can_hold(
    role: talent_pb2.PostRole.ValueType, region_code: str, active_holder_ids: list[str], person_id: str
) -> None:
    """A single-holder post must be free; nobody holds the same post twice at once."""
    if person_id in active_holder_ids:
        raise FailedPrecondition(
            f"the person already holds {PostRole.Name(role)} in village {region_code}"
        )
    if role in SINGLE_HOLDER_ROLES and active_holder_ids:
        raise FailedPrecondition(
            f"{PostRole.Name(role)} of village {region_code} is held by someone else; "
            "end that term first"
        )


def check_after_previous_terms(role: talent_pb2.PostRole.ValueType, region_code: str,
                               start: date, last_end: date | None) -> None:
    """A single-holder post's new term starts after the previous term's last day."""
    if role in SINGLE_HOLDER_ROLES and last_end is not None and start <= last_end:
        raise FailedPrecondition(
            f"{PostRole.Name(role)} of village {region_code} was held until {last_end.isoformat()}; "
            "the new term must start after that day"
        )


def check_review_allows(
    role: talent_pb2.PostRole.ValueType,
    review_result: talent_pb2.ReviewResult.ValueType | None,
    override_reason: str,
    allow_override: bool,
) -> str:
    """Whether an appointment may go ahead on its review; returns the override reason kept.

    Two-committee posts need a passed review (任职资格审查). Without one, the
    appointment is refused unless the county's rules allow it and a reason is given.
    """
    if role not in REVIEWED_ROLES or review_result == talent_pb2.REVIEW_RESULT_PASSED:
        return ""
    state = ("no qualification review" if review_result is None else
             f"the qualification review is {talent_pb2.ReviewResult.Name(review_result)}")
    if not allow_override:
        raise FailedPrecondition(
            f"{PostRole.Name(role)} needs a passed qualification review (任职资格审查); {state}"
        )
    if not override_reason:
        raise FailedPrecondition(
            f"{state}: the county allows the appointment only with review_override_reason"
        )
    return override_reason


@dataclass(frozen=True)
class PostEnd:
    end_date: date
    reason: talent_pb2.PostEndReason.ValueType
    note: str


def check_post_end(req: talent_pb2.EndPostRequest, today: date) -> PostEnd:
    v = Validator()
    v.require("post_id", req.post_id)
    end = v.date_field("end_date", req.end_date)
    if end is not None:
        v.check(end <= today, "end_date", "must not be in the future")
    v.check(req.reason in talent_pb2.PostEndReason.values() and req.reason != 0, "reason",
            "is required: one of the PostEndReason values")
    note = req.note.strip()
    if req.reason == talent_pb2.POST_END_REASON_OTHER:
        v.require("note", note)
    v.check(len(note) <= MAX_NOTE, "note", f"must be at most {MAX_NOTE} characters")
    v.raise_if_any()
    assert end is not None
    return PostEnd(end, req.reason, note)


def check_can_end(post_start: date, post_end: date | None, end: PostEnd) -> None:
    if post_end is not None:
        raise FailedPrecondition(f"the term already ended on {post_end.isoformat()}")
    if end.end_date < post_start:
        raise FailedPrecondition(
            f"the term started on {post_start.isoformat()}; it cannot end before that day"
        )


@dataclass(frozen=True)
class Term:
    """A term as the derivations need it."""

    region_code: str
    role: int
    start_date: date
    end_date: date | None

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


def concurrent_posts(terms: Iterable[Term], day: date) -> list[talent_pb2.ConcurrentPosts]:
    """The posts held on ``day``, per village, with one-shoulder and cross-post status.

    One shoulder (一肩挑): the party-organisation secretary is also the committee
    director. Cross posts (交叉任职): a party-organisation post and a villagers'
    committee post at once (one shoulder is the top case of it). A
    two-committee post with its committee unspecified counts for neither side.
    """
    by_village: dict[str, set[int]] = {}
    for t in terms:
        if t.active_on(day):
            by_village.setdefault(t.region_code, set()).add(t.role)
    out = []
    for code in sorted(by_village):
        roles = by_village[code]
        out.append(talent_pb2.ConcurrentPosts(
            region_code=code,
            roles=sorted(roles),  # type: ignore[arg-type]
            one_shoulder=is_one_shoulder(roles),
            cross_posts=is_cross_posts(roles),
        ))
    return out


def is_one_shoulder(roles: set[int] | frozenset[int]) -> bool:
    return talent_pb2.POST_ROLE_PARTY_SECRETARY in roles and talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR in roles


def is_cross_posts(roles: set[int] | frozenset[int]) -> bool:
    return bool(roles & PARTY_ROLES) and bool(roles & VILLAGE_COMMITTEE_ROLES)


def check_filing(req: talent_pb2.FilePostRequest, today: date) -> tuple[date, str]:
    v = Validator()
    v.require("post_id", req.post_id)
    filed = v.date_field("filing_date", req.filing_date)
    if filed is not None:
        v.check(filed <= today, "filing_date", "must not be in the future")
    reference = req.filing_reference.strip()
    v.require("filing_reference", reference)
    v.check(len(reference) <= 100, "filing_reference", "must be at most 100 characters")
    v.raise_if_any()
    assert filed is not None
    return filed, reference
