"""Bad input: each refusal is a clear gRPC error naming the field, and nothing is written."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, timedelta
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf import json_format
from shanzhi.common.v1.paging_pb2 import PageRequest
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_points.tables import (
    accounts,
    batches,
    claims,
    entries,
    goods,
    lots,
    messaging,
    redemptions,
)

pytestmark = pytest.mark.postgres

TABLES = (entries, lots, claims, accounts, goods, redemptions, batches, messaging.outbox,
          messaging.idempotency_keys)
INVALID = grpc.StatusCode.INVALID_ARGUMENT
REFUSED = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED


class Ground:
    """A village with an adopted scheme, a household with points, goods; another village."""

    village: str
    other: str
    scheme: P.Scheme
    other_scheme: P.Scheme
    home: P.Household
    stranger: P.Household
    soap: P.Goods


@pytest_asyncio.fixture(scope="module")
async def ground(pk: Any) -> Ground:
    g = Ground()
    g.village, g.other = pk.village(), pk.village()
    g.scheme = await pk.scheme(g.village, items=(
        *pk.DEFAULT_ITEMS, pk.item("QY-01", 2, effective_from="2025-03-01", effective_to="2025-03-31")))
    g.other_scheme = await pk.scheme(g.other)
    g.home = await pk.household(g.village)
    g.stranger = await pk.household(g.other)
    await pk.award(pk.ref(g.home), g.scheme.id, "HJ-01", quantity=2)
    await pk.award(pk.ref(g.home), g.scheme.id, "ZY-01", quantity=2)
    g.soap = await pk.goods(g.village, price=4, stock=3)
    return g


async def snapshot(pk: Any) -> list[int]:
    return [await pk.count(t) for t in TABLES]


def award(pk: Any, g: Ground, **change: Any) -> P.AwardPointsRequest:
    fields: dict[str, Any] = dict(request_id=pk.rid(), subject=pk.ref(g.home), scheme_id=g.scheme.id,
                                  item_code="HJ-01", occurred_on=pk.TODAY.isoformat(), quantity=1,
                                  reason="月度评议")
    fields.update(change)
    return P.AwardPointsRequest(**fields)


def other_household(kind: int = P.SUBJECT_KIND_HOUSEHOLD, subject_id: str = "") -> P.SubjectRef:
    return P.SubjectRef(kind=kind, id=subject_id or str(uuid.uuid4()))  # type: ignore[arg-type]


AWARD_CASES: list[tuple[str, dict[str, Any], grpc.StatusCode, str]] = [
    ("unknown subject", {"subject": other_household()}, INVALID, "subject.id"),
    ("malformed subject", {"subject": other_household(subject_id="not-an-id")}, INVALID, "subject.id"),
    ("no subject kind", {"subject": other_household(kind=0)}, INVALID, "subject.kind"),
    ("unknown item", {"item_code": "NOPE-9"}, INVALID, "item_code"),
    ("no item", {"item_code": ""}, INVALID, "item_code"),
    ("unknown scheme", {"scheme_id": str(uuid.uuid4())}, INVALID, "scheme_id"),
    ("item outside its dates", {"item_code": "QY-01"}, INVALID, "occurred_on"),
    ("in the future", {"occurred_on": (date(2025, 6, 19)).isoformat()}, INVALID, "occurred_on"),
    ("not a date", {"occurred_on": "2025-02-30"}, INVALID, "occurred_on"),
    ("outside the scheme year", {"occurred_on": "2024-12-31"}, INVALID, "occurred_on"),
    ("limit exceeded", {"item_code": "ZY-01"}, REFUSED, "item_code"),
    ("negative quantity", {"quantity": -3}, INVALID, "quantity"),
    ("too many", {"quantity": 1000}, INVALID, "quantity"),
    ("no reason", {"reason": " "}, INVALID, "reason"),
    ("no request id", {"request_id": ""}, INVALID, "request_id"),
    # PostgreSQL cannot store a NUL in text: refused before anything runs, naming the field.
    ("NUL in the reason", {"reason": "月度\x00评议"}, INVALID, "reason"),
    ("NUL in the request id", {"request_id": "r-\x00"}, INVALID, "request_id"),
    ("NUL in the subject", {"subject": other_household(subject_id="\x00")}, INVALID, "subject.id"),
]


@pytest.mark.parametrize(("case", "change", "code", "field"), AWARD_CASES, ids=[c[0] for c in AWARD_CASES])
async def test_a_bad_award_names_the_field_and_writes_nothing(
        pk: Any, ground: Ground, case: str, change: dict[str, Any], code: grpc.StatusCode, field: str,
) -> None:
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.AwardPoints(award(pk, ground, **change), metadata=pk.ADMIN)
    assert err.value.code() == code, err.value.details()
    assert field in [f for f, _ in rpc_error_details(err.value)], err.value.details()
    assert field in (err.value.details() or "")
    assert await snapshot(pk) == before


async def test_a_subject_of_another_village_is_refused(pk: Any, ground: Ground) -> None:
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.AwardPoints(award(pk, ground, subject=pk.ref(ground.stranger)), metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert rpc_error_details(err.value)[0][0] == "subject.id"
    assert await snapshot(pk) == before


@pytest.mark.parametrize("call", ["award", "claim", "redeem", "goods", "household", "board"])
async def test_a_region_outside_the_callers_scope_is_refused(
        pk: Any, ground: Ground, call: str) -> None:
    clerk = auth_metadata(ground.other, roles=("village_clerk",), subject="other-clerk")
    requests = {
        "award": (pk.stub.AwardPoints, award(pk, ground), "scheme_id"),
        "claim": (pk.stub.SubmitClaim, P.SubmitClaimRequest(
            request_id=pk.rid(), subject=pk.ref(ground.home), scheme_id=ground.scheme.id,
            item_code="HJ-01", occurred_on=pk.TODAY.isoformat(), source=P.CLAIM_SOURCE_RECORDED,
            evidence=P.Evidence(description="照片")), "scheme_id"),
        "redeem": (pk.stub.ReserveRedemption, P.ReserveRedemptionRequest(
            request_id=pk.rid(), subject=pk.ref(ground.home), goods_id=ground.soap.id, quantity=1),
            "subject.id"),
        "goods": (pk.stub.AddGoods, P.AddGoodsRequest(request_id=pk.rid(), region_code=ground.village,
                                                      name="酱油", price=5, stock=1), "region_code"),
        "household": (pk.stub.CreateHousehold, P.CreateHouseholdRequest(
            request_id=pk.rid(), region_code=ground.village, household_number="X-1", head_name="张三",
            member_count=2), "region_code"),
        "board": (pk.stub.GetPublicityBoard, P.GetPublicityBoardRequest(region_code=ground.village),
                  "region_code"),
    }
    method, request, field = requests[call]
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await method(request, metadata=clerk)
    assert err.value.code() == DENIED, err.value.details()
    assert rpc_error_details(err.value) == [
        (field, f"region {ground.village} is outside the caller's scope")]
    assert await snapshot(pk) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [({"price": -5}, "price"), ({"price": 0}, "price"), ({"stock": -1}, "stock"), ({"name": ""}, "name"),
     ({"region_code": "130123101"}, "region_code")],
)
async def test_bad_goods_are_refused(pk: Any, ground: Ground, change: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = dict(request_id=pk.rid(), region_code=ground.village, name="酱油", price=5,
                                  stock=3)
    fields.update(change)
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.AddGoods(P.AddGoodsRequest(**fields), metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert [f for f, _ in rpc_error_details(err.value)] == [field]
    assert await snapshot(pk) == before


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [({"quantity": -1}, INVALID, "quantity"), ({"quantity": 0}, INVALID, "quantity"),
     ({"quantity": 4}, REFUSED, "quantity"), ({"goods_id": str(uuid.uuid4())}, INVALID, "goods_id"),
     ({"subject": other_household()}, INVALID, "subject.id")],
)
async def test_bad_redemptions_are_refused(pk: Any, ground: Ground, change: dict[str, Any],
                                           code: grpc.StatusCode, field: str) -> None:
    fields: dict[str, Any] = dict(request_id=pk.rid(), subject=pk.ref(ground.home), goods_id=ground.soap.id,
                                  quantity=1)
    fields.update(change)
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(**fields), metadata=pk.ADMIN)
    assert err.value.code() == code, err.value.details()
    assert [f for f, _ in rpc_error_details(err.value)] == [field]
    assert await snapshot(pk) == before


async def test_one_bad_line_refuses_the_whole_batch(pk: Any, ground: Ground) -> None:
    lines = [P.BatchLine(subject=pk.ref(ground.home), item_code="HJ-01", occurred_on="2025-06-01")
             for _ in range(50)]
    lines[37].item_code = "NOPE"
    lines[41].subject.CopyFrom(pk.ref(ground.stranger))
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ScoreBatch(P.ScoreBatchRequest(
            request_id=pk.rid(), batch_key="bad-batch", scheme_id=ground.scheme.id, title="6月检查",
            lines=lines), metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert [f for f, _ in rpc_error_details(err.value)] == ["lines[37].item_code"]
    lines[37].item_code = "HJ-01"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ScoreBatch(P.ScoreBatchRequest(
            request_id=pk.rid(), batch_key="bad-batch", scheme_id=ground.scheme.id, title="6月检查",
            lines=lines), metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert [f for f, _ in rpc_error_details(err.value)] == ["lines[41].subject.id"]
    lines[5].item_code, lines[41].subject.id = "ZY-01", ground.home.id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ScoreBatch(P.ScoreBatchRequest(
            request_id=pk.rid(), batch_key="bad-batch", scheme_id=ground.scheme.id, title="6月检查",
            lines=lines), metadata=pk.ADMIN)
    assert err.value.code() == REFUSED
    assert [f for f, _ in rpc_error_details(err.value)] == ["lines[5].item_code"]
    assert await snapshot(pk) == before


def test_a_fractional_amount_cannot_be_expressed() -> None:
    """Points and quantities are whole numbers in the contract itself: 1.5 does not parse."""
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict({"quantity": 1.5}, P.AwardPointsRequest())
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict({"price": "2.5"}, P.AddGoodsRequest())


async def test_a_closed_account_earns_nothing(pk: Any, ground: Ground) -> None:
    leaving = await pk.household(ground.village)
    await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
        request_id=pk.rid(), household_id=leaving.id, moved_out_on=(pk.TODAY - timedelta(days=1)).isoformat(),
        reason="整户迁往县城"), metadata=pk.ADMIN)
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.AwardPoints(award(pk, ground, subject=pk.ref(leaving)), metadata=pk.ADMIN)
    assert err.value.code() == REFUSED
    assert rpc_error_details(err.value)[0][0] == "subject.id"
    assert await snapshot(pk) == before


def _token(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


LIST_CASES: list[tuple[str, str, Any, str]] = [
    ("claim status not a ClaimStatus", "ListClaims", P.ListClaimsRequest(status=99), "status"),  # type: ignore[arg-type]
    ("redemption status beyond int16", "ListRedemptions",
     P.ListRedemptionsRequest(status=100_000), "status"),  # type: ignore[arg-type]
    ("scheme year beyond int16", "ListSchemes", P.ListSchemesRequest(year=40_000), "year"),
    ("scheme year out of range", "ListSchemes", P.ListSchemesRequest(year=1), "year"),
    ("scheme subject kind", "ListSchemes",
     P.ListSchemesRequest(subject_kind=-3), "subject_kind"),  # type: ignore[arg-type]
    ("account subject kind", "ListAccounts",
     P.ListAccountsRequest(subject_kind=40_000), "subject_kind"),  # type: ignore[arg-type]
    ("claims token that is not a time", "ListClaims",
     P.ListClaimsRequest(page=PageRequest(page_token=_token(["x", "y"]))), "page.page_token"),
    ("redemptions token that is not a time", "ListRedemptions",
     P.ListRedemptionsRequest(page=PageRequest(page_token=_token(["x", "y"]))), "page.page_token"),
    ("statement token beyond BIGINT", "GetStatement",
     P.GetStatementRequest(account_id=str(uuid.uuid4()), page=PageRequest(page_token=_token([10**20]))),
     "page.page_token"),
    ("ranking token beyond BIGINT", "ListRanking",
     P.ListRankingRequest(scheme_id=str(uuid.uuid4()), page=PageRequest(page_token=_token([10**20, "x"]))),
     "page.page_token"),
    ("households token with a NUL", "ListHouseholds",
     P.ListHouseholdsRequest(page=PageRequest(page_token=_token(["\x00"]))), "page.page_token"),
    ("token nested past recursion", "ListGoods",
     P.ListGoodsRequest(page=PageRequest(page_token=base64.urlsafe_b64encode(b"[" * 800).decode())),
     "page.page_token"),
]


@pytest.mark.parametrize(("case", "method", "request_", "field"), LIST_CASES, ids=[c[0] for c in LIST_CASES])
async def test_a_bad_list_filter_or_forged_page_token_names_the_field(
        pk: Any, case: str, method: str, request_: Any, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await getattr(pk.stub, method)(request_, metadata=pk.ADMIN)
    assert err.value.code() == INVALID, err.value.details()
    assert [f for f, _ in rpc_error_details(err.value)] == [field]


def _unknown() -> str:
    return str(uuid.uuid4())


NOT_FOUND_CASES: list[tuple[str, Any, str]] = [
    ("GetHousehold", lambda g: P.GetHouseholdRequest(id=_unknown()), "id"),
    ("GetAccount", lambda g: P.GetAccountRequest(id=_unknown()), "id"),
    ("GetStatement", lambda g: P.GetStatementRequest(account_id=_unknown()), "account_id"),
    ("GetStatement", lambda g: P.GetStatementRequest(subject=other_household()), "subject.id"),
    ("GetGoods", lambda g: P.GetGoodsRequest(id=_unknown()), "id"),
    ("GetClaim", lambda g: P.GetClaimRequest(id=_unknown()), "id"),
    ("GetBatch", lambda g: P.GetBatchRequest(id=_unknown()), "id"),
    ("CloseCycle", lambda g: P.CloseCycleRequest(request_id=_unknown(), scheme_id=_unknown()), "scheme_id"),
    ("PickUpRedemption", lambda g: P.PickUpRedemptionRequest(request_id=_unknown(), redemption_id=_unknown()),
     "redemption_id"),
    ("GetRulesInForce", lambda g: P.GetRulesInForceRequest(scheme_id=g.scheme.id, on_date="2024-06-01"),
     "on_date"),
]


@pytest.mark.parametrize(("method", "make", "field"), NOT_FOUND_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in NOT_FOUND_CASES])
async def test_what_is_not_found_names_the_field_that_named_it(
        pk: Any, ground: Ground, method: str, make: Any, field: str) -> None:
    before = await snapshot(pk)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await getattr(pk.stub, method)(make(ground), metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()
    assert [f for f, _ in rpc_error_details(err.value)] == [field]
    assert await snapshot(pk) == before


async def test_a_taken_household_number_names_the_field(pk: Any, ground: Ground) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.CreateHousehold(P.CreateHouseholdRequest(
            request_id=pk.rid(), region_code=ground.village, household_number=ground.home.household_number,
            head_name="重名户", member_count=3), metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert [f for f, _ in rpc_error_details(err.value)] == ["household_number"]


async def test_a_period_error_names_the_date_the_caller_gave(pk: Any, ground: Ground) -> None:
    for field, change in (("from_date", {"from_date": "2026-03-01"}), ("to_date", {"to_date": "2024-12-01"}),
                          ("to_date", {"from_date": "2025-05-01", "to_date": "2025-04-01"})):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pk.stub.ListRanking(P.ListRankingRequest(scheme_id=ground.scheme.id, **change),
                                      metadata=pk.ADMIN)
        assert err.value.code() == INVALID
        assert [f for f, _ in rpc_error_details(err.value)] == [field], change
