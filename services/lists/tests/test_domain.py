"""Unit tests of the five lists domain rules: no I/O."""

from __future__ import annotations

import pytest
from shanzhi.lists.v1 import lists_pb2
from shanzhi_kit.errors import InvalidArgument
from shanzhi_lists import domain


def item(**kw: object) -> lists_pb2.CreateListItemRequest:
    base = dict(request_id="r", region_code="130123101201", kind=lists_pb2.LIST_KIND_PUBLIC_SERVICE,
                code="FW-001", title="低保申请帮办", legal_basis="《社会救助暂行办法》",
                responsible_body="村便民服务站", steps=["受理", "审核", "上报"], time_limit_days=7,
                supervisor="乡镇民政办")
    base.update(kw)
    return lists_pb2.CreateListItemRequest(**base)  # type: ignore[arg-type]


def fields(exc: InvalidArgument) -> set[str]:
    return {v.field for v in exc.violations}


def test_valid_item_is_accepted_and_trimmed() -> None:
    new = domain.check_new_item(item(code=" FW-002 ", title=" 代办 ", steps=[" 受理 ", "办结"]))
    assert (new.code, new.title, new.steps) == ("FW-002", "代办", ("受理", "办结"))
    assert new.kind == lists_pb2.LIST_KIND_PUBLIC_SERVICE and new.time_limit_days == 7


@pytest.mark.parametrize("region", ["130123000000", "130123101000", "130123101201"])
def test_county_township_and_village_may_own_items(region: str) -> None:
    assert domain.check_new_item(item(region_code=region)).region_code == region


def test_optional_fields_may_be_empty() -> None:
    new = domain.check_new_item(item(legal_basis="", responsible_body="", steps=[],
                                     time_limit_days=0, supervisor=""))
    assert new.steps == () and new.time_limit_days == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region_code": ""}, "region_code"),
        ({"region_code": "1301231012"}, "region_code"),
        ({"region_code": "13012310120X"}, "region_code"),
        ({"region_code": "000000000000"}, "region_code"),
        ({"region_code": "130123000201"}, "region_code"),
        ({"kind": lists_pb2.LIST_KIND_UNSPECIFIED}, "kind"),
        ({"kind": 99}, "kind"),
        ({"code": ""}, "code"),
        ({"code": "FW 001"}, "code"),
        ({"code": "FW_001"}, "code"),
        ({"code": "服务-1"}, "code"),
        ({"code": "A" * 41}, "code"),
        ({"title": ""}, "title"),
        ({"title": "题" * 201}, "title"),
        ({"legal_basis": "依" * 1001}, "legal_basis"),
        ({"responsible_body": "责" * 101}, "responsible_body"),
        ({"supervisor": "监" * 101}, "supervisor"),
        ({"steps": ["受理", "  ", "办结"]}, "steps[1]"),
        ({"steps": ["步" * 201]}, "steps[0]"),
        ({"steps": [f"第{i}步" for i in range(51)]}, "steps"),
        ({"time_limit_days": -1}, "time_limit_days"),
        ({"time_limit_days": 3651}, "time_limit_days"),
    ],
)
def test_invalid_item_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_item(item(**change))
    assert fields(err.value) == {field}


def test_limits_are_inclusive() -> None:
    new = domain.check_new_item(item(code="A" * 40, title="题" * 200, time_limit_days=3650,
                                     steps=[f"第{i}步" for i in range(50)]))
    assert len(new.steps) == 50


def test_every_wrong_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_item(item(region_code="x", kind=0, code="", title="", steps=["", "ok", ""],
                                   time_limit_days=-5))
    assert fields(err.value) == {"region_code", "kind", "code", "title", "steps[0]", "steps[2]",
                                 "time_limit_days"}


def test_kind_filter_is_optional_but_must_be_known() -> None:
    assert domain.check_kind_filter(lists_pb2.LIST_KIND_UNSPECIFIED) is None
    assert domain.check_kind_filter(lists_pb2.LIST_KIND_NEGATIVE) == lists_pb2.LIST_KIND_NEGATIVE
    with pytest.raises(InvalidArgument) as err:
        domain.check_kind_filter(42)  # type: ignore[arg-type]
    assert fields(err.value) == {"kind"}
