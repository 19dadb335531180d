"""Property tests on PostgreSQL: random sequences of awards, deductions, redemptions,
cancellations, reversals and the passing of days, through gRPC, held against the
in-memory reference ledger (积分台账). Balance, lots and refusals must agree at every step.

The second test runs over several scheme years and adds the annual cycle close
(年度结算) through ``CloseCycle``, under both policies: reset (年度清零) and carry-over
(结转), with the next year's base score (年度基础分), late awards into the year just
ended, and writes into a closed year, which are refused (年度已结算).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import grpc
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.db import make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_kit.pytest_plugin import rpc_error_details
from shanzhi_points import SERVICE, TOPIC
from shanzhi_points.clock import CHINA
from shanzhi_points.ledger import (
    InsufficientPoints,
    MemoryEntry,
    MemoryLedger,
    ReservedSpend,
    expiry_date,
    plan_reset,
)
from shanzhi_points.publicity import Finaliser
from shanzhi_points.tables import accounts, entries, lots, messaging
from sqlalchemy import func, select

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

VALID_MONTHS = 1


def ledger_ops(*, deduct: int, spend: int, wait: int) -> list[st.SearchStrategy[tuple[str, int]]]:
    """Steps on one account: credits, deductions, spends (redemptions), cancellations,
    reversals and days passing, each with its largest amount or count."""
    return [
        st.tuples(st.just("credit"), st.integers(1, 40)),
        st.tuples(st.just("deduct"), st.integers(1, deduct)),
        st.tuples(st.just("spend"), st.integers(1, spend)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("reverse"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(1, wait)),
    ]


op = st.one_of(*ledger_ops(deduct=30, spend=40, wait=20))


async def reversal_refused_for_a_reservation(pk: Any, request: P.ReverseEntryRequest) -> None:
    """The service refuses a reversal the reference refuses: a reservation took from the lot."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReverseEntry(request, metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    field, description = rpc_error_details(err.value)[0]
    assert field == "entry_id" and "still reserved" in description


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
            request = P.ReverseEntryRequest(request_id=pk.rid(), entry_id=entry_id, reason="冲正")
            try:
                expected = model.reverse(original, today)
            except ReservedSpend:
                await reversal_refused_for_a_reservation(pk, request)
                continue
            reversed_.add(entry_id)
            reply = await pk.stub.ReverseEntry(request, metadata=pk.ADMIN)
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


# -- across cycle closes (年度结算) -------------------------------------------------------

#: The years a sequence may reach: it starts in the first and may move on twice.
YEARS = (2025, 2026, 2027)
RESET, CARRY_OVER = P.CYCLE_POLICY_RESET, P.CYCLE_POLICY_CARRY_OVER
CLOSED_YEAR = "the scheme's {year} cycle is closed (年度已结算)"


@dataclass(frozen=True)
class YearRules:
    """What a year's scheme (积分方案) says about its points."""

    policy: int
    valid_months: int
    base_score: int


year_rules = st.builds(YearRules, st.sampled_from([RESET, CARRY_OVER]), st.sampled_from([0, 2, 12]),
                       st.sampled_from([0, 6]))

cycle_op = st.one_of(
    *ledger_ops(deduct=15, spend=25, wait=40),
    st.tuples(st.just("credit"), st.integers(1, 40)),
    # An award under last year's scheme (late2: the year before's) dated its last day: a
    # credit, or a deduction if < 0.
    st.tuples(st.sampled_from(["late", "late2"]), st.integers(-20, 20).filter(bool)),
    st.tuples(st.just("new_year"), st.integers(0, 20)),
    st.tuples(st.just("close"), st.integers(0, 19)),
)


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), CHINA).astimezone(UTC)


