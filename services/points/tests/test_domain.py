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


def test_events_of_one_transaction_are_whole_envelopes_sharing_time_actor_and_trace() -> None:
    from shanzhi.common.v1 import event_pb2
    from shanzhi.points.v1 import events_pb2
    from shanzhi_kit.auth import SYSTEM, reset_current_caller, set_current_caller
    from shanzhi_kit.events import Outbox
    from shanzhi_points.outbox import EventBuffer
    from shanzhi_points.tables import messaging

    token = set_current_caller(SYSTEM)
    try:
        buffer = EventBuffer(Outbox(messaging.outbox, source="shanzhi.points", topic="t"))
        for n in range(3):
            buffer.add(events_pb2.EntryPostedEvent(entry_id=f"e{n}", amount=n + 1),
                       subject=f"a{n}", region_code="130123101201")
        buffer.add(events_pb2.ClaimPostedEvent(claim_id="c", entry_id="e2"), subject="c",
                   region_code="130123101202")
    finally:
        reset_current_caller(token)
    rows = buffer.take()
    envelopes = [event_pb2.EventEnvelope.FromString(r["payload"]) for r in rows]
    first = envelopes[0]
    assert len({e.id for e in envelopes}) == 4 and [r["event_id"] for r in rows] == [e.id for e in envelopes]
    for env, row in zip(envelopes, rows, strict=True):
        assert (env.source, env.time, env.actor, env.traceparent) == (
            first.source, first.time, first.actor, first.traceparent)
        assert env.type == row["event_type"] and env.subject == row["key"]
    assert [e.type for e in envelopes] == ["shanzhi.points.v1.EntryPostedEvent"] * 3 + [
        "shanzhi.points.v1.ClaimPostedEvent"]
    posted = events_pb2.EntryPostedEvent()
    assert envelopes[2].data.Unpack(posted) and (posted.entry_id, posted.amount) == ("e2", 3)
    claim = events_pb2.ClaimPostedEvent()
    assert envelopes[3].data.Unpack(claim) and claim.claim_id == "c"
    assert envelopes[3].region_code == "130123101202"
