"""The ledger over gRPC on PostgreSQL: awards, lots, deductions, redemptions, reversals,
batches, statements; concurrency and the invariants that tie balances, entries and lots."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.common.v1.paging_pb2 import PageRequest
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.events import unpack
from shanzhi_kit.pytest_plugin import rpc_error_details
from shanzhi_points.clock import CHINA
from shanzhi_points.tables import accounts, entries, lots, messaging
from sqlalchemy import func, select

pytestmark = pytest.mark.postgres

P = points_pb2


async def invariants_hold(pk: Any) -> None:
    """Every balance is the sum of its entries and of its lots; nothing is below zero."""
    async with pk.host.engine.connect() as conn:
        by_entries = dict((await conn.execute(
            select(entries.c.account_id, func.sum(entries.c.amount)).group_by(entries.c.account_id))).all())
        by_lots = dict((await conn.execute(
            select(lots.c.account_id, func.sum(lots.c.available)).group_by(lots.c.account_id))).all())
        balances = dict((await conn.execute(select(accounts.c.id, accounts.c.balance))).all())
        negative = (await conn.execute(select(func.count()).select_from(entries)
                                       .where(entries.c.balance_after < 0))).scalar_one()
    assert negative == 0
    for account_id, balance in balances.items():
        assert balance >= 0
        assert by_entries.get(account_id, 0) == balance, account_id
        assert by_lots.get(account_id, 0) == balance, account_id


async def test_an_award_makes_a_lot_an_entry_and_its_event(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, points_valid_months=24)
    home = await pk.household(village)
    entry = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)
    assert (entry.kind, entry.amount, entry.score, entry.balance_after) == (P.ENTRY_KIND_AWARD, 10, 10, 10)
    assert (entry.item_code, entry.item_name, entry.quantity, entry.year) == ("HJ-01", "庭院整洁", 2, 2025)
    assert entry.entry_date == pk.TODAY.isoformat() and entry.created_by == "tester"
    assert entry.subject == pk.ref(home) and entry.reason == "月度评议"
    account = await pk.account(pk.ref(home))
    assert account.balance == 10 and account.id == home.account_id
    got = await pk.stub.ListLots(P.ListLotsRequest(account_id=account.id), metadata=pk.ADMIN)
    assert [(lot.amount, lot.available, lot.entry_id, lot.expires_on) for lot in got.lots] == [
        (10, 10, entry.id, "2027-06-17")]
    async with pk.host.engine.connect() as conn:
        payload = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.key == account.id,
            messaging.outbox.c.event_type == "shanzhi.points.v1.EntryPostedEvent"))).scalar_one()
    data = events_pb2.EntryPostedEvent()
    assert event_pb2.EventEnvelope.FromString(payload).data.Unpack(data)
    assert (data.entry_id, data.amount, data.balance_after, data.kind) == (
        entry.id, 10, 10, P.ENTRY_KIND_AWARD)


async def test_a_retried_award_posts_once(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    request = P.AwardPointsRequest(request_id=pk.rid(), subject=pk.ref(home), scheme_id=scheme.id,
                                   item_code="HJ-01", occurred_on=pk.TODAY.isoformat(), reason="检查")
    # Concurrent retries queue on the account's lock and all get the first answer.
    replies = await asyncio.gather(*(pk.stub.AwardPoints(request, metadata=pk.ADMIN) for _ in range(5)))
    assert all(r.entry == replies[0].entry for r in replies)
    again = await pk.stub.AwardPoints(request, metadata=pk.ADMIN)
    assert again.entry == replies[0].entry
    assert (await pk.account(pk.ref(home))).balance == 5
    assert await pk.count(entries, entries.c.account_id == home.account_id) == 1
    assert await pk.count(messaging.outbox, messaging.outbox.c.key == home.account_id,
                          messaging.outbox.c.event_type == "shanzhi.points.v1.EntryPostedEvent") == 1


async def test_concurrent_awards_to_one_account_all_count_once(pk: Any) -> None:
    # Awards read the account without a lock and write only if it is unchanged; on one
    # busy account most must read again, and some end on the locked path.
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    replies = await asyncio.gather(*(pk.stub.AwardPoints(P.AwardPointsRequest(
        request_id=pk.rid(), subject=pk.ref(home), scheme_id=scheme.id, item_code="HJ-01",
        occurred_on=pk.TODAY.isoformat(), reason="检查"), metadata=pk.ADMIN) for _ in range(40)))
    assert sorted(r.entry.balance_after for r in replies) == list(range(5, 205, 5))
    assert (await pk.account(pk.ref(home))).balance == 200
    assert await pk.count(entries, entries.c.account_id == home.account_id) == 40
    assert await pk.count(lots, lots.c.account_id == home.account_id) == 40
    # The outbox numbers the account's events in the order the awards committed, which is
    # the order the relay publishes them in: balances rise by 5 from one to the next.
    outbox = messaging.outbox
    async with pk.host.engine.connect() as conn:
        payloads = (await conn.execute(select(outbox.c.payload).where(
            outbox.c.key == home.account_id,
            outbox.c.event_type == "shanzhi.points.v1.EntryPostedEvent").order_by(outbox.c.seq))).scalars()
        published = [unpack(event_pb2.EventEnvelope.FromString(p), events_pb2.EntryPostedEvent).balance_after
                     for p in payloads]
    assert published == list(range(5, 205, 5))
    await invariants_hold(pk)


async def test_a_retried_award_gets_its_answer_even_when_the_limit_is_now_reached(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, items=(pk.item("DL-01", 2, per_day=1),))
    home = await pk.household(village)
    request = P.AwardPointsRequest(request_id=pk.rid(), subject=pk.ref(home), scheme_id=scheme.id,
                                   item_code="DL-01", occurred_on=pk.TODAY.isoformat(), reason="值守")
    first_id = request.request_id
    first = await pk.stub.AwardPoints(request, metadata=pk.ADMIN)
    again = await pk.stub.AwardPoints(request, metadata=pk.ADMIN)
    assert again.entry == first.entry
    # A new award the same day is the one the limit refuses.
    request.request_id = pk.rid()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pk.stub.AwardPoints(request, metadata=pk.ADMIN)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "limit" in (refused.value.details() or "")
    # Another award under a request id already used is refused by name, and writes nothing.
    other = P.AwardPointsRequest(request_id=first_id, subject=pk.ref(home),
                                 scheme_id=scheme.id, item_code="DL-01",
                                 occurred_on=(pk.TODAY - timedelta(days=1)).isoformat(), reason="值守")
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await pk.stub.AwardPoints(other, metadata=pk.ADMIN)
    assert reused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in rpc_error_details(reused.value)] == ["request_id"]
    assert (await pk.account(pk.ref(home))).balance == 2
    assert await pk.count(entries, entries.c.account_id == home.account_id) == 1


async def test_deductions_take_the_oldest_lots_and_stop_at_zero(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    first = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=pk.TODAY - timedelta(days=3))
    second = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)
    deducted = await pk.award(pk.ref(home), scheme.id, "YF-01")
    assert (deducted.amount, deducted.score, deducted.balance_after) == (-10, -10, 5)
    lots_now = (await pk.stub.ListLots(P.ListLotsRequest(account_id=home.account_id,
                                                         include_spent=True), metadata=pk.ADMIN)).lots
    assert [(lot.entry_id, lot.available) for lot in lots_now] == [(first.id, 0), (second.id, 5)]
    beyond = await pk.award(pk.ref(home), scheme.id, "YF-01")
    # The balance stops at zero; the score keeps the whole deduction.
    assert (beyond.amount, beyond.score, beyond.balance_after) == (-5, -10, 0)
    assert (await pk.account(pk.ref(home))).balance == 0
    await invariants_hold(pk)


async def test_two_hundred_concurrent_redemptions_never_overdraw(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, items=(pk.item("BIG", 10),))
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "BIG", quantity=100)
    assert (await pk.account(pk.ref(home))).balance == 1000
    soap = await pk.goods(village, price=10, stock=500)

    async def redeem() -> Any:
        return await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
            request_id=pk.rid(), subject=pk.ref(home), goods_id=soap.id, quantity=1), metadata=pk.ADMIN)

    results = await asyncio.gather(*(redeem() for _ in range(200)), return_exceptions=True)
    won = [r for r in results if isinstance(r, P.ReserveRedemptionResponse)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 100 and len(lost) == 100
    assert {e.code() for e in lost} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert {f for e in lost for f, _ in rpc_error_details(e)} == {"quantity"}
    assert (await pk.account(pk.ref(home))).balance == 0
    goods = await pk.stub.GetGoods(P.GetGoodsRequest(id=soap.id), metadata=pk.ADMIN)
    assert goods.goods.stock == 400
    async with pk.host.engine.connect() as conn:
        after = (await conn.execute(select(entries.c.balance_after).where(
            entries.c.account_id == home.account_id).order_by(entries.c.seq))).scalars().all()
    # Every balance the account ever had, in order: 1000, 990, …, 10, 0.
    assert after == list(range(1000, -1, -10))
    await invariants_hold(pk)


async def test_a_retried_redemption_reserves_once_even_when_sent_together(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, items=(pk.item("BIG", 10),))
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "BIG", quantity=2)
    oil = await pk.goods(village, price=10, stock=5)
    request = P.ReserveRedemptionRequest(request_id=pk.rid(), subject=pk.ref(home), goods_id=oil.id,
                                         quantity=2)
    replies = await asyncio.gather(*(pk.stub.ReserveRedemption(request, metadata=pk.ADMIN)
                                     for _ in range(5)))
    assert len({r.redemption.id for r in replies}) == 1
    # The balance is spent now; a later retry still gets the first answer, not a refusal.
    again = await pk.stub.ReserveRedemption(request, metadata=pk.ADMIN)
    assert again.redemption == replies[0].redemption
    assert (await pk.account(pk.ref(home))).balance == 0
    assert (await pk.stub.GetGoods(P.GetGoodsRequest(id=oil.id), metadata=pk.ADMIN)).goods.stock == 3
    changed = P.ReserveRedemptionRequest(request_id=request.request_id, subject=pk.ref(home),
                                         goods_id=oil.id, quantity=1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReserveRedemption(changed, metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "request_id"
    await invariants_hold(pk)


async def test_a_cancelled_redemption_returns_points_to_their_lots(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    older = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=pk.TODAY - timedelta(days=10))
    newer = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=3)
    tea = await pk.goods(village, price=7, stock=1)
    reserved = (await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(home), goods_id=tea.id, quantity=1),
        metadata=pk.ADMIN)).redemption
    assert (reserved.points, reserved.status) == (7, P.REDEMPTION_STATUS_RESERVED)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
            request_id=pk.rid(), subject=pk.ref(home), goods_id=tea.id, quantity=1), metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0][0] == "quantity"

    def lots_by_entry(reply: Any) -> dict[str, int]:
        return {lot.entry_id: lot.available for lot in reply.lots}

    taken = lots_by_entry(await pk.stub.ListLots(P.ListLotsRequest(
        account_id=home.account_id, include_spent=True), metadata=pk.ADMIN))
    assert taken == {older.id: 0, newer.id: 13}
    cancelled = (await pk.stub.CancelRedemption(P.CancelRedemptionRequest(
        request_id=pk.rid(), redemption_id=reserved.id, reason="村民不需要了"),
        metadata=pk.ADMIN)).redemption
    assert cancelled.status == P.REDEMPTION_STATUS_CANCELLED and cancelled.cancel_entry_id
    back = lots_by_entry(await pk.stub.ListLots(P.ListLotsRequest(
        account_id=home.account_id, include_spent=True), metadata=pk.ADMIN))
    assert back == {older.id: 5, newer.id: 15}
    assert (await pk.stub.GetGoods(P.GetGoodsRequest(id=tea.id), metadata=pk.ADMIN)).goods.stock == 1
    for again in (P.CancelRedemptionRequest(request_id=pk.rid(), redemption_id=reserved.id, reason="x"),
                  P.PickUpRedemptionRequest(request_id=pk.rid(), redemption_id=reserved.id)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            call = (pk.stub.CancelRedemption if isinstance(again, P.CancelRedemptionRequest)
                    else pk.stub.PickUpRedemption)
            await call(again, metadata=pk.ADMIN)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    picked = (await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(home), goods_id=tea.id, quantity=1),
        metadata=pk.ADMIN)).redemption
    done = (await pk.stub.PickUpRedemption(P.PickUpRedemptionRequest(
        request_id=pk.rid(), redemption_id=picked.id), metadata=pk.ADMIN)).redemption
    assert done.status == P.REDEMPTION_STATUS_PICKED_UP and done.completed_by == "tester"
    await invariants_hold(pk)


async def test_reversals_undo_credits_and_deductions_once(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    credit = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=4)
    deduction = await pk.award(pk.ref(home), scheme.id, "YF-01")
    assert (await pk.account(pk.ref(home))).balance == 10

    async def reverse(entry_id: str) -> Any:
        return (await pk.stub.ReverseEntry(P.ReverseEntryRequest(
            request_id=pk.rid(), entry_id=entry_id, reason="评议有误，予以冲正"), metadata=pk.ADMIN)).entry

    undone = await reverse(deduction.id)
    assert (undone.kind, undone.amount, undone.score, undone.reverses_entry_id) == (
        P.ENTRY_KIND_REVERSAL, 10, 10, deduction.id)
    assert undone.entry_date == deduction.entry_date and undone.item_code == "YF-01"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await reverse(deduction.id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value) == [("entry_id", f"was already reversed by entry {undone.id}")]
    for not_reversible in (undone.id,):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await reverse(not_reversible)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    undone_credit = await reverse(credit.id)
    assert (undone_credit.amount, undone_credit.score, undone_credit.balance_after) == (-20, -20, 0)
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    assert [e.kind for e in statement.entries] == [P.ENTRY_KIND_AWARD, P.ENTRY_KIND_AWARD,
                                                   P.ENTRY_KIND_REVERSAL, P.ENTRY_KIND_REVERSAL]
    assert sum(e.amount for e in statement.entries) == statement.account.balance == 0
    await invariants_hold(pk)


async def test_statement_pages_and_filters_by_date(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    for days in (30, 20, 10, 0):
        await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=pk.TODAY - timedelta(days=days))
    seen, token = [], ""
    while True:
        page = await pk.stub.GetStatement(P.GetStatementRequest(
            account_id=home.account_id, page=PageRequest(page_size=3, page_token=token)), metadata=pk.ADMIN)
        seen += [e.entry_date for e in page.entries]
        token = page.page_info.next_page_token
        if not token:
            break
    assert seen == [(pk.TODAY - timedelta(days=d)).isoformat() for d in (30, 20, 10, 0)]
    window = await pk.stub.GetStatement(P.GetStatementRequest(
        account_id=home.account_id, from_date=(pk.TODAY - timedelta(days=25)).isoformat(),
        to_date=(pk.TODAY - timedelta(days=5)).isoformat()), metadata=pk.ADMIN)
    assert [e.entry_date for e in window.entries] == [
        (pk.TODAY - timedelta(days=d)).isoformat() for d in (20, 10)]


async def test_lots_expire_on_their_last_day_without_anyone_asking(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, points_valid_months=1)
    home = await pk.household(village)
    old = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 20))
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)
    assert (await pk.account(pk.ref(home))).balance == 15
    pk.clock.advance(timedelta(days=1))  # 2025-06-19: the lot of May 20 lasted until June 19
    await asyncio.sleep(0.6)
    assert (await pk.account(pk.ref(home))).balance == 15
    pk.clock.advance(timedelta(days=1))
    for _ in range(50):
        if (await pk.account(pk.ref(home))).balance == 10:
            break
        await asyncio.sleep(0.1)
    statement = await pk.stub.GetStatement(P.GetStatementRequest(account_id=home.account_id),
                                           metadata=pk.ADMIN)
    expiry = statement.entries[-1]
    assert (expiry.kind, expiry.amount, expiry.score, expiry.created_by) == (
        P.ENTRY_KIND_EXPIRY, -5, 0, "system")
    assert statement.account.balance == 10
    lots_now = (await pk.stub.ListLots(P.ListLotsRequest(account_id=home.account_id, include_spent=True),
                                       metadata=pk.ADMIN)).lots
    assert (lots_now[0].entry_id, lots_now[0].available, lots_now[0].closed) == (old.id, 0, True)
    # Reversing the expired credit takes nothing more from the balance: its points left it
    # once, when the lot expired. The balance is what it would be without the credit.
    undone = (await pk.stub.ReverseEntry(P.ReverseEntryRequest(
        request_id=pk.rid(), entry_id=old.id, reason="评议有误，予以冲正"), metadata=pk.ADMIN)).entry
    assert (undone.amount, undone.score, undone.balance_after) == (0, -5, 10)
    await invariants_hold(pk)


async def test_reversing_a_partly_spent_then_expired_credit_takes_back_only_what_was_spent(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, points_valid_months=1)
    home = await pk.household(village)
    wrong = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2, occurred_on=date(2025, 5, 20))
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)  # 10 points, not expiring soon
    soap = await pk.goods(village, price=4, stock=1)
    reserved = (await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(home), goods_id=soap.id, quantity=1),
        metadata=pk.ADMIN)).redemption
    await pk.stub.PickUpRedemption(P.PickUpRedemptionRequest(
        request_id=pk.rid(), redemption_id=reserved.id), metadata=pk.ADMIN)
    pk.clock.advance(timedelta(days=2))  # the May lot (10, 4 of them spent) expires with 6 left
    for _ in range(50):
        if (await pk.account(pk.ref(home))).balance == 10:
            break
        await asyncio.sleep(0.1)
    assert (await pk.account(pk.ref(home))).balance == 10
    undone = (await pk.stub.ReverseEntry(P.ReverseEntryRequest(
        request_id=pk.rid(), entry_id=wrong.id, reason="评议有误，予以冲正"), metadata=pk.ADMIN)).entry
    # Without the wrong credit the soap's 4 points would have come from the other lot.
    assert (undone.amount, undone.score, undone.balance_after) == (-4, -10, 6)
    await invariants_hold(pk)


async def test_a_weekly_limit_counts_the_whole_week_across_new_year(pk: Any) -> None:
    village = pk.village()
    weekly = (pk.item("WS-01", 2, name="环境卫生周评", per_week=1),)
    old_year = await pk.scheme(village, items=weekly)
    new_year = await pk.scheme(village, items=weekly, year=2026, effective_from=date(2026, 1, 1))
    home = await pk.household(village)
    pk.clock.set(datetime.combine(date(2026, 1, 2), time(10), CHINA))
    # Wednesday 2025-12-31 and Friday 2026-01-02 lie in one week (Monday 12-29 to Sunday 01-04).
    await pk.award(pk.ref(home), old_year.id, "WS-01", occurred_on=date(2025, 12, 31))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.award(pk.ref(home), new_year.id, "WS-01", occurred_on=date(2026, 1, 2))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [(field, description)] = rpc_error_details(err.value)
    assert field == "item_code" and "2025-12-29" in description
    # The next week is a new one.
    pk.clock.set(datetime.combine(date(2026, 1, 5), time(10), CHINA))
    assert (await pk.award(pk.ref(home), new_year.id, "WS-01", occurred_on=date(2026, 1, 5))).amount == 2


async def test_reversing_a_credit_whose_lot_is_just_past_its_day_takes_nothing_more(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, points_valid_months=1)
    home = await pk.household(village)
    old = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 20))
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)
    pk.clock.advance(timedelta(days=2))
    # At once, before the expiry job has had a turn: the reversal expires the lot itself.
    undone = (await pk.stub.ReverseEntry(P.ReverseEntryRequest(
        request_id=pk.rid(), entry_id=old.id, reason="评议有误，予以冲正"), metadata=pk.ADMIN)).entry
    assert (undone.amount, undone.score, undone.balance_after) == (0, -5, 10)
    await invariants_hold(pk)


async def test_a_credit_spent_on_a_reservation_is_reversed_once_the_reservation_is_settled(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    wrong = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)  # 10 points, all spent below
    soap = await pk.goods(village, price=10, stock=5)
    reserved = (await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(home), goods_id=soap.id, quantity=1),
        metadata=pk.ADMIN)).redemption

    async def reverse() -> Any:
        return (await pk.stub.ReverseEntry(P.ReverseEntryRequest(
            request_id=pk.rid(), entry_id=wrong.id, reason="评议有误，予以冲正"), metadata=pk.ADMIN)).entry

    # Cancelling would put the 10 points back into the credit's lot: settle it first.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await reverse()
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [(field, description)] = rpc_error_details(err.value)
    assert field == "entry_id" and reserved.id in description
    await pk.stub.CancelRedemption(P.CancelRedemptionRequest(
        request_id=pk.rid(), redemption_id=reserved.id, reason="村民不需要了"), metadata=pk.ADMIN)
    undone = await reverse()
    assert (undone.amount, undone.balance_after) == (-10, 0)
    await invariants_hold(pk)


async def test_a_deduction_reversed_after_the_credit_it_spent_gives_nothing_back(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    wrong = await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)  # 10 points
    fine = await pk.award(pk.ref(home), scheme.id, "YF-01")  # −10, from the credit's lot
    assert fine.balance_after == 0

    async def reverse(entry_id: str) -> Any:
        return (await pk.stub.ReverseEntry(P.ReverseEntryRequest(
            request_id=pk.rid(), entry_id=entry_id, reason="冲正"), metadata=pk.ADMIN)).entry

    # The credit is reversed with nothing left to take; its lot closes, so undoing the fine
    # later cannot refill it with points that were never earned.
    assert (await reverse(wrong.id)).amount == 0
    undone_fine = await reverse(fine.id)
    assert (undone_fine.amount, undone_fine.score, undone_fine.balance_after) == (0, 10, 0)
    await invariants_hold(pk)


async def test_the_shelf_lists_only_goods_that_can_be_redeemed_now(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=4)
    last = await pk.goods(village, price=5, stock=1)
    soap = await pk.goods(village, price=2, stock=3)
    await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(home), goods_id=last.id, quantity=1), metadata=pk.ADMIN)
    shelf = await pk.stub.ListGoods(P.ListGoodsRequest(region_code_prefix=village, active_only=True),
                                    metadata=pk.ADMIN)
    assert [g.id for g in shelf.goods] == [soap.id]
    every = await pk.stub.ListGoods(P.ListGoodsRequest(region_code_prefix=village), metadata=pk.ADMIN)
    assert {g.id for g in every.goods} == {last.id, soap.id}
