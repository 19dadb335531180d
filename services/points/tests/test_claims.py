"""Claims (积分申报) over gRPC: review (评议), publicity (公示) that closes on time with
nobody pressing a button, objections (异议) that send a claim back, limits and evidence."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import events_pb2
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_points.clock import china_date
from shanzhi_points.tables import accounts, claim_reviews, claims, entries, messaging
from sqlalchemy import select, update

pytestmark = pytest.mark.postgres


async def submit(pk: Any, home: Any, scheme: Any, code: str = "HJ-01", *, quantity: int = 1,
                 metadata: Any = None, **kw: Any) -> P.Claim:
    kw.setdefault("evidence", P.Evidence(description="网格员现场拍照", attachment_urls=[
        "https://example.cn/p/1.jpg"]))
    reply = await pk.stub.SubmitClaim(P.SubmitClaimRequest(
        request_id=pk.rid(), subject=pk.ref(home), scheme_id=scheme.id, item_code=code,
        occurred_on=kw.pop("occurred_on", pk.TODAY.isoformat()), quantity=quantity,
        source=kw.pop("source", P.CLAIM_SOURCE_RECORDED), **kw), metadata=metadata or pk.ADMIN)
    return reply.claim


def reviewer(pk: Any, subject: str = "reviewer-1") -> Any:
    """A member of the review group (评议小组) other than whoever put the claims in."""
    return auth_metadata(pk.COUNTY, roles=("county_officer",), subject=subject)


async def review(pk: Any, claim: P.Claim, decision: int, reason: str = "经评议属实",
                 *, metadata: Any = None) -> P.Claim:
    return (await pk.stub.ReviewClaim(P.ReviewClaimRequest(
        request_id=pk.rid(), claim_id=claim.id, decision=decision, reason=reason),  # type: ignore[arg-type]
        metadata=metadata or reviewer(pk))).claim


async def get(pk: Any, claim: P.Claim) -> P.Claim:
    return (await pk.stub.GetClaim(P.GetClaimRequest(id=claim.id), metadata=pk.ADMIN)).claim


async def eventually(check: Any, within: float = 10.0) -> None:
    for _ in range(int(within / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_an_approved_claim_posts_when_its_window_closes_unopposed(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=7)
    home = await pk.household(village)
    grid = auth_metadata(village, roles=("grid_worker",), subject="grid-7")
    claim = await submit(pk, home, scheme, quantity=2, metadata=grid)
    assert (claim.status, claim.points, claim.item_name, claim.created_by) == (
        P.CLAIM_STATUS_PENDING_REVIEW, 10, "庭院整洁", "grid-7")
    approved = await review(pk, claim, P.REVIEW_DECISION_APPROVE, "现场照片属实")
    assert approved.status == P.CLAIM_STATUS_IN_PUBLICITY
    assert (approved.reviews[0].reviewer, approved.reviews[0].reason) == ("reviewer-1", "现场照片属实")
    ends = approved.publicity_end_time.ToDatetime()
    assert timedelta(days=6, hours=23) < ends - pk.clock.now().replace(tzinfo=None) <= timedelta(days=7)
    board = await pk.stub.GetPublicityBoard(P.GetPublicityBoardRequest(region_code=village),
                                            metadata=pk.ADMIN)
    assert [c.id for c in board.in_publicity] == [claim.id]
    pk.clock.advance(timedelta(days=6))
    await asyncio.sleep(0.5)
    assert (await pk.account(pk.ref(home))).balance == 0
    pk.clock.advance(timedelta(days=1, minutes=1))

    async def posted() -> bool:
        async with pk.host.engine.connect() as conn:
            from shanzhi_points.tables import claims
            from sqlalchemy import select

            status = (await conn.execute(select(claims.c.status).where(claims.c.id == claim.id))).scalar()
        return bool(status == P.CLAIM_STATUS_POSTED)

    # The background task closes the window: no read, no button.
    await eventually(posted)
    done = await get(pk, claim)
    assert done.status == P.CLAIM_STATUS_POSTED and done.entry_id
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    entry = statement.entries[-1]
    assert (entry.id, entry.kind, entry.amount, entry.source_id, entry.created_by) == (
        done.entry_id, P.ENTRY_KIND_CLAIM, 10, claim.id, "system")
    assert statement.account.balance == 10


async def test_an_objection_sends_a_claim_back_to_review(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=3)
    home = await pk.household(village)
    claim = await review(pk, await submit(pk, home, scheme), P.REVIEW_DECISION_APPROVE)
    neighbour = auth_metadata(village, roles=("viewer",), subject="neighbour")
    objected = (await pk.stub.ObjectToClaim(P.ObjectToClaimRequest(
        request_id=pk.rid(), claim_id=claim.id, reason="院子并未打扫"), metadata=neighbour)).claim
    assert objected.status == P.CLAIM_STATUS_PENDING_REVIEW
    assert [(o.raised_by, o.status) for o in objected.objections] == [
        ("neighbour", P.OBJECTION_STATUS_OPEN)]
    board = await pk.stub.GetPublicityBoard(P.GetPublicityBoardRequest(region_code=village),
                                            metadata=pk.ADMIN)
    assert [c.id for c in board.objected] == [claim.id] and not board.in_publicity
    # Time passing does not post a claim under review.
    pk.clock.advance(timedelta(days=4))
    assert (await get(pk, claim)).status == P.CLAIM_STATUS_PENDING_REVIEW
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await review(pk, claim, P.REVIEW_DECISION_APPROVE, "")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "reason"
    again = await review(pk, claim, P.REVIEW_DECISION_APPROVE, "复核属实")
    assert again.status == P.CLAIM_STATUS_IN_PUBLICITY
    assert again.objections[0].status == P.OBJECTION_STATUS_DISMISSED
    # The neighbour's objection was decided: they do not object again, however often the
    # window opens; another villager may.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ObjectToClaim(P.ObjectToClaimRequest(request_id=pk.rid(), claim_id=claim.id,
                                                           reason="还是不同意"), metadata=neighbour)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [(field, description)] = rpc_error_details(err.value)
    assert field == "claim_id" and "decided" in description
    assert (await get(pk, claim)).status == P.CLAIM_STATUS_IN_PUBLICITY
    other = auth_metadata(village, roles=("viewer",), subject="another-neighbour")
    await pk.stub.ObjectToClaim(P.ObjectToClaimRequest(request_id=pk.rid(), claim_id=claim.id,
                                                       reason="照片非本户"), metadata=other)
    rejected = await review(pk, claim, P.REVIEW_DECISION_REJECT, "异议成立")
    assert rejected.status == P.CLAIM_STATUS_REJECTED
    assert [o.status for o in rejected.objections] == [P.OBJECTION_STATUS_DISMISSED,
                                                        P.OBJECTION_STATUS_UPHELD]
    assert [r.decision for r in rejected.reviews] == [P.REVIEW_DECISION_APPROVE] * 2 + [
        P.REVIEW_DECISION_REJECT]
    pk.clock.advance(timedelta(days=30))
    assert (await get(pk, claim)).status == P.CLAIM_STATUS_REJECTED
    assert (await pk.account(pk.ref(home))).balance == 0


async def test_a_claim_in_the_wrong_state_is_refused_and_nothing_changes(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=1)
    home = await pk.household(village)
    pending = await submit(pk, home, scheme)
    cases: list[tuple[Any, Any]] = [
        (pk.stub.ObjectToClaim, P.ObjectToClaimRequest(request_id=pk.rid(), claim_id=pending.id,
                                                       reason="x")),
    ]
    rejected = await review(pk, await submit(pk, home, scheme), P.REVIEW_DECISION_REJECT, "证据不足")
    cases += [
        (pk.stub.ReviewClaim, P.ReviewClaimRequest(request_id=pk.rid(), claim_id=rejected.id,
                                                   decision=P.REVIEW_DECISION_APPROVE, reason="复核")),
        (pk.stub.WithdrawClaim, P.WithdrawClaimRequest(request_id=pk.rid(), claim_id=rejected.id)),
    ]
    for call, request in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(request, metadata=pk.ADMIN)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert rpc_error_details(err.value)[0][0] == "claim_id"
    assert (await get(pk, pending)).status == P.CLAIM_STATUS_PENDING_REVIEW
    withdrawn = (await pk.stub.WithdrawClaim(P.WithdrawClaimRequest(
        request_id=pk.rid(), claim_id=pending.id, reason="填错了"), metadata=pk.ADMIN)).claim
    assert withdrawn.status == P.CLAIM_STATUS_WITHDRAWN


async def test_limits_count_posted_entries_and_pending_claims(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "ZY-01", occurred_on=pk.TODAY - timedelta(days=10))
    await submit(pk, home, scheme, "ZY-01")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await submit(pk, home, scheme, "ZY-01", occurred_on=(pk.TODAY - timedelta(days=1)).isoformat())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    field, description = rpc_error_details(err.value)[0]
    assert field == "item_code" and "at most 2 per month (2025-06-01 to 2025-06-30)" in description
    # Another month is another count.
    await submit(pk, home, scheme, "ZY-01", occurred_on="2025-05-31")


async def test_evidence_is_required_where_the_item_asks_for_it(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, items=(pk.item("XY-01", 5, evidence="见义勇为的证明材料"),))
    home = await pk.household(village)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await submit(pk, home, scheme, "XY-01", evidence=P.Evidence())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0][0] == "evidence"
    declared = await submit(pk, home, scheme, "XY-01", source=P.CLAIM_SOURCE_DECLARED,
                            metadata=auth_metadata(village, roles=("viewer",), subject="villager"))
    assert declared.source == P.CLAIM_SOURCE_DECLARED
    listed = await pk.stub.ListClaims(P.ListClaimsRequest(region_code_prefix=village), metadata=pk.ADMIN)
    assert [c.id for c in listed.claims] == [declared.id]
    batch = await pk.stub.BatchGetClaims(P.BatchGetClaimsRequest(ids=[declared.id]), metadata=pk.ADMIN)
    assert batch.claims[0].evidence.description == "网格员现场拍照"


async def test_a_read_waits_for_a_window_being_closed_elsewhere_rather_than_show_it_open(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=1)
    home = await pk.household(village)
    claim = await review(pk, await submit(pk, home, scheme, "HJ-01"), P.REVIEW_DECISION_APPROVE)
    pk.clock.advance(timedelta(days=1, seconds=1))
    async with pk.host.engine.connect() as conn:
        # Another transaction holds the claim, as a pass closing windows would.
        await conn.execute(select(claims.c.id).where(claims.c.id == claim.id).with_for_update())
        reading = asyncio.create_task(pk.account(pk.ref(home)))
        await asyncio.sleep(0.5)
        assert not reading.done(), "the read returned while the claim was being posted"
        await conn.rollback()
    assert (await reading).balance == 5
    assert (await get(pk, claim)).status == P.CLAIM_STATUS_POSTED


async def test_a_negative_claim_deducts_when_it_posts(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=1)
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=3)
    claim = await review(pk, await submit(pk, home, scheme, "YF-01"), P.REVIEW_DECISION_APPROVE)
    assert claim.points == -10
    pk.clock.advance(timedelta(days=1, seconds=1))
    # Reading the account closes the window first, even before the background task runs.
    assert (await pk.account(pk.ref(home))).balance == 5
    assert (await get(pk, claim)).status == P.CLAIM_STATUS_POSTED
    # The window closed by itself: the claim's posting names the system, not the reader.
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.key == claim.id,
            messaging.outbox.c.event_type.endswith("ClaimPostedEvent")))).all()
    assert [event_pb2.EventEnvelope.FromString(r.payload).actor for r in rows] == ["system"]


async def events_about(pk: Any, key: str) -> list[tuple[str, Any]]:
    """The outbox events keyed by ``key`` (a claim's id), oldest first, with their data."""
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(messaging.outbox.c.event_type, messaging.outbox.c.payload)
                                   .where(messaging.outbox.c.key == key)
                                   .order_by(messaging.outbox.c.seq))).all()
    return [(r.event_type, event_pb2.EventEnvelope.FromString(r.payload).data) for r in rows]


