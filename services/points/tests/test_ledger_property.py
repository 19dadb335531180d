"""Property test on PostgreSQL: random sequences of awards, deductions, redemptions,
cancellations, reversals and the passing of days, through gRPC, held against the
in-memory reference ledger. Balance, lots and refusals must agree at every step."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import grpc
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.db import make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_points import SERVICE, TOPIC
from shanzhi_points.ledger import InsufficientPoints, MemoryEntry, MemoryLedger, expiry_date
from shanzhi_points.publicity import Finaliser
from shanzhi_points.tables import accounts, entries, lots, messaging
from sqlalchemy import func, select

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

VALID_MONTHS = 1

op = st.one_of(
    st.tuples(st.just("credit"), st.integers(1, 40)),
    st.tuples(st.just("deduct"), st.integers(1, 30)),
    st.tuples(st.just("spend"), st.integers(1, 40)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
    st.tuples(st.just("wait"), st.integers(1, 20)),
)


class Ground:
    village: str
    scheme: P.Scheme
    goods: P.Goods


@pytest_asyncio.fixture(scope="module")
async def ground(pk: Any) -> Ground:
    g = Ground()
    g.village = pk.village()
    g.scheme = await pk.scheme(g.village, points_valid_months=VALID_MONTHS, items=(
        pk.item("ONE", 1), pk.item("NEG", 1, sign=P.ITEM_SIGN_NEGATIVE)))
    g.goods = await pk.goods(g.village, price=1, stock=1_000_000)
    return g


async def db_state(pk: Any, account_id: str, today: date) -> tuple[int, list[tuple[Any, ...]], int, int]:
    async with pk.host.engine.connect() as conn:
        balance = (await conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id))
                   ).scalar_one()
        live = (await conn.execute(
            select(lots.c.lot_date, lots.c.amount, lots.c.available)
            .where(lots.c.account_id == account_id, lots.c.closed.is_(False),
                   (lots.c.expires_on.is_(None)) | (lots.c.expires_on >= today))
            .order_by(lots.c.lot_date, lots.c.id))).all()
        by_entries = (await conn.execute(select(func.coalesce(func.sum(entries.c.amount), 0)).where(
            entries.c.account_id == account_id))).scalar_one()
        in_lots = (await conn.execute(select(func.coalesce(func.sum(lots.c.available), 0)).where(
            lots.c.account_id == account_id))).scalar_one()
    return balance, [tuple(r) for r in live], int(by_entries), int(in_lots)


def model_live(ledger: MemoryLedger, today: date) -> list[tuple[Any, ...]]:
    return [(lot.lot_date, lot.amount, lot.available)
            for lot in sorted(ledger.lots.values(), key=lambda lot: (lot.lot_date, lot.id))
            if lot.live(today)]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op, min_size=1, max_size=18))
async def test_the_database_ledger_follows_the_reference_ledger(
        pk: Any, ground: Ground, ops: list[tuple[str, int]]) -> None:
    start_offset = pk.clock.offset
    try:
        await run_sequence(pk, ground, ops)
    finally:
        pk.clock.offset = start_offset


async def run_sequence(pk: Any, g: Ground, ops: list[tuple[str, int]]) -> None:
    home = await pk.household(g.village)
    subject = pk.ref(home)
    model = MemoryLedger()
    spends: list[tuple[str, MemoryEntry]] = []
    scored: list[tuple[str, MemoryEntry]] = []
    cancelled: set[str] = set()
    reversed_: set[str] = set()
    for name, n in ops:
        today = pk.clock.today()
        if name in ("credit", "deduct"):
            entry = await pk.award(subject, g.scheme.id, "ONE" if name == "credit" else "NEG",
                                   quantity=n, occurred_on=today)
            expected = (model.credit(n, today, expiry_date(today, VALID_MONTHS)) if name == "credit"
                        else model.deduct(n, today))
            assert (entry.amount, entry.score) == (expected.amount, expected.score)
            scored.append((entry.id, expected))
        elif name == "spend":
            try:
                expected = model.spend(n, today)
            except InsufficientPoints:
                expected = None
            try:
                reply = await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
                    request_id=pk.rid(), subject=subject, goods_id=g.goods.id, quantity=n),
                    metadata=pk.ADMIN)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert expected is None, "the database refused a spend the reference allows"
                continue
            assert expected is not None, "the database allowed a spend the reference refuses"
            spends.append((reply.redemption.id, expected))
        elif name == "cancel" and spends:
            redemption_id, spent = spends[n % len(spends)]
            if redemption_id in cancelled:
                continue
            cancelled.add(redemption_id)
            model.cancel_spend(spent, today)
            await pk.stub.CancelRedemption(P.CancelRedemptionRequest(
                request_id=pk.rid(), redemption_id=redemption_id, reason="取消"), metadata=pk.ADMIN)
        elif name == "reverse" and scored:
            entry_id, original = scored[n % len(scored)]
            if entry_id in reversed_:
                continue
            reversed_.add(entry_id)
            expected = model.reverse(original, today)
            reply = await pk.stub.ReverseEntry(P.ReverseEntryRequest(
                request_id=pk.rid(), entry_id=entry_id, reason="冲正"), metadata=pk.ADMIN)
            assert (reply.entry.amount, reply.entry.score) == (expected.amount, expected.score)
        elif name == "wait":
            if today + timedelta(days=n) > date(today.year, 12, 31):
                continue
            pk.clock.advance(timedelta(days=n))
            continue
        else:
            continue
        balance, live, by_entries, in_lots = await db_state(pk, home.account_id, pk.clock.today())
        assert balance == by_entries == in_lots >= 0
        # Lots usable today hold exactly what the reference says: spent oldest first.
        assert live == model_live(model, pk.clock.today())
    finaliser = Finaliser(make_sessionmaker(pk.host.engine),
                          Outbox(messaging.outbox, source=SERVICE, topic=TOPIC), pk.clock)
    await finaliser.expire_due_lots()
    model.expire(pk.clock.today())
    balance, live, by_entries, in_lots = await db_state(pk, home.account_id, pk.clock.today())
    assert balance == model.balance == by_entries == in_lots
    assert live == model_live(model, pk.clock.today())
