"""Points domain rules (积分制). Pure: no I/O.

For now: validation of a household (农户) joining a village's roster (一户一档).
"""

from __future__ import annotations

from dataclasses import dataclass

from shanzhi.points.v1 import points_pb2
from shanzhi_kit.errors import Validator
from shanzhi_kit.regions import code_problem, is_village_code

#: Longest household number (户号).
MAX_HOUSEHOLD_NUMBER = 30
#: Longest name of the head of household (户主姓名).
MAX_HEAD_NAME = 50
#: Longest villager group (村民小组) name.
MAX_VILLAGER_GROUP = 30
#: Bounds of the number of household members (家庭人口).
MIN_MEMBERS, MAX_MEMBERS = 1, 99


@dataclass(frozen=True)
class NewHousehold:
    """A validated household (农户) about to join a village's roster (一户一档)."""

    region_code: str
    household_number: str
    head_name: str
    member_count: int
    villager_group: str


def _village(v: Validator, code: str, field: str = "region_code") -> None:
    problem = code_problem(code)
    if problem:
        v.add(field, problem)
    elif not is_village_code(code):
        v.add(field, "must be a village code: township and village digits set")


def _text(v: Validator, field: str, value: str, limit: int, *, required: bool) -> str:
    value = value.strip()
    if required:
        v.require(field, value)
    v.check(len(value) <= limit, field, f"must be at most {limit} characters")
    return value


def check_new_household(req: points_pb2.CreateHouseholdRequest) -> NewHousehold:
    """Validate a new household (建档); every wrong field is named in one error."""
    v = Validator()
    _village(v, req.region_code)
    number = _text(v, "household_number", req.household_number, MAX_HOUSEHOLD_NUMBER, required=True)
    head = _text(v, "head_name", req.head_name, MAX_HEAD_NAME, required=True)
    v.check(MIN_MEMBERS <= req.member_count <= MAX_MEMBERS, "member_count",
            f"must be between {MIN_MEMBERS} and {MAX_MEMBERS}")
    group = _text(v, "villager_group", req.villager_group, MAX_VILLAGER_GROUP, required=False)
    v.raise_if_any()
    return NewHousehold(req.region_code, number, head, req.member_count, group)