async def test_whoever_put_a_claim_in_may_not_decide_it(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk-1")
    claim = await submit(pk, home, scheme, metadata=clerk)
    assert claim.created_by == "clerk-1"
    for decision in (P.REVIEW_DECISION_APPROVE, P.REVIEW_DECISION_REJECT):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await review(pk, claim, decision, "本人核实", metadata=clerk)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        [(field, description)] = rpc_error_details(err.value)
        assert field == "claim_id" and "clerk-1" in description and "回避" in description
    # Nothing was written: no decision, no status change, no event.
    unchanged = await get(pk, claim)
    assert (unchanged.status, list(unchanged.reviews), unchanged.update_time) == (
        P.CLAIM_STATUS_PENDING_REVIEW, [], claim.update_time)
    assert await pk.count(claim_reviews, claim_reviews.c.claim_id == claim.id) == 0
    assert [kind for kind, _ in await events_about(pk, claim.id)] == [
        "shanzhi.points.v1.ClaimSubmittedEvent"]
    # Another member of the review group decides it.
    other = auth_metadata(village, roles=("village_clerk",), subject="clerk-2")
    approved = await review(pk, claim, P.REVIEW_DECISION_APPROVE, "现场核实属实", metadata=other)
    assert approved.status == P.CLAIM_STATUS_IN_PUBLICITY
    assert [(r.reviewer, r.reason) for r in approved.reviews] == [("clerk-2", "现场核实属实")]
    # After an objection the recorder still may not settle it.
    await pk.stub.ObjectToClaim(P.ObjectToClaimRequest(request_id=pk.rid(), claim_id=claim.id,
                                                       reason="照片非本户"), metadata=pk.ADMIN)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await review(pk, claim, P.REVIEW_DECISION_APPROVE, "异议不成立", metadata=clerk)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0][0] == "claim_id"
    assert (await get(pk, claim)).objections[0].status == P.OBJECTION_STATUS_OPEN


