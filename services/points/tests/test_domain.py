"""Unit tests of the points domain rules: no I/O."""

from __future__ import annotations

import pytest
from shanzhi.points.v1 import points_pb2
from shanzhi_kit.errors import InvalidArgument
from shanzhi_points import domain


def household(**kw: object) -> points_pb2.CreateHouseholdRequest:
    base = dict(request_id="r", region_code="130123101201", household_number="0101",
                head_name="张三", member_count=4, villager_group="第三组")
    base.update(kw)
    return points_pb2.CreateHouseholdRequest(**base)  # type: ignore[arg-type]


def fields(exc: InvalidArgument) -> set[str]:
    return {v.field for v in exc.violations}


def test_valid_household_is_accepted_and_trimmed() -> None:
    new = domain.check_new_household(household(household_number=" 0102 ", head_name=" 李四 ",
                                               villager_group=" 第一组 "))
    assert (new.household_number, new.head_name, new.villager_group) == ("0102", "李四", "第一组")
    assert new.region_code == "130123101201" and new.member_count == 4


def test_villager_group_is_optional() -> None:
    assert domain.check_new_household(household(villager_group="")).villager_group == ""


@pytest.mark.parametrize("members", [1, 99])
def test_member_count_bounds_are_inclusive(members: int) -> None:
    assert domain.check_new_household(household(member_count=members)).member_count == members


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region_code": ""}, "region_code"),
        ({"region_code": "13012310120"}, "region_code"),
        ({"region_code": "13012310120X"}, "region_code"),
        ({"region_code": "130123000000"}, "region_code"),
        ({"region_code": "130123101000"}, "region_code"),
        ({"region_code": "000000101201"}, "region_code"),
        ({"household_number": ""}, "household_number"),
        ({"household_number": "   "}, "household_number"),
        ({"household_number": "1" * 31}, "household_number"),
        ({"head_name": ""}, "head_name"),
        ({"head_name": "张" * 51}, "head_name"),
        ({"member_count": 0}, "member_count"),
        ({"member_count": -1}, "member_count"),
        ({"member_count": 100}, "member_count"),
        ({"villager_group": "组" * 31}, "villager_group"),
    ],
)
def test_invalid_household_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_household(household(**change))
    assert fields(err.value) == {field}


def test_limits_count_characters_not_bytes() -> None:
    new = domain.check_new_household(household(head_name="张" * 50, household_number="号" * 30))
    assert len(new.head_name) == 50


def test_every_wrong_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_household(household(region_code="x", household_number="", head_name="",
                                             member_count=0, villager_group="组" * 31))
    assert fields(err.value) == {"region_code", "household_number", "head_name", "member_count",
                                 "villager_group"}