@dataclass
class Cycles:
    """One household's run over the years, with the reference ledger it is held to."""

    pk: Any
    rules: dict[int, YearRules]
    finaliser: Finaliser
    village: str = ""
    account_id: str = ""
    subject: P.SubjectRef | None = None
    goods: P.Goods | None = None
    schemes: dict[int, P.Scheme] = field(default_factory=dict)
    closed: list[int] = field(default_factory=list)
    based: set[int] = field(default_factory=set)
    model: MemoryLedger = field(default_factory=MemoryLedger)
    spends: list[tuple[str, MemoryEntry]] = field(default_factory=list)
    scored: list[tuple[str, MemoryEntry, int]] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)
    reversed_: set[str] = field(default_factory=set)

    async def open_year(self, year: int) -> None:
        rules = self.rules[year]
        self.schemes[year] = await self.pk.scheme(
            self.village, year=year, effective_from=date(year, 1, 1), cycle_policy=rules.policy,
            points_valid_months=rules.valid_months, base_score=rules.base_score,
            items=(self.pk.item("ONE", 1), self.pk.item("NEG", 1, sign=P.ITEM_SIGN_NEGATIVE)))

    async def award(self, year: int, points: int, day: date) -> None:
        """Points under ``year``'s scheme on ``day``: a credit if > 0, a deduction if < 0."""
        assert self.subject is not None
        call = self.pk.award(self.subject, self.schemes[year].id, "ONE" if points > 0 else "NEG",
                             quantity=abs(points), occurred_on=day)
        if year in self.closed:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert rpc_error_details(err.value)[0] == ("scheme_id", CLOSED_YEAR.format(year=year))
            return
        entry = await call
        today = self.pk.clock.today()
        expected = (self.model.credit(points, day, expiry_date(day, self.rules[year].valid_months))
                    if points > 0 else self.model.deduct(-points, today))
        assert (entry.amount, entry.score, entry.year) == (expected.amount, expected.score, year)
        self.scored.append((entry.id, expected, year))

    async def close(self, year: int) -> None:
        """Close ``year``'s cycle (年度结算) through the service, and the reference as it does:
        lots past their day expire; under a reset every lot dated in the year or before is
        closed and what it holds is cleared (年度清零); if the year's scheme has a base score,
        the account starts the next year with the next year's base score (年度基础分), once."""
        pk, model, today = self.pk, self.model, self.pk.clock.today()
        reply = await pk.stub.CloseCycle(P.CloseCycleRequest(
            request_id=pk.rid(), scheme_id=self.schemes[year].id), metadata=pk.ADMIN)
        rules = self.rules[year]
        model.expire(today)
        cleared = opened = 0
        if rules.policy == RESET:
            # One reset entry if points are cleared; lots already used up close without one.
            plan = plan_reset(model.lot_list(), year, today)
            if plan.moves:
                cleared = -model.reset(year, today).amount
            for lot_id in plan.closes:
                model.lots[lot_id].closed = True
        # The next year's base: its adopted scheme's, or, while it has none, this year's.
        following = self.rules.get(year + 1)
        base = (following.base_score if year + 1 in self.schemes and following is not None
                else rules.base_score)
        if rules.base_score > 0 and base > 0 and year + 1 not in self.based:
            model.credit(base, date(year + 1, 1, 1))
            self.based.add(year + 1)
            opened = 1
        close = reply.close
        assert (close.year, close.policy, close.accounts, close.points_reset, close.base_scores_opened
                ) == (year, rules.policy, 1, cleared, opened)
        self.closed.append(year)

    async def close_refused(self, year: int, why: str) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await self.pk.stub.CloseCycle(P.CloseCycleRequest(
                request_id=self.pk.rid(), scheme_id=self.schemes[year].id), metadata=self.pk.ADMIN)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert rpc_error_details(err.value)[0] == ("scheme_id", why)

    async def settle_expiries(self) -> None:
        """Run the expiry job (积分过期) until no lot of the account is past its day; the
        service's own job may hold the account for a moment."""
        for _ in range(200):
            await self.finaliser.expire_due_lots()
            if not await self.pk.count(
                    lots, lots.c.account_id == self.account_id, lots.c.closed.is_(False),
                    lots.c.available > 0, lots.c.expires_on < self.pk.clock.today()):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("lots past their day were never expired")

    async def check(self) -> None:
        """The database against the reference, after expiries have run on both."""
        await self.settle_expiries()
        self.model.expire(self.pk.clock.today())
        async with self.pk.host.engine.connect() as conn:
            account = (await conn.execute(select(accounts.c.balance, accounts.c.closed_cycle_year)
                                          .where(accounts.c.id == self.account_id))).one()
            all_lots = [tuple(r) for r in (await conn.execute(
                select(lots.c.lot_date, lots.c.amount, lots.c.available, lots.c.expires_on, lots.c.closed)
                .where(lots.c.account_id == self.account_id).order_by(lots.c.lot_date, lots.c.id)))]
            posted = [tuple(r) for r in (await conn.execute(
                select(entries.c.amount, entries.c.score).where(entries.c.account_id == self.account_id)
                .order_by(entries.c.seq)))]
        balance = account.balance
        assert balance == sum(amount for amount, _ in posted) == sum(r[2] for r in all_lots)
        assert balance == self.model.balance >= 0
        assert all(0 <= available <= amount for _, amount, available, _, _ in all_lots)
        # Every lot, closed or not, holds what the reference says: spends and deductions took
        # the oldest lots first, expiries and resets closed the same lots.
        assert all_lots == [(lot.lot_date, lot.amount, lot.available, lot.expires_on, lot.closed)
                            for lot in sorted(self.model.lots.values(), key=lambda x: (x.lot_date, x.id))]
        # The same entries; their order may differ where the service's own expiry job wrote an
        # expiry before an award rather than after it.
        assert Counter(posted) == Counter((e.amount, e.score) for e in self.model.entries)
        assert account.closed_cycle_year == (self.closed[-1] if self.closed else None)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