async def test_every_decision_says_why(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    claim = await submit(pk, home, scheme)
    for decision, reason in ((P.REVIEW_DECISION_APPROVE, ""), (P.REVIEW_DECISION_APPROVE, "  \n "),
                             (P.REVIEW_DECISION_REJECT, "")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await review(pk, claim, decision, reason)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        [(field, description)] = rpc_error_details(err.value)
        assert field == "reason" and "评议意见" in description
    unchanged = await get(pk, claim)
    assert (unchanged.status, list(unchanged.reviews)) == (P.CLAIM_STATUS_PENDING_REVIEW, [])
    approved = await review(pk, claim, P.REVIEW_DECISION_APPROVE, "  庭院整洁，照片属实 ")
    assert [(r.decision, r.reason) for r in approved.reviews] == [
        (P.REVIEW_DECISION_APPROVE, "庭院整洁，照片属实")]


async def test_a_claim_lapses_when_its_account_closed_before_the_window_closes(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=7)
    leaving, staying, later = [await pk.household(village) for _ in range(3)]
    await pk.award(pk.ref(leaving), scheme.id, "HJ-01", quantity=3)
    credit = await review(pk, await submit(pk, leaving, scheme, "HJ-01"), P.REVIEW_DECISION_APPROVE)
    debit = await review(pk, await submit(pk, leaving, scheme, "YF-01"), P.REVIEW_DECISION_APPROVE)
    kept = await review(pk, await submit(pk, staying, scheme, "HJ-01"), P.REVIEW_DECISION_APPROVE)
    future = await review(pk, await submit(pk, later, scheme, "HJ-01"), P.REVIEW_DECISION_APPROVE)
    # During publicity the household moves out (整户迁出): its account closes today.
    pk.clock.advance(timedelta(days=2))
    await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
        request_id=pk.rid(), household_id=leaving.id, moved_out_on="2025-06-20", reason="整户迁出"),
        metadata=pk.ADMIN)
    # An account whose closing day is still ahead when the window closes (as a
    # representative's term that ends later) is open, and its claim posts.
    async with pk.host.engine.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.subject_id == later.id)
                           .values(closed_on=pk.TODAY + timedelta(days=30)))
    pk.clock.advance(timedelta(days=5, minutes=1))

    async def settled() -> bool:
        async with pk.host.engine.connect() as conn:
            statuses = (await conn.execute(select(claims.c.status).where(
                claims.c.id.in_([credit.id, debit.id, kept.id, future.id])))).scalars().all()
        return P.CLAIM_STATUS_IN_PUBLICITY not in statuses

    # The background task closes the windows: no read, no button.
    await eventually(settled)
    for claim in (credit, debit):
        lapsed = await get(pk, claim)
        assert (lapsed.status, lapsed.entry_id) == (P.CLAIM_STATUS_LAPSED, "")
        last = lapsed.reviews[-1]
        assert (last.reviewer, last.decision) == ("system", P.REVIEW_DECISION_REJECT)
        assert "失效" in last.reason and "2025-06-20" in last.reason
        assert [r.reviewer for r in lapsed.reviews] == ["reviewer-1", "system"]
    # Nothing reached the closed account: the award is all it has.
    closed = await pk.account(pk.ref(leaving))
    assert (closed.balance, closed.closed_on) == (15, "2025-06-20")
    assert await pk.count(entries, entries.c.source_id.in_([credit.id, debit.id])) == 0
    assert (await get(pk, kept)).status == P.CLAIM_STATUS_POSTED
    assert (await get(pk, future)).status == P.CLAIM_STATUS_POSTED
    assert (await pk.account(pk.ref(staying))).balance == 5
    # The lapse is announced once, and never turns into a posting later: reads (which
    # close due windows first) and the background task find nothing more to do.
    kinds = [kind for kind, _ in await events_about(pk, credit.id)]
    assert kinds.count("shanzhi.points.v1.ClaimLapsedEvent") == 1
    assert "shanzhi.points.v1.ClaimPostedEvent" not in kinds
    data = dict(await events_about(pk, credit.id))["shanzhi.points.v1.ClaimLapsedEvent"]
    event = events_pb2.ClaimLapsedEvent()
    assert data.Unpack(event) and (event.account_id, event.account_closed_on) == (
        closed.id, "2025-06-20")
    pk.clock.advance(timedelta(days=30))
    listed = await pk.stub.ListClaims(P.ListClaimsRequest(
        region_code_prefix=village, status=P.CLAIM_STATUS_LAPSED), metadata=pk.ADMIN)
    assert sorted(c.id for c in listed.claims) == sorted([credit.id, debit.id])
    assert all(len(c.reviews) == 2 for c in listed.claims)
    assert await pk.count(entries, entries.c.source_id.in_([credit.id, debit.id])) == 0
    assert (await pk.account(pk.ref(leaving))).balance == 15


