"""Unit tests of the audit domain rules: no I/O."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from shanzhi.audit.v1 import audit_pb2
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_audit import domain
from shanzhi_kit.errors import InvalidArgument

COUNTY = "130123000000"


def round_request(**kw: object) -> audit_pb2.CreateInspectionRoundRequest:
    base: dict[str, object] = dict(
        request_id="r", region_code=COUNTY, name="2026年第一轮巡察",
        kind=audit_pb2.INSPECTION_KIND_POLITICAL,
        target_region_codes=["130123101201", "130123102203"],
        start_date="2026-03-01", end_date="2026-04-30", team_leader="刘组长",
    )
    base.update(kw)
    return audit_pb2.CreateInspectionRoundRequest(**base)  # type: ignore[arg-type]


def fields(exc: InvalidArgument) -> set[str]:
    return {v.field for v in exc.violations}


# -- inspection rounds ---------------------------------------------------------------


def test_valid_round_is_accepted() -> None:
    new = domain.check_new_round(round_request(name="  专项巡察 ", team_leader=" 刘组长 "))
    assert new.name == "专项巡察" and new.team_leader == "刘组长"
    assert new.target_region_codes == ("130123101201", "130123102203")
    assert (new.start_date, new.end_date) == (date(2026, 3, 1), date(2026, 4, 30))


def test_a_township_round_and_a_one_day_round_are_accepted() -> None:
    new = domain.check_new_round(round_request(
        region_code="130123101000", target_region_codes=["130123101201"],
        start_date="2026-05-05", end_date="2026-05-05", team_leader=""))
    assert new.region_code == "130123101000" and new.team_leader == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region_code": "13012300000"}, "region_code"),
        ({"region_code": "000000101201"}, "region_code"),
        ({"name": "  "}, "name"),
        ({"name": "巡" * 101}, "name"),
        ({"kind": 0}, "kind"),
        ({"kind": 42}, "kind"),
        ({"target_region_codes": []}, "target_region_codes"),
        ({"target_region_codes": ["130123101201", "13012310120X"]}, "target_region_codes[1]"),
        ({"target_region_codes": ["130123101000"]}, "target_region_codes[0]"),
        ({"target_region_codes": ["130124101201"]}, "target_region_codes[0]"),
        ({"target_region_codes": ["130123101201", "130123101201"]}, "target_region_codes[1]"),
        ({"start_date": ""}, "start_date"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"end_date": "2026/04/30"}, "end_date"),
        ({"end_date": "2026-02-28"}, "end_date"),
        ({"team_leader": "长" * 51}, "team_leader"),
    ],
)
def test_invalid_round_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_round(round_request(**change))
    assert fields(err.value) == {field}


def test_targets_must_lie_under_a_township_round() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_round(round_request(
            region_code="130123101000", target_region_codes=["130123101201", "130123102201"]))
    assert fields(err.value) == {"target_region_codes[1]"}
    assert "does not lie under" in err.value.violations[0].description


def test_every_wrong_field_of_a_round_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_round(audit_pb2.CreateInspectionRoundRequest(request_id="r"))
    assert fields(err.value) == {"region_code", "name", "kind", "target_region_codes",
                                 "start_date", "end_date"}


# -- audit schedule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (date(2026, 1, 5), date(2029, 1, 5)),
        (date(2025, 12, 31), date(2028, 12, 31)),
        (date(2024, 2, 29), date(2027, 2, 28)),
        (date(2025, 2, 28), date(2028, 2, 28)),
        (date(2027, 3, 1), date(2030, 3, 1)),
    ],
)
def test_in_office_audit_is_due_three_years_into_the_term(start: date, due: date) -> None:
    assert domain.in_office_audit_due(start) == due


def test_add_years_lands_on_29_february_when_it_exists() -> None:
    assert domain.add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert domain.add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)


def appointment(role: int = talent_pb2.POST_ROLE_PARTY_SECRETARY,
                **kw: object) -> talent_events.PersonAppointedEvent:
    base: dict[str, object] = dict(
        post_id=str(uuid.uuid4()), person_id=str(uuid.uuid4()), region_code="130123101201",
        role=role, start_date="2024-02-29", person_name="张书记",
    )
    base.update(kw)
    return talent_events.PersonAppointedEvent(**base)  # type: ignore[arg-type]


CADRES = [
    talent_pb2.POST_ROLE_PARTY_SECRETARY,
    talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR,
    talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER,
    talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER,
    talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER,
]


def test_the_cadre_roles_are_the_secretary_the_director_and_the_two_committee_members() -> None:
    assert set(domain.CADRE_ROLES) == set(CADRES)
    assert {talent_pb2.PostRole.Name(r) for r in domain.CADRE_ROLES} == {
        "POST_ROLE_PARTY_SECRETARY", "POST_ROLE_COMMITTEE_DIRECTOR",
        "POST_ROLE_TWO_COMMITTEE_MEMBER", "POST_ROLE_PARTY_COMMITTEE_MEMBER",
        "POST_ROLE_VILLAGE_COMMITTEE_MEMBER",
    }


@pytest.mark.parametrize(
    "role",
    [talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER, talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER],
)
def test_members_of_a_named_committee_are_cadres(role: int) -> None:
    assert domain.is_cadre_role(role)


@pytest.mark.parametrize(
    "role",
    [talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, talent_pb2.POST_ROLE_GRID_LEADER,
     talent_pb2.POST_ROLE_GRID_INSTRUCTOR, talent_pb2.POST_ROLE_GRID_WORKER,
     talent_pb2.POST_ROLE_FIRST_SECRETARY, talent_pb2.POST_ROLE_WORK_TEAM_MEMBER,
     talent_pb2.POST_ROLE_UNSPECIFIED],
)
def test_representatives_grid_staff_and_sent_cadres_are_not_audited(role: int) -> None:
    assert not domain.is_cadre_role(role)


@pytest.mark.parametrize("role", CADRES)
def test_cadre_appointments_schedule_an_in_office_audit(role: int) -> None:
    event = appointment(role)
    planned = domain.plan_for_appointment(event)
    assert planned is not None
    assert planned.kind == audit_pb2.AUDIT_KIND_IN_OFFICE
    assert planned.due_date == date(2027, 2, 28)
    assert planned.post_role == talent_pb2.PostRole.Name(role)
    assert (planned.post_id, planned.cadre_person_id) == (event.post_id, event.person_id)
    assert (planned.cadre_name, planned.region_code) == ("张书记", "130123101201")


@pytest.mark.parametrize(
    "role",
    [r for r in talent_pb2.PostRole.values() if r not in domain.CADRE_ROLES] + [99],
)
def test_other_posts_schedule_nothing(role: int) -> None:
    assert not domain.is_cadre_role(role)
    # Not scheduled, so not validated either: a non-cadre event is never refused.
    assert domain.plan_for_appointment(appointment(role, start_date="")) is None


def test_a_cadre_appointment_that_cannot_be_scheduled_names_the_fields() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.plan_for_appointment(appointment(post_id="", person_id="x", region_code="130123101000",
                                                start_date="2024-13-01"))
    assert fields(err.value) == {"post_id", "person_id", "region_code", "start_date"}


# -- leaving-office audit (离任审计) ---------------------------------------------------


@pytest.mark.parametrize(
    ("end", "due"),
    [
        (date(2026, 12, 31), date(2027, 3, 31)),
        (date(2026, 1, 1), date(2026, 4, 1)),
        (date(2027, 12, 1), date(2028, 2, 29)),  # a leap year's 29 February counts
        (date(2026, 12, 1), date(2027, 3, 1)),
        (date(2024, 2, 29), date(2024, 5, 29)),
    ],
)
def test_departure_audit_is_due_90_days_after_the_last_day(end: date, due: date) -> None:
    assert domain.departure_audit_due(end) == due
    assert (due - end).days == domain.DEPARTURE_AUDIT_DAYS == 90


def ended(role: int = talent_pb2.POST_ROLE_PARTY_SECRETARY,
          **kw: object) -> talent_events.PostEndedEvent:
    base: dict[str, object] = dict(
        post_id=str(uuid.uuid4()), person_id=str(uuid.uuid4()), region_code="130123101201",
        role=role, start_date="2021-01-05", end_date="2026-12-31",
        reason=talent_pb2.POST_END_REASON_TERM_EXPIRED, person_name="张书记",
    )
    base.update(kw)
    return talent_events.PostEndedEvent(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", CADRES)
def test_the_end_of_a_cadre_term_schedules_a_departure_audit(
    role: talent_pb2.PostRole.ValueType,
) -> None:
    event = ended(role)
    planned = domain.plan_for_departure(event)
    assert planned is not None
    assert (planned.kind, planned.due_date) == (audit_pb2.AUDIT_KIND_DEPARTURE, date(2027, 3, 31))
    assert planned.post_role == talent_pb2.PostRole.Name(role)
    assert (planned.post_id, planned.cadre_person_id) == (event.post_id, event.person_id)
    assert (planned.cadre_name, planned.region_code) == ("张书记", "130123101201")


@pytest.mark.parametrize("reason", [r for r in talent_pb2.PostEndReason.values()])
def test_every_reason_for_leaving_schedules_the_audit(reason: int) -> None:
    planned = domain.plan_for_departure(ended(reason=reason))
    assert planned is not None and planned.kind == audit_pb2.AUDIT_KIND_DEPARTURE


def test_ids_are_kept_in_lower_case_and_the_name_may_be_missing() -> None:
    event = ended(post_id=str(uuid.uuid4()).upper(), person_id=str(uuid.uuid4()).upper(),
                  person_name="  ")
    planned = domain.plan_for_departure(event)
    assert planned is not None
    assert (planned.post_id, planned.cadre_person_id, planned.cadre_name) == (
        event.post_id.lower(), event.person_id.lower(), "")


def test_a_one_day_term_and_a_missing_start_date_are_scheduled() -> None:
    one_day = domain.plan_for_departure(ended(start_date="2026-06-01", end_date="2026-06-01"))
    no_start = domain.plan_for_departure(ended(start_date=""))
    assert one_day is not None and one_day.due_date == date(2026, 8, 30)
    assert no_start is not None and no_start.due_date == date(2027, 3, 31)


@pytest.mark.parametrize(
    "role",
    [r for r in talent_pb2.PostRole.values() if r not in domain.CADRE_ROLES] + [99],
)
def test_the_end_of_another_post_schedules_nothing(role: int) -> None:
    # Not scheduled, so not validated either: a non-cadre event is never refused.
    assert domain.plan_for_departure(ended(role, end_date="", post_id="x")) is None


def test_an_end_of_term_that_cannot_be_scheduled_names_the_fields() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.plan_for_departure(ended(post_id="", person_id="x", region_code="130123101000",
                                        start_date="2021-13-01", end_date="",
                                        person_name="名" * 51))
    assert fields(err.value) == {"post_id", "person_id", "region_code", "start_date", "end_date",
                                 "person_name"}


def test_a_last_day_before_the_first_is_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.plan_for_departure(ended(start_date="2026-01-05", end_date="2026-01-04"))
    assert fields(err.value) == {"end_date"}