# A reset year with a base score, then a carry-over year: points cleared, the base score
# opened, a cancellation after the reset, late writes and a reversal into closed years
# refused, a second close and an early one refused.
@example(rules=(YearRules(RESET, 0, 6), YearRules(CARRY_OVER, 2, 4), YearRules(RESET, 0, 0)),
         opening=10, before=[("spend", 4), ("credit", 5), ("new_year", 3), ("credit", 7),
                 ("late", 2), ("spend", 12)],
         new_year_day=5,
         after=[("close", 1), ("cancel", 0), ("late", 3), ("reverse", 0), ("spend", 2),
                ("credit", 3), ("close", 0), ("close", 4), ("late2", -4), ("reverse", 4)])
# A carry-over year, then a reset year with a base score: a spend across two years' lots,
# a cancellation into a carried lot, and the reset clearing the carried lots with its own.
@example(rules=(YearRules(CARRY_OVER, 0, 0), YearRules(RESET, 0, 6), YearRules(CARRY_OVER, 0, 5)),
         opening=20, before=[("wait", 30), ("credit", 8), ("spend", 5), ("new_year", 0), ("credit", 6),
                             ("deduct", 4), ("spend", 20)],
         new_year_day=10,
         after=[("cancel", 0), ("late", 2), ("close", 1), ("late", 1), ("reverse", 1), ("credit", 2),
                ("spend", 6), ("cancel", 1)])
@given(rules=st.tuples(year_rules, year_rules, year_rules),
       opening=st.integers(1, 40),
       before=st.lists(cycle_op, min_size=1, max_size=14),
       new_year_day=st.integers(0, 20),
       after=st.lists(cycle_op, max_size=10))
async def test_the_database_ledger_follows_the_reference_ledger_across_cycle_closes(
        pk: Any, rules: tuple[YearRules, ...], opening: int, before: list[tuple[str, int]],
        new_year_day: int, after: list[tuple[str, int]]) -> None:
    """Every sequence starts with a credit, moves into a new year and closes the oldest open
    cycle at least once (unless it already reached the last year), then writes on."""
    start_offset = pk.clock.offset
    finaliser = Finaliser(make_sessionmaker(pk.host.engine),
                          Outbox(messaging.outbox, source=SERVICE, topic=TOPIC), pk.clock)
    run = Cycles(pk, dict(zip(YEARS, rules, strict=True)), finaliser)
    try:
        await run_cycles(run, [("credit", opening), *before, ("new_year", new_year_day), ("close", 1),
                               *after])
    finally:
        pk.clock.offset = start_offset