async def test_a_claim_of_a_household_that_moved_out_can_only_be_rejected(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=1)
    home = await pk.household(village)
    claim = await submit(pk, home, scheme, "HJ-01")
    await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
        request_id=pk.rid(), household_id=home.id, moved_out_on=pk.TODAY.isoformat(), reason="整户迁出"),
        metadata=pk.ADMIN)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await review(pk, claim, P.REVIEW_DECISION_APPROVE, "发生在迁出之前，属实")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0] == (
        "claim_id", f"the claim's account closed on {pk.TODAY.isoformat()} (账户已关闭): it can only "
        "be rejected")
    unchanged = await get(pk, claim)
    assert (unchanged.status, list(unchanged.reviews)) == (P.CLAIM_STATUS_PENDING_REVIEW, [])
    rejected = await review(pk, claim, P.REVIEW_DECISION_REJECT, "已整户迁出")
    assert rejected.status == P.CLAIM_STATUS_REJECTED
    assert (await pk.account(pk.ref(home))).balance == 0
    assert await pk.count(entries, entries.c.source_id == claim.id) == 0


async def test_reversing_a_posted_claims_entry_shows_on_the_claim(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=1)
    home = await pk.household(village)
    # ZY-01 may be used twice a month: the claim uses both.
    claim = await review(pk, await submit(pk, home, scheme, "ZY-01", quantity=2),
                         P.REVIEW_DECISION_APPROVE)
    pk.clock.advance(timedelta(days=1, seconds=1))
    posted = await get(pk, claim)
    assert (posted.status, posted.reversal_entry_id) == (P.CLAIM_STATUS_POSTED, "")
    assert (await pk.account(pk.ref(home))).balance == 6
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.award(pk.ref(home), scheme.id, "ZY-01")
    assert rpc_error_details(err.value)[0][0] == "item_code"

    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk-9")
    request = P.ReverseEntryRequest(request_id=pk.rid(), entry_id=posted.entry_id,
                                    reason="照片与实际不符，予以冲正")
    reversal = (await pk.stub.ReverseEntry(request, metadata=clerk)).entry
    assert (reversal.kind, reversal.reverses_entry_id, reversal.amount) == (
        P.ENTRY_KIND_REVERSAL, posted.entry_id, -6)
    undone = await get(pk, claim)
    assert (undone.status, undone.entry_id, undone.reversal_entry_id) == (
        P.CLAIM_STATUS_REVERSED, posted.entry_id, reversal.id)
    last = undone.reviews[-1]
    assert (last.reviewer, last.decision, last.reason) == (
        "clerk-9", P.REVIEW_DECISION_REJECT, "冲正 (reversed): 照片与实际不符，予以冲正")
    assert [r.reviewer for r in undone.reviews] == ["reviewer-1", "clerk-9"]
    assert undone.update_time.ToDatetime() > posted.update_time.ToDatetime()
    assert (await pk.account(pk.ref(home))).balance == 0
    # Lists by status find it among the reversed, no more among the posted.
    for status, expected in ((P.CLAIM_STATUS_REVERSED, [claim.id]), (P.CLAIM_STATUS_POSTED, [])):
        listed = await pk.stub.ListClaims(P.ListClaimsRequest(region_code_prefix=village,
                                                              status=status), metadata=pk.ADMIN)
        assert [c.id for c in listed.claims] == expected
    # The claim's events say so, once (the reversing entry has its EntryPostedEvent).
    kinds = [kind for kind, _ in await events_about(pk, claim.id)]
    assert kinds[-1] == "shanzhi.points.v1.ClaimReversedEvent"
    assert kinds.count("shanzhi.points.v1.ClaimReversedEvent") == 1
    event = events_pb2.ClaimReversedEvent()
    assert dict(await events_about(pk, claim.id))["shanzhi.points.v1.ClaimReversedEvent"].Unpack(event)
    assert (event.claim_id, event.entry_id, event.reversal_entry_id, event.region_code) == (
        claim.id, posted.entry_id, reversal.id, village)

    # A second reversal is refused; a retry of the same request answers the same and
    # changes nothing.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReverseEntry(P.ReverseEntryRequest(
            request_id=pk.rid(), entry_id=posted.entry_id, reason="再次冲正"), metadata=clerk)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value) == [("entry_id", f"was already reversed by entry {reversal.id}")]
    again = (await pk.stub.ReverseEntry(request, metadata=clerk)).entry
    assert again == reversal
    assert await get(pk, claim) == undone
    assert await pk.count(claim_reviews, claim_reviews.c.claim_id == claim.id) == 2
    assert await pk.count(entries, entries.c.reverses_entry_id == posted.entry_id) == 1
    assert [kind for kind, _ in await events_about(pk, claim.id)] == kinds
    assert (await pk.account(pk.ref(home))).balance == 0
    # The reversed claim no longer counts against the item's limit.
    await pk.award(pk.ref(home), scheme.id, "ZY-01", quantity=2)
    assert (await pk.account(pk.ref(home))).balance == 6
    assert (await get(pk, claim)).status == P.CLAIM_STATUS_REVERSED


