"""Audit domain rules (巡察/审计). Pure: no I/O.

Validation of inspection rounds (巡察轮次), and which appointments and ends of term
put a cadre on the schedule of village economic-responsibility audits
(村级经济责任审计) and when: in office (任中审计) within three years of the term's
start, and on leaving office (离任审计) within 90 days of the term's last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shanzhi.audit.v1 import audit_pb2
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.errors import Validator
from shanzhi_kit.regions import code_problem, is_village_code, scope_prefix
from shanzhi_kit.values import valid_uuid

#: Posts whose holders are village cadres (村干部) subject to economic-responsibility
#: audit: party-branch secretary (村党组织书记), committee director (村委会主任) and
#: members of the two committees (村两委委员), whether the committee is named
#: (村党组织委员, 村委会委员) or not.
CADRE_ROLES = frozenset(
    {
        talent_pb2.POST_ROLE_PARTY_SECRETARY,
        talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR,
        talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER,
        talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER,
        talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER,
    }
)

#: An in-office audit (任中审计) falls due at the latest this many years into a term.
IN_OFFICE_AUDIT_YEARS = 3

#: A leaving-office audit (离任审计) falls due at the latest this many days after the
#: term's last day (离任后三个月内, counted as 90 days): long enough to close the
#: village's accounts and hand over (离任交接), short enough that the audit is done
#: while the records and the people are at hand.
DEPARTURE_AUDIT_DAYS = 90

#: The entry's author (留痕) when the schedule is fed by talent events.
SCHEDULED_BY = "system:talent-event"

MAX_ROUND_NAME = 100
MAX_TEAM_LEADER = 50
MAX_TARGETS = 1000
MAX_CADRE_NAME = 50


# -- inspection rounds (巡察轮次) --------------------------------------------------------


@dataclass(frozen=True)
class NewRound:
    """A validated request to open an inspection round (巡察轮次)."""

    region_code: str
    name: str
    kind: audit_pb2.InspectionKind.ValueType
    target_region_codes: tuple[str, ...]
    start_date: date
    end_date: date
    team_leader: str


def check_new_round(req: audit_pb2.CreateInspectionRoundRequest) -> NewRound:
    """Validate a new round; every wrong field is named in one error.

    The round's unit (``region_code``) may be a county, township or village code;
    every target village (巡察对象) must lie under it.
    """
    v = Validator()
    region_problem = code_problem(req.region_code)
    if region_problem:
        v.add("region_code", region_problem)
    name = req.name.strip()
    v.require("name", name)
    v.check(len(name) <= MAX_ROUND_NAME, "name", f"must be at most {MAX_ROUND_NAME} characters")
    v.check(req.kind in audit_pb2.InspectionKind.values() and req.kind != 0, "kind",
            "is required: one of the InspectionKind values")
    _check_targets(v, list(req.target_region_codes), None if region_problem else req.region_code)
    start = v.date_field("start_date", req.start_date)
    end = v.date_field("end_date", req.end_date)
    if start is not None and end is not None:
        v.check(end >= start, "end_date", "must not be before start_date")
    leader = req.team_leader.strip()
    v.check(len(leader) <= MAX_TEAM_LEADER, "team_leader",
            f"must be at most {MAX_TEAM_LEADER} characters")
    v.raise_if_any()
    assert start is not None and end is not None
    return NewRound(req.region_code, name, req.kind, tuple(req.target_region_codes),
                    start, end, leader)


def _check_targets(v: Validator, targets: list[str], region_code: str | None) -> None:
    field = "target_region_codes"
    if not targets:
        v.add(field, "at least one target village is required")
        return
    if len(targets) > MAX_TARGETS:
        v.add(field, f"at most {MAX_TARGETS} target villages per round")
        return
    under = scope_prefix(region_code) if region_code is not None else None
    seen: set[str] = set()
    for i, code in enumerate(targets):
        at = f"{field}[{i}]"
        problem = code_problem(code)
        if problem:
            v.add(at, problem)
        elif not is_village_code(code):
            v.add(at, "must be a village code: township and village digits set")
        elif under is not None and not code.startswith(under):
            v.add(at, f"village {code} does not lie under region_code {region_code}")
        elif code in seen:
            v.add(at, f"village {code} is listed more than once")
        seen.add(code)


# -- audit schedule (审计计划) ------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """The same month and day ``years`` later; 29 February becomes 28 February.

    >>> add_years(date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def in_office_audit_due(term_start: date) -> date:
    """Latest date of the in-office audit (任中审计) of a term that started on ``term_start``."""
    return add_years(term_start, IN_OFFICE_AUDIT_YEARS)


def departure_audit_due(term_end: date) -> date:
    """Latest date of the leaving-office audit (离任审计) of a term whose last day is ``term_end``.

    >>> departure_audit_due(date(2026, 12, 31))
    datetime.date(2027, 3, 31)
    """
    return term_end + timedelta(days=DEPARTURE_AUDIT_DAYS)


def is_cadre_role(role: int) -> bool:
    """Whether holders of ``role`` are village cadres (村干部) audited in office."""
    return role in CADRE_ROLES


@dataclass(frozen=True)
class PlannedAudit:
    """An audit a cadre is due (审计计划), derived from an appointment (任职) or an end of term (离任)."""

    cadre_person_id: str
    cadre_name: str
    region_code: str
    post_id: str
    post_role: str
    kind: audit_pb2.AuditKind.ValueType
    due_date: date


def plan_for_appointment(event: talent_events.PersonAppointedEvent) -> PlannedAudit | None:
    """The in-office audit (任中审计) an appointment makes due, or None for a non-cadre post.

    Raises InvalidArgument, naming every wrong field, when a cadre appointment
    cannot be scheduled (missing ids, a malformed village code or start date).
    """
    if not is_cadre_role(event.role):
        return None
    v = Validator()
    _check_post(v, event.post_id, event.person_id, event.region_code)
    start = v.date_field("start_date", event.start_date)
    name = _check_name(v, event.person_name)
    v.raise_if_any()
    assert start is not None
    return PlannedAudit(
        cadre_person_id=event.person_id.lower(),
        cadre_name=name,
        region_code=event.region_code,
        post_id=event.post_id.lower(),
        post_role=talent_pb2.PostRole.Name(event.role),
        kind=audit_pb2.AUDIT_KIND_IN_OFFICE,
        due_date=in_office_audit_due(start),
    )


def plan_for_departure(event: talent_events.PostEndedEvent) -> PlannedAudit | None:
    """The leaving-office audit (离任审计) an end of term makes due, or None for a non-cadre post.

    Every end of a cadre term schedules one, whatever the reason (任期届满, 辞职,
    罢免, 调离, 去世 …): the audit covers the village's economic affairs during the
    term, whoever can still answer for them. It is due
    :data:`DEPARTURE_AUDIT_DAYS` days after the term's last day. The event alone is
    enough: a post whose appointment this service never saw is scheduled all the same.
    ``cadre_name`` is the event's ``person_name`` and may be empty.

    The in-office entry (任中审计) of the same post is left as it is. One still due
    when the term ends is in effect overtaken by the leaving-office audit, which
    covers the whole term; it is kept, neither deleted nor changed, as the schedule
    keeps its history and has no status for an overtaken entry.

    Raises InvalidArgument, naming every wrong field, when a cadre's end of term
    cannot be scheduled (missing ids, a malformed village code or date, a last day
    before the first).
    """
    if not is_cadre_role(event.role):
        return None
    v = Validator()
    _check_post(v, event.post_id, event.person_id, event.region_code)
    start = v.date_field("start_date", event.start_date, required=False)
    end = v.date_field("end_date", event.end_date)
    if start is not None and end is not None:
        v.check(end >= start, "end_date", "must not be before start_date")
    name = _check_name(v, event.person_name)
    v.raise_if_any()
    assert end is not None
    return PlannedAudit(
        cadre_person_id=event.person_id.lower(),
        cadre_name=name,
        region_code=event.region_code,
        post_id=event.post_id.lower(),
        post_role=talent_pb2.PostRole.Name(event.role),
        kind=audit_pb2.AUDIT_KIND_DEPARTURE,
        due_date=departure_audit_due(end),
    )


def _check_post(v: Validator, post_id: str, person_id: str, region_code: str) -> None:
    for field, value in (("post_id", post_id), ("person_id", person_id)):
        if not value:
            v.add(field, "is required")
        elif not valid_uuid(value):
            v.add(field, "is not a valid id (UUID)")
    problem = code_problem(region_code)
    if problem:
        v.add("region_code", problem)
    elif not is_village_code(region_code):
        v.add("region_code", "must be a village code: township and village digits set")


def _check_name(v: Validator, person_name: str) -> str:
    name = person_name.strip()
    v.check(len(name) <= MAX_CADRE_NAME, "person_name",
            f"must be at most {MAX_CADRE_NAME} characters")
    return name
