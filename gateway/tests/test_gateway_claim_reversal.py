"""A claim (积分申报) whose posted entry was reversed (冲正) through GraphQL: the REVERSED
status (已冲正) both ways and the reversing entry's id."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from google.protobuf.timestamp_pb2 import Timestamp
from shanzhi.points.v1 import points_pb2 as P

if TYPE_CHECKING:
    from conftest import Fakes, Run

VILLAGE = "130123101201"
STAMP = Timestamp(seconds=1_767_225_600)
LATER = Timestamp(seconds=STAMP.seconds + 30 * 86_400)


def new_id() -> str:
    return str(uuid.uuid4())


def a_claim(status: P.ClaimStatus.ValueType, **fields: Any) -> P.Claim:
    values: dict[str, Any] = {
        "id": new_id(), "account_id": new_id(),
        "subject": P.SubjectRef(kind=P.SUBJECT_KIND_HOUSEHOLD, id=new_id()), "region_code": VILLAGE,
        "scheme_id": new_id(), "version_id": new_id(), "item_code": "HJ-01", "item_name": "庭院整洁",
        "points": 5, "quantity": 1, "occurred_on": "2026-03-02", "source": P.CLAIM_SOURCE_RECORDED,
        "status": status, "create_time": STAMP, "created_by": "grid-1", "update_time": STAMP,
    }
    return P.Claim(**{**values, **fields})




async def test_reversed_claims_list_by_status_with_their_reversing_entry(fakes: Fakes, run: Run) -> None:
    entry, reversal, account = new_id(), new_id(), new_id()
    reversed_claim = a_claim(
        P.CLAIM_STATUS_REVERSED, account_id=account, entry_id=entry, reversal_entry_id=reversal,
        update_time=LATER, reviews=[
            P.ClaimReview(decision=P.REVIEW_DECISION_APPROVE, reason="评议通过", reviewer="reviewer-2",
                          review_time=STAMP),
            P.ClaimReview(decision=P.REVIEW_DECISION_REJECT, reason="冲正 (reversed): 照片与实际不符",
                          reviewer="clerk-9", review_time=LATER)])
    fakes.points.answer("ListClaims", lambda r: P.ListClaimsResponse(claims=[reversed_claim]))
    data = await run(
        """query($a: ID!) { pointsClaims(regionCodePrefix: "130123101", status: REVERSED, accountId: $a)
             { items { id status entryId reversalEntryId updateTime
                       reviews { decision reason reviewer } } } }""",
        a=account)
    assert data["pointsClaims"]["items"] == [{
        "id": reversed_claim.id, "status": "REVERSED", "entryId": entry, "reversalEntryId": reversal,
        "updateTime": "2026-01-31T00:00:00+00:00",
        "reviews": [{"decision": "APPROVE", "reason": "评议通过", "reviewer": "reviewer-2"},
                    {"decision": "REJECT", "reason": "冲正 (reversed): 照片与实际不符",
                     "reviewer": "clerk-9"}]}]
    (call,) = fakes.points.ListClaims.calls
    assert call.request.status == P.CLAIM_STATUS_REVERSED == 7
    assert (call.request.region_code_prefix, call.request.account_id) == ("130123101", account)


async def test_one_claim_shows_its_reversing_entry_only_once_reversed(fakes: Fakes, run: Run) -> None:
    reversed_claim = a_claim(P.CLAIM_STATUS_REVERSED, entry_id=new_id(), reversal_entry_id=new_id())
    posted = a_claim(P.CLAIM_STATUS_POSTED, entry_id=new_id())
    by_id = {c.id: c for c in (reversed_claim, posted)}
    fakes.points.answer("BatchGetClaims", lambda r: P.BatchGetClaimsResponse(
        claims=[by_id[i] for i in r.ids if i in by_id]))
    data = await run(
        """query($r: ID!, $p: ID!) {
             reversed: pointsClaim(id: $r) { id status entryId reversalEntryId }
             posted: pointsClaim(id: $p) { id status entryId reversalEntryId } }""",
        r=reversed_claim.id, p=posted.id)
    assert data == {
        "reversed": {"id": reversed_claim.id, "status": "REVERSED", "entryId": reversed_claim.entry_id,
                     "reversalEntryId": reversed_claim.reversal_entry_id},
        "posted": {"id": posted.id, "status": "POSTED", "entryId": posted.entry_id,
                   "reversalEntryId": None}}
    # Both come from one batch call (the claims loader).
    (call,) = fakes.points.BatchGetClaims.calls
    assert sorted(call.request.ids) == sorted([reversed_claim.id, posted.id])