async def test_a_claim_is_judged_on_the_day_its_window_closed_however_late_it_is_settled(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=7)
    home = await pk.household(village)
    claim = await review(pk, await submit(pk, home, scheme, "HJ-01"), P.REVIEW_DECISION_APPROVE)
    window_closes = china_date(claim.publicity_end_time.ToDatetime(UTC))
    # The account stays open until the day after the window closes (a representative's term
    # ending then); the windows are settled only two days later, after the account closed.
    async with pk.host.engine.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.subject_id == home.id)
                           .values(closed_on=window_closes + timedelta(days=1)))
    pk.clock.advance(timedelta(days=9))
    await eventually(lambda: _settled(pk, claim))
    posted = await get(pk, claim)
    assert posted.status == P.CLAIM_STATUS_POSTED and posted.entry_id


async def _settled(pk: Any, claim: P.Claim) -> bool:
    return (await get(pk, claim)).status != P.CLAIM_STATUS_IN_PUBLICITY


async def test_a_villager_may_declare_a_reward_but_not_a_deduction(pk: Any) -> None:
    """以奖为主、以罚为戒: deductions are recorded by grid workers and clerks, never declared
    by one villager against another."""
    village = pk.village()
    scheme = await pk.scheme(village)
    home, neighbour = await pk.household(village), await pk.household(village, "李四")
    villager = auth_metadata(village, roles=("viewer",), subject="villager")
    events_before = await pk.count(messaging.outbox)
    for source in (P.CLAIM_SOURCE_DECLARED, P.CLAIM_SOURCE_RECORDED):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await submit(pk, neighbour, scheme, "YF-01", source=source, metadata=villager)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        if source == P.CLAIM_SOURCE_DECLARED:
            [(field, description)] = rpc_error_details(err.value)
            assert field == "source" and "YF-01" in description and "grid_worker" in description
    # Nothing was written: no claim, no event.
    assert await pk.count(claims, claims.c.region_code == village) == 0
    assert await pk.count(messaging.outbox) == events_before
    # A reward stays open to villagers (本人申报) ...
    declared = await submit(pk, home, scheme, "HJ-01", source=P.CLAIM_SOURCE_DECLARED,
                            metadata=villager)
    assert (declared.source, declared.points, declared.created_by) == (
        P.CLAIM_SOURCE_DECLARED, 5, "villager")
    # ... and a grid worker may put a deduction in either way.
    grid = auth_metadata(village, roles=("grid_worker",), subject="grid-3")
    deduction = await submit(pk, neighbour, scheme, "YF-01", source=P.CLAIM_SOURCE_DECLARED,
                             metadata=grid)
    assert (deduction.points, deduction.status) == (-10, P.CLAIM_STATUS_PENDING_REVIEW)
    assert await pk.count(claims, claims.c.region_code == village) == 2


