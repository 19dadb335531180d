"""The same service on the zero-setup SQLite file (make run): migrations, awards, a batch,
a redemption and its cancellation, a claim through publicity, a ranking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shanzhi.common.v1.paging_pb2 import PageRequest
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.pytest_plugin import auth_metadata
from shanzhi_points.tables import accounts, entries, lots
from sqlalchemy import func, select


async def test_the_ledger_runs_on_sqlite_too(lite: Any) -> None:
    village = lite.village()
    scheme = await lite.scheme(village, claim_publicity_days=1)
    homes = [await lite.household(village) for _ in range(3)]
    await lite.award(lite.ref(homes[0]), scheme.id, "HJ-01", quantity=4)
    deducted = await lite.award(lite.ref(homes[0]), scheme.id, "YF-01")
    assert deducted.balance_after == 10
    batch = (await lite.stub.ScoreBatch(P.ScoreBatchRequest(
        request_id=lite.rid(), batch_key="2025-06", scheme_id=scheme.id, title="6月检查",
        lines=[P.BatchLine(subject=lite.ref(h), item_code="HJ-01", occurred_on=lite.TODAY.isoformat())
               for h in homes for _ in range(2)]), metadata=lite.ADMIN)).batch
    assert batch.entry_count == 6
    soap = await lite.goods(village, price=7)
    reserved = (await lite.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=lite.rid(), subject=lite.ref(homes[0]), goods_id=soap.id, quantity=2),
        metadata=lite.ADMIN)).redemption
    assert (await lite.account(lite.ref(homes[0]))).balance == 6
    await lite.stub.CancelRedemption(P.CancelRedemptionRequest(
        request_id=lite.rid(), redemption_id=reserved.id, reason="取消"), metadata=lite.ADMIN)
    assert (await lite.account(lite.ref(homes[0]))).balance == 20
    claim = (await lite.stub.SubmitClaim(P.SubmitClaimRequest(
        request_id=lite.rid(), subject=lite.ref(homes[1]), scheme_id=scheme.id, item_code="HJ-01",
        occurred_on=lite.TODAY.isoformat(), source=P.CLAIM_SOURCE_RECORDED), metadata=lite.ADMIN)).claim
    # Another member of the review group (评议小组) than the recorder decides, saying why.
    await lite.stub.ReviewClaim(P.ReviewClaimRequest(
        request_id=lite.rid(), claim_id=claim.id, decision=P.REVIEW_DECISION_APPROVE, reason="属实"),
        metadata=auth_metadata(lite.COUNTY, roles=("county_officer",), subject="reviewer-1"))
    lite.clock.advance(timedelta(days=1, seconds=1))
    assert (await lite.account(lite.ref(homes[1]))).balance == 15
    ranking = await lite.stub.ListRanking(P.ListRankingRequest(
        region_code_prefix=village, subject_kind=P.SUBJECT_KIND_HOUSEHOLD, from_date="2025-01-01",
        to_date="2025-12-31"), metadata=lite.ADMIN)
    assert [(r.rank, r.score) for r in ranking.rows] == [(1, 20), (2, 15), (3, 10)]
    async with lite.host.engine.connect() as conn:
        for account_id, balance in (await conn.execute(select(accounts.c.id, accounts.c.balance))).all():
            by_entries = (await conn.execute(select(func.coalesce(func.sum(entries.c.amount), 0)).where(
                entries.c.account_id == account_id))).scalar_one()
            by_lots = (await conn.execute(select(func.coalesce(func.sum(lots.c.available), 0)).where(
                lots.c.account_id == account_id))).scalar_one()
            assert balance == by_entries == by_lots


async def test_a_claim_whose_entry_is_reversed_shows_it_on_sqlite(lite: Any) -> None:
    village = lite.village()
    scheme = await lite.scheme(village, claim_publicity_days=1)
    home = await lite.household(village)
    claim = (await lite.stub.SubmitClaim(P.SubmitClaimRequest(
        request_id=lite.rid(), subject=lite.ref(home), scheme_id=scheme.id, item_code="HJ-01",
        occurred_on=lite.TODAY.isoformat(), source=P.CLAIM_SOURCE_RECORDED), metadata=lite.ADMIN)).claim
    await lite.stub.ReviewClaim(P.ReviewClaimRequest(
        request_id=lite.rid(), claim_id=claim.id, decision=P.REVIEW_DECISION_APPROVE, reason="属实"),
        metadata=auth_metadata(lite.COUNTY, roles=("county_officer",), subject="reviewer-1"))
    lite.clock.advance(timedelta(days=1, seconds=1))
    assert (await lite.account(lite.ref(home))).balance == 5
    posted = (await lite.stub.GetClaim(P.GetClaimRequest(id=claim.id), metadata=lite.ADMIN)).claim
    reversal = (await lite.stub.ReverseEntry(P.ReverseEntryRequest(
        request_id=lite.rid(), entry_id=posted.entry_id, reason="重复申报"), metadata=lite.ADMIN)).entry
    done = (await lite.stub.GetClaim(P.GetClaimRequest(id=claim.id), metadata=lite.ADMIN)).claim
    assert (done.status, done.entry_id, done.reversal_entry_id) == (
        P.CLAIM_STATUS_REVERSED, posted.entry_id, reversal.id)
    assert (done.reviews[-1].reviewer, done.reviews[-1].reason) == ("tester", "冲正 (reversed): 重复申报")
    assert (await lite.account(lite.ref(home))).balance == 0


async def test_objections_and_second_pages_work_on_sqlite(lite: Any) -> None:
    # SQLite gives back times without their zone: a window's end is still compared, and a
    # page token still made, as the UTC time it is.
    village = lite.village()
    scheme = await lite.scheme(village, claim_publicity_days=3)
    home = await lite.household(village)
    made = []
    for _ in range(3):
        made.append((await lite.stub.SubmitClaim(P.SubmitClaimRequest(
            request_id=lite.rid(), subject=lite.ref(home), scheme_id=scheme.id, item_code="HJ-01",
            occurred_on=lite.TODAY.isoformat(), source=P.CLAIM_SOURCE_RECORDED),
            metadata=lite.ADMIN)).claim)
    seen, token = [], ""
    while True:
        page = await lite.stub.ListClaims(P.ListClaimsRequest(
            region_code_prefix=village, page=PageRequest(page_size=2, page_token=token)), metadata=lite.ADMIN)
        seen += [c.id for c in page.claims]
        token = page.page_info.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(c.id for c in made) and len(seen) == 3
    await lite.stub.ReviewClaim(P.ReviewClaimRequest(
        request_id=lite.rid(), claim_id=made[0].id, decision=P.REVIEW_DECISION_APPROVE, reason="属实"),
        metadata=auth_metadata(lite.COUNTY, roles=("county_officer",), subject="reviewer-1"))
    objected = (await lite.stub.ObjectToClaim(P.ObjectToClaimRequest(
        request_id=lite.rid(), claim_id=made[0].id, reason="邻居反映不实"), metadata=lite.ADMIN)).claim
    assert objected.status == P.CLAIM_STATUS_PENDING_REVIEW
