"""Household roster resolvers (一户一档): the change of head of household (户主变更), the
head history (户主变更记录) the household shows, and a household moving back (回迁)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from google.protobuf import any_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema

if TYPE_CHECKING:
    from conftest import Fakes

VILLAGE = "130123101201"
STAMP = Timestamp(seconds=1_767_225_600)

CHANGE = """mutation($h: ID!, $m: ID) {
  changeHouseholdHead(requestId: "r-1", householdId: $h, memberId: $m, changedOn: "2026-01-05",
                      reason: "原户主去世") {
    headName headMemberId
    headChanges { previousHeadName previousMemberId headName memberId changedOn reason createdBy }
  }
}"""


def new_id() -> str:
    return str(uuid.uuid4())


def refused(field: str, description: str) -> grpc.aio.AioRpcError:
    """What a service's FAILED_PRECONDITION naming a field looks like to the gateway."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=field, description=description)]))
    code = grpc.StatusCode.FAILED_PRECONDITION
    status = status_pb2.Status(code=code.value[0], message=f"{field}: {description}", details=[detail])
    trailing = grpc.aio.Metadata(*rpc_status.to_status(status).trailing_metadata)
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=status.message)


async def test_change_household_head_sends_the_member_and_shows_the_history(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    household, member = new_id(), new_id()

    def change(r: P.ChangeHouseholdHeadRequest) -> P.ChangeHouseholdHeadResponse:
        record = P.HouseholdHeadChange(
            id=new_id(), household_id=r.household_id, previous_head_name="王建国",
            head_name="王小明", member_id=r.member_id, changed_on=r.changed_on, reason=r.reason,
            create_time=STAMP, created_by="clerk-1")
        return P.ChangeHouseholdHeadResponse(household=P.Household(
            id=r.household_id, region_code=VILLAGE, household_number="0101", head_name="王小明",
            member_count=3, create_time=STAMP, created_by="clerk-1", status=P.HOUSEHOLD_STATUS_ACTIVE,
            head_member_id=r.member_id, head_changes=[record]), change=record)

    fakes.points.answer("ChangeHouseholdHead", change)
    result = await schema.execute(CHANGE, variable_values={"h": household, "m": member},
                                  context_value=context_for(f"Bearer {token}"))

    assert result.errors is None and result.data is not None
    assert result.data["changeHouseholdHead"] == {
        "headName": "王小明", "headMemberId": member,
        "headChanges": [{"previousHeadName": "王建国", "previousMemberId": None, "headName": "王小明",
                         "memberId": member, "changedOn": "2026-01-05", "reason": "原户主去世",
                         "createdBy": "clerk-1"}]}
    (call,) = fakes.points.ChangeHouseholdHead.calls
    assert call.request == P.ChangeHouseholdHeadRequest(
        request_id="r-1", household_id=household, member_id=member, changed_on="2026-01-05",
        reason="原户主去世")


async def test_a_refused_change_of_head_names_the_field_in_camel_case(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.points.answer("ChangeHouseholdHead", lambda r: refused(
        "household_id", "the household moved out on 2025-12-01"))
    result = await schema.execute(CHANGE, variable_values={"h": new_id(), "m": None},
                                  context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "FAILED_PRECONDITION", "fieldViolations": [
        {"field": "householdId", "description": "the household moved out on 2025-12-01"}]}
    (call,) = fakes.points.ChangeHouseholdHead.calls
    assert (call.request.head_name, call.request.member_id) == ("", "")


RETURN = """mutation($h: ID!) {
  returnHousehold(requestId: "r-2", householdId: $h, returnedOn: "2026-01-05", reason: "回迁") {
    id status movedOutOn moveOutReason members { name leftOn }
  }
}"""


async def test_return_household_sends_the_return_and_shows_the_household_on_the_roster(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    household = new_id()

    def back(r: P.ReturnHouseholdRequest) -> P.ReturnHouseholdResponse:
        return P.ReturnHouseholdResponse(household=P.Household(
            id=r.household_id, region_code=VILLAGE, household_number="0101", head_name="王建国",
            member_count=3, create_time=STAMP, created_by="clerk-1", status=P.HOUSEHOLD_STATUS_ACTIVE,
            members=[P.HouseholdMember(id=new_id(), household_id=r.household_id, name="王小明",
                                       relation="子女", create_time=STAMP, created_by="clerk-1")]))

    fakes.points.answer("ReturnHousehold", back)
    result = await schema.execute(RETURN, variable_values={"h": household},
                                  context_value=context_for(f"Bearer {token}"))

    assert result.errors is None and result.data is not None
    assert result.data["returnHousehold"] == {
        "id": household, "status": "ACTIVE", "movedOutOn": None, "moveOutReason": None,
        "members": [{"name": "王小明", "leftOn": None}]}
    (call,) = fakes.points.ReturnHousehold.calls
    assert call.request == P.ReturnHouseholdRequest(
        request_id="r-2", household_id=household, returned_on="2026-01-05", reason="回迁")


async def test_a_refused_return_names_the_field_in_camel_case(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.points.answer("ReturnHousehold", lambda r: refused(
        "returned_on", "is before 2025-12-01, the day the household moved out"))
    result = await schema.execute(RETURN, variable_values={"h": new_id()},
                                  context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "FAILED_PRECONDITION", "fieldViolations": [
        {"field": "returnedOn", "description": "is before 2025-12-01, the day the household moved out"}]}