async def run_cycles(run: Cycles, ops: list[tuple[str, int]]) -> None:
    pk, model = run.pk, run.model
    run.village = pk.village()
    await run.open_year(YEARS[0])
    run.goods = await pk.goods(run.village, price=1, stock=1_000_000)
    home = await pk.household(run.village)
    run.account_id, run.subject = home.account_id, pk.ref(home)
    # A household on the roster from the first year starts it at the scheme's base score.
    if run.rules[YEARS[0]].base_score > 0:
        model.credit(run.rules[YEARS[0]].base_score, pk.clock.today())
        run.based.add(YEARS[0])
    for name, n in ops:
        today = pk.clock.today()
        if name in ("credit", "deduct"):
            await run.award(today.year, n if name == "credit" else -n, today)
        elif name in ("late", "late2"):
            year = today.year - (1 if name == "late" else 2)
            if year not in run.schemes:
                continue
            await run.award(year, n, date(year, 12, 31))
        elif name == "spend":
            try:
                expected = model.spend(n, today)
            except InsufficientPoints:
                expected = None
            assert run.goods is not None
            try:
                reply = await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
                    request_id=pk.rid(), subject=run.subject, goods_id=run.goods.id, quantity=n),
                    metadata=pk.ADMIN)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert expected is None, "the database refused a spend the reference allows"
                continue
            assert expected is not None, "the database allowed a spend the reference refuses"
            assert reply.redemption.points == n
            run.spends.append((reply.redemption.id, expected))
        elif name == "cancel" and run.spends:
            redemption_id, spent = run.spends[n % len(run.spends)]
            if redemption_id in run.cancelled:
                continue
            run.cancelled.add(redemption_id)
            # Points go back to the lots they came from; lots that expired or a reset closed
            # since keep nothing.
            expected = model.cancel_spend(spent, today)
            back = (await pk.stub.CancelRedemption(P.CancelRedemptionRequest(
                request_id=pk.rid(), redemption_id=redemption_id, reason="取消"), metadata=pk.ADMIN)
                    ).redemption
            assert back.status == P.REDEMPTION_STATUS_CANCELLED
            returned = (await pk.stub.BatchGetEntries(P.BatchGetEntriesRequest(
                ids=[back.cancel_entry_id]), metadata=pk.ADMIN)).entries
            assert [e.amount for e in returned] == [expected.amount]
        elif name == "reverse" and run.scored:
            entry_id, original, year = run.scored[n % len(run.scored)]
            if entry_id in run.reversed_:
                continue
            request = P.ReverseEntryRequest(request_id=pk.rid(), entry_id=entry_id, reason="冲正")
            if year in run.closed:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await pk.stub.ReverseEntry(request, metadata=pk.ADMIN)
                assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert rpc_error_details(err.value)[0] == (
                    "entry_id", "the entry's scheme year is closed (年度已结算)")
                continue
            try:
                expected = model.reverse(original, today)
            except ReservedSpend:
                await reversal_refused_for_a_reservation(pk, request)
                continue
            run.reversed_.add(entry_id)
            reply = await pk.stub.ReverseEntry(request, metadata=pk.ADMIN)
            assert (reply.entry.amount, reply.entry.score) == (expected.amount, expected.score)
        elif name == "wait":
            if today + timedelta(days=n) > date(today.year, 12, 31):
                continue
            pk.clock.advance(timedelta(days=n))
            continue
        elif name == "new_year":
            if today.year == YEARS[-1]:
                continue
            # Lots past their day are left for the next write, the close or the expiry job.
            pk.clock.set(at(date(today.year + 1, 1, 1) + timedelta(days=n)))
            await run.open_year(today.year + 1)
            continue
        elif name == "close":
            if run.closed and n % 5 == 0:
                again = run.closed[n % len(run.closed)]
                await run.close_refused(again, f"the {again} cycle is already closed")
                continue
            over = [y for y in sorted(run.schemes) if y < today.year and y not in run.closed]
            if n % 4 == 0 or not over:
                await run.close_refused(today.year, f"the year {today.year} is not over")
                continue
            if len(over) > 1 and n % 3 == 0:
                # Years close in turn: a later one waits for the oldest open one.
                await run.close_refused(over[-1], f"the {over[0]} cycle of this village's scheme "
                                        "is not closed yet; close it first")
                continue
            await run.close(over[0])
        else:
            continue
        await run.check()
    pk.clock.advance(timedelta(days=400))
    await run.check()
