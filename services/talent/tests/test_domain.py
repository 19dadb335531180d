"""Unit tests of the talent domain rules: no I/O."""

from __future__ import annotations

from datetime import date

import pytest
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.errors import FailedPrecondition, InvalidArgument
from shanzhi_talent import domain

TODAY = date(2026, 11, 22)


def person(**kw: object) -> talent_pb2.RegisterPersonRequest:
    base = dict(request_id="r", region_code="130123101201", name="张三",
                gender=talent_pb2.GENDER_MALE, birth_date="1980-05-01")
    base.update(kw)
    return talent_pb2.RegisterPersonRequest(**base)  # type: ignore[arg-type]


def fields(exc: InvalidArgument) -> set[str]:
    return {v.field for v in exc.violations}


def test_valid_person_is_accepted() -> None:
    new = domain.check_new_person(person(name="  李四 "), TODAY)
    assert new.name == "李四"
    assert new.birth_date == date(1980, 5, 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"region_code": "13012310120"}, "region_code"),
        ({"region_code": "130123000000"}, "region_code"),
        ({"gender": 0}, "gender"),
        ({"birth_date": "1980-02-30"}, "birth_date"),
        ({"birth_date": "2030-01-01"}, "birth_date"),
        ({"birth_date": ""}, "birth_date"),
    ],
)
def test_invalid_person_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_person(person(**change), TODAY)
    assert fields(err.value) == {field}


def test_every_wrong_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_person(person(name="", gender=0, birth_date="x"), TODAY)
    assert fields(err.value) == {"name", "gender", "birth_date"}


def test_appointment_requires_role_method_and_date() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_appointment(talent_pb2.AppointPersonRequest(person_id="p",
                                                                     region_code="130123101201"))
    assert fields(err.value) == {"role", "method", "start_date"}


def test_single_holder_post_must_be_free() -> None:
    secretary = talent_pb2.POST_ROLE_PARTY_SECRETARY
    domain.check_can_hold(secretary, "130123101201", [], "a")
    with pytest.raises(FailedPrecondition, match="held by someone else"):
        domain.check_can_hold(secretary, "130123101201", ["b"], "a")


def test_representatives_may_be_many_but_not_twice_the_same_person() -> None:
    rep = talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE
    domain.check_can_hold(rep, "130123101201", ["b", "c"], "a")
    with pytest.raises(FailedPrecondition, match="already holds"):
        domain.check_can_hold(rep, "130123101201", ["a"], "a")


def test_consecutive_periods_follow_their_own_cycle() -> None:
    from shanzhi_talent import career

    p = talent_pb2
    bad, ok = p.ASSESSMENT_GRADE_INCOMPETENT, p.ASSESSMENT_GRADE_COMPETENT
    h1, h2, year = p.ASSESSMENT_PERIOD_FIRST_HALF, p.ASSESSMENT_PERIOD_SECOND_HALF, p.ASSESSMENT_PERIOD_ANNUAL
    assert career.previous_period(2026, h1) == (2025, h2)
    assert career.previous_period(2026, h2) == (2026, h1)
    assert career.previous_period(2026, year) == (2025, year)
    assert career.removal_pair(("b", 2026, h1, bad), [("a", 2025, h2, bad)]) == ["a", "b"]
    assert career.removal_pair(("a", 2025, h2, bad), [("b", 2026, h1, bad)]) == ["a", "b"]  # late
    assert career.removal_pair(("b", 2026, h1, bad), [("a", 2025, h2, ok)]) is None
    assert career.removal_pair(("b", 2026, h1, ok), [("a", 2025, h2, bad)]) is None
    assert career.removal_pair(("b", 2026, h1, bad), [("a", 2025, h1, bad)]) is None  # a year apart


def test_review_result_needs_every_required_check_passed() -> None:
    from shanzhi_talent import rules

    passed, failed, pending = (talent_pb2.REVIEW_RESULT_PASSED, talent_pb2.REVIEW_RESULT_FAILED,
                               talent_pb2.REVIEW_RESULT_PENDING)
    system = {k: passed for k in rules.SYSTEM_CHECKS}
    assert rules.review_result([3, 4], {**system, 3: passed}) == pending
    assert rules.review_result([3, 4], {**system, 3: passed, 4: passed}) == passed
    assert rules.review_result([3, 4], {**system, 3: passed, 4: passed, 7: failed}) == failed
    assert rules.review_result([], {1: failed, 2: passed}) == failed


def test_reserve_candidates_move_one_step_at_a_time_or_exit() -> None:
    from shanzhi_talent import career

    def move(current: int, to: int, reason: str = "") -> str:
        return career.check_status_change(current, talent_pb2.ChangeReserveStatusRequest(
            status=to, reason=reason))  # type: ignore[arg-type]

    s = talent_pb2
    assert move(s.RESERVE_STATUS_IDENTIFIED, s.RESERVE_STATUS_IN_TRAINING) == ""
    assert move(s.RESERVE_STATUS_IN_TRAINING, s.RESERVE_STATUS_EXITED, "迁出") == "迁出"
    with pytest.raises(FailedPrecondition):
        move(s.RESERVE_STATUS_IDENTIFIED, s.RESERVE_STATUS_QUALIFIED)
    with pytest.raises(FailedPrecondition):
        move(s.RESERVE_STATUS_EXITED, s.RESERVE_STATUS_IDENTIFIED)
    with pytest.raises(InvalidArgument):
        move(s.RESERVE_STATUS_QUALIFIED, s.RESERVE_STATUS_EXITED)


