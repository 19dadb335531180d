"""Talent domain rules (人才/干部). Pure: no I/O.

Validation of people and appointments, and which posts admit only one holder
at a time in a village.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.errors import FailedPrecondition, Validator
from shanzhi_kit.regions import code_problem, is_village_code

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

#: Posts whose holders are village cadres (村干部) subject to economic-responsibility audit.
CADRE_ROLES = frozenset(
    {
        talent_pb2.POST_ROLE_PARTY_SECRETARY,
        talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR,
        talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER,
    }
)

MAX_NAME = 50
EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class NewPerson:
    region_code: str
    name: str
    gender: talent_pb2.Gender.ValueType
    birth_date: date
    party_member: bool
    education: talent_pb2.Education.ValueType


@dataclass(frozen=True)
class NewAppointment:
    person_id: str
    region_code: str
    role: talent_pb2.PostRole.ValueType
    method: talent_pb2.AppointmentMethod.ValueType
    start_date: date


def _village(v: Validator, code: str, field: str = "region_code") -> None:
    problem = code_problem(code)
    if problem:
        v.add(field, problem)
    elif not is_village_code(code):
        v.add(field, "must be a village code: township and village digits set")


def check_new_person(req: talent_pb2.RegisterPersonRequest, today: date) -> NewPerson:
    """Validate a registration; every wrong field is named in one error."""
    v = Validator()
    _village(v, req.region_code)
    name = req.name.strip()
    v.require("name", name)
    v.check(len(name) <= MAX_NAME, "name", f"must be at most {MAX_NAME} characters")
    v.check(req.gender in (talent_pb2.GENDER_MALE, talent_pb2.GENDER_FEMALE), "gender",
            "must be GENDER_MALE or GENDER_FEMALE")
    v.check(req.education in talent_pb2.Education.values(), "education", "is not a known level")
    birth = v.date_field("birth_date", req.birth_date)
    if birth is not None:
        v.check(EARLIEST_BIRTH <= birth <= today, "birth_date", "must lie between 1900-01-01 and today")
    v.raise_if_any()
    assert birth is not None
    return NewPerson(req.region_code, name, req.gender, birth, req.party_member, req.education)


def check_new_appointment(req: talent_pb2.AppointPersonRequest) -> NewAppointment:
    v = Validator()
    v.require("person_id", req.person_id)
    _village(v, req.region_code)
    v.check(req.role in talent_pb2.PostRole.values() and req.role != 0, "role",
            "is required: one of the PostRole values")
    v.check(req.method in talent_pb2.AppointmentMethod.values() and req.method != 0, "method",
            "is required: one of the AppointmentMethod values")
    start = v.date_field("start_date", req.start_date)
    v.raise_if_any()
    assert start is not None
    return NewAppointment(req.person_id.lower(), req.region_code, req.role, req.method, start)


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
