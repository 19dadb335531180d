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