def test_concurrent_posts_by_date() -> None:
    from datetime import date as d

    s = talent_pb2
    terms = [domain.Term("130123101201", s.POST_ROLE_PARTY_SECRETARY, d(2021, 1, 1), None),
             domain.Term("130123101201", s.POST_ROLE_COMMITTEE_DIRECTOR, d(2022, 1, 1), d(2024, 12, 31)),
             domain.Term("130123101202", s.POST_ROLE_GRID_WORKER, d(2020, 1, 1), None)]
    [only] = [c for c in domain.concurrent_posts(terms, d(2021, 6, 1)) if c.region_code.endswith("201")]
    assert not only.one_shoulder
    both = domain.concurrent_posts(terms, d(2024, 12, 31))[0]
    assert both.one_shoulder and both.cross_posts
    assert not domain.concurrent_posts(terms, d(2025, 1, 1))[0].one_shoulder


def recorded(**kw: object) -> domain.NewPerson:
    base: dict[str, object] = dict(
        region_code="130123101201", name="张三", gender=talent_pb2.GENDER_MALE,
        birth_date=date(1980, 5, 1), party_member=True, education=talent_pb2.EDUCATION_BACHELOR,
        party_join_date=date(2005, 7, 1), phone="13812345678")
    base.update(kw)
    return domain.NewPerson(**base)  # type: ignore[arg-type]


def update(*paths: str, **person: object) -> talent_pb2.UpdatePersonRequest:
    req = talent_pb2.UpdatePersonRequest(request_id="r", person=talent_pb2.Person(**person))  # type: ignore[arg-type]
    req.update_mask.paths.extend(paths)
    return req


def test_an_update_changes_only_the_named_fields_and_says_which_changed() -> None:
    change = domain.check_person_update(
        update("name", "phone", "education", name=" 张山 ", phone="138 1234 5678", gender=2,
               birth_date="1999-09-09", education=talent_pb2.EDUCATION_BACHELOR), recorded(), TODAY)
    # Gender and birth date were not named; the phone is the same once normalised.
    assert change.changed == ("name",)
    assert change.person == recorded(name="张山")


def test_a_phone_typed_in_full_width_digits_is_the_same_phone() -> None:
    change = domain.check_person_update(update("phone", phone="１３８ １２３４ ５６７８"), recorded(), TODAY)
    assert change.changed == ()
    assert change.person.phone == "13812345678"


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        ((), "is required"),
        (("id_number",), "identity"),
        (("region_code",), "cannot be changed"),
        (("create_time",), "cannot be changed"),
        (("updated_by",), "cannot be changed"),
        (("birthDate",), "not a field of Person"),
        (("nickname",), "not a field of Person"),
        (("name", "name.first"), "not a field of Person"),
    ],
)
def test_the_mask_names_editable_fields_only(paths: tuple[str, ...], problem: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_person_update(update(*paths, name="李四"), recorded(), TODAY)
    assert fields(err.value) == {"update_mask"}
    assert problem in err.value.violations[0].description


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (update("name", name=""), "person.name"),
        (update("phone", phone="call me"), "person.phone"),
        (update("phone", phone="\u0661\u0663812345678"), "person.phone"),  # Arabic-Indic digits
        (update("party_join_date", party_join_date="2027-01-01"), "person.party_join_date"),
        (update("party_join_date", party_join_date="1995-01-01"), "person.party_join_date"),  # age 14
        (update("birth_date", birth_date="1990-01-01"), "person.party_join_date"),  # joined at 15
        (update("party_member", party_member=False), "person.party_join_date"),
        (update("gender", gender=0), "person.gender"),
        (update("education", education=99), "person.education"),
    ],
)
def test_an_update_is_held_to_the_registration_rules(req: talent_pb2.UpdatePersonRequest,
                                                     field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_person_update(req, recorded(), TODAY)
    assert fields(err.value) == {field}


def test_a_recorded_value_in_the_way_is_named_with_how_to_change_it() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_person_update(update("party_member", party_member=False), recorded(), TODAY)
    assert "name party_join_date in update_mask" in err.value.violations[0].description
    change = domain.check_person_update(update("party_member", "party_join_date", party_member=False),
                                        recorded(), TODAY)
    assert change.changed == ("party_member", "party_join_date")
    assert change.person.party_join_date is None and not change.person.party_member


def test_with_an_id_number_gender_and_birth_date_must_keep_agreeing_with_it() -> None:
    from shanzhi_talent import idnumbers

    first17 = "13012319800501135"
    number = idnumbers.parse(first17 + idnumbers.check_character(first17), TODAY)
    person = recorded(id_number=number)
    for req, field in ((update("gender", gender=talent_pb2.GENDER_FEMALE), "person.gender"),
                       (update("birth_date", birth_date="1980-05-02"), "person.birth_date")):
        with pytest.raises(InvalidArgument) as err:
            domain.check_person_update(req, person, TODAY)
        assert fields(err.value) == {field}
        assert number.value not in str(err.value)
    # Cleared, they are derived from the number again; the number itself stays.
    change = domain.check_person_update(update("birth_date", "gender"), person, TODAY)
    assert change.changed == () and change.person.id_number == number