async def object_to(pk: Any, claim: P.Claim, metadata: Any, reason: str = "院子并未打扫") -> P.Claim:
    return (await pk.stub.ObjectToClaim(P.ObjectToClaimRequest(
        request_id=pk.rid(), claim_id=claim.id, reason=reason), metadata=metadata)).claim


async def test_one_open_objection_per_person_per_claim(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=3)
    home = await pk.household(village)
    claim = await review(pk, await submit(pk, home, scheme), P.REVIEW_DECISION_APPROVE)
    neighbour = auth_metadata(village, roles=("viewer",), subject="neighbour")
    # The same person objecting twice at once: one objection is raised, the other refused.
    results = await asyncio.gather(*(object_to(pk, claim, neighbour, f"第{i}次异议") for i in range(2)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(errors) == 1 and errors[0].code() == grpc.StatusCode.FAILED_PRECONDITION
    objected = await get(pk, claim)
    assert [(o.raised_by, o.status) for o in objected.objections] == [
        ("neighbour", P.OBJECTION_STATUS_OPEN)]
    # Again, later, with a fresh request id: refused, naming the open objection, and nothing changes.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await object_to(pk, claim, neighbour, "再次异议")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [(field, description)] = rpc_error_details(err.value)
    assert field == "claim_id" and "neighbour" in description and "still open" in description
    assert await get(pk, claim) == objected
    assert [kind for kind, _ in await events_about(pk, claim.id)].count(
        "shanzhi.points.v1.ClaimObjectedEvent") == 1
    # Once the review group has settled it, the decision stands for its author; the claim's
    # new window is open to others' objections.
    again = await review(pk, claim, P.REVIEW_DECISION_APPROVE, "异议不成立")
    assert again.objections[0].status == P.OBJECTION_STATUS_DISMISSED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await object_to(pk, claim, neighbour, "照片非本户")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [f for f, _ in rpc_error_details(err.value)] == ["claim_id"]
    assert await get(pk, claim) == again
    other = auth_metadata(village, roles=("viewer",), subject="another-neighbour")
    assert (await object_to(pk, claim, other, "照片非本户")).status == P.CLAIM_STATUS_PENDING_REVIEW


async def test_whoever_objected_may_not_decide_the_claim(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=3)
    home = await pk.household(village)
    claim = await review(pk, await submit(pk, home, scheme), P.REVIEW_DECISION_APPROVE)
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk-5")
    objected = await object_to(pk, claim, clerk, "照片非本户")
    for decision in (P.REVIEW_DECISION_APPROVE, P.REVIEW_DECISION_REJECT):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await review(pk, claim, decision, "异议成立", metadata=clerk)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        [(field, description)] = rpc_error_details(err.value)
        assert field == "claim_id" and "clerk-5" in description and "回避" in description
    # Nothing was written: the objection is open, the claim awaits another reviewer.
    assert await get(pk, claim) == objected
    assert objected.objections[0].status == P.OBJECTION_STATUS_OPEN
    assert await pk.count(claim_reviews, claim_reviews.c.claim_id == claim.id) == 1
    # Another member of the review group settles it.
    upheld = await review(pk, claim, P.REVIEW_DECISION_REJECT, "异议成立", metadata=reviewer(pk, "r-2"))
    assert (upheld.status, upheld.objections[0].status) == (
        P.CLAIM_STATUS_REJECTED, P.OBJECTION_STATUS_UPHELD)


async def test_withdrawing_someone_elses_claim_says_why_and_closes_its_objections(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, claim_publicity_days=3)
    home = await pk.household(village)
    grid = auth_metadata(village, roles=("grid_worker",), subject="grid-8")
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk-8")
    claim = await review(pk, await submit(pk, home, scheme, metadata=grid), P.REVIEW_DECISION_APPROVE)
    objected = await object_to(pk, claim, auth_metadata(village, roles=("viewer",), subject="neighbour"))
    # A manager withdrawing another's claim says why, as a reviewer would (评议意见).
    for reason in ("", "   "):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pk.stub.WithdrawClaim(P.WithdrawClaimRequest(
                request_id=pk.rid(), claim_id=claim.id, reason=reason), metadata=clerk)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        [(field, description)] = rpc_error_details(err.value)
        assert field == "reason" and "grid-8" in description
    assert await get(pk, claim) == objected
    withdrawn = (await pk.stub.WithdrawClaim(P.WithdrawClaimRequest(
        request_id=pk.rid(), claim_id=claim.id, reason="重复申报"), metadata=clerk)).claim
    assert withdrawn.status == P.CLAIM_STATUS_WITHDRAWN
    assert (withdrawn.reviews[-1].reviewer, withdrawn.reviews[-1].reason) == (
        "clerk-8", "撤回 (withdrawn): 重复申报")
    # The objection is closed with the claim: it will never post.
    [objection] = withdrawn.objections
    assert objection.status == P.OBJECTION_STATUS_UPHELD and objection.HasField("resolve_time")
    board = await pk.stub.GetPublicityBoard(P.GetPublicityBoardRequest(region_code=village),
                                            metadata=pk.ADMIN)
    assert not board.objected and not board.in_publicity
    # Whoever put a claim in may still withdraw it without a reason.
    own = await submit(pk, home, scheme, metadata=grid)
    mine = (await pk.stub.WithdrawClaim(P.WithdrawClaimRequest(
        request_id=pk.rid(), claim_id=own.id), metadata=grid)).claim
    assert (mine.status, mine.reviews[-1].reason) == (P.CLAIM_STATUS_WITHDRAWN, "撤回 (withdrawn)")
