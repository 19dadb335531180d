"""Property tests of the ledger's arithmetic (no I/O): random sequences of credits,
deductions, spends, cancellations, reversals, expiries and cycle resets."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shanzhi_points.ledger import (
    InsufficientPoints,
    LotView,
    MemoryEntry,
    MemoryLedger,
    ReservedSpend,
    expiry_date,
    plan_deduct,
    plan_restore,
    plan_spend,
    spend_order,
)

START = date(2025, 1, 1)

op = st.one_of(
    st.tuples(st.just("credit"), st.integers(1, 60), st.sampled_from([0, 1, 2, 12])),
    st.tuples(st.just("deduct"), st.integers(1, 60), st.just(0)),
    st.tuples(st.just("spend"), st.integers(1, 60), st.just(0)),
    st.tuples(st.just("cancel"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("wait"), st.integers(1, 70), st.just(0)),
    st.tuples(st.just("reset"), st.just(0), st.just(0)),
)


def check_invariants(ledger: MemoryLedger) -> None:
    assert ledger.balance == sum(e.amount for e in ledger.entries)
    assert ledger.balance == sum(lot.available for lot in ledger.lots.values())
    assert ledger.balance >= 0
    assert all(e.balance_after >= 0 for e in ledger.entries)
    assert all(0 <= lot.available <= lot.amount for lot in ledger.lots.values())
    assert all(lot.available == 0 for lot in ledger.lots.values() if lot.closed)


def key(lot: LotView) -> tuple[date, int]:
    return lot.lot_date, lot.id


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
def test_random_sequences_keep_every_invariant(ops: list[tuple[str, int, int]]) -> None:
    ledger = MemoryLedger()
    today = START
    spends: list[MemoryEntry] = []
    reversible: list[MemoryEntry] = []
    reversed_ids: set[int] = set()
    cancelled: set[int] = set()
    for name, n, months in ops:
        if name == "credit":
            reversible.append(ledger.credit(n, today, expiry_date(today, months)))
        elif name in ("deduct", "spend"):
            before = {lot.id: lot.available for lot in spend_order(ledger.lot_list(), today)}
            live_before = sum(before.values())
            if name == "spend":
                try:
                    entry = ledger.spend(n, today)
                except InsufficientPoints as exc:
                    assert exc.available < n
                    # Nothing changed but the expiries written before the spend.
                    check_invariants(ledger)
                    continue
                spends.append(entry)
                assert entry.amount == -n and entry.score == 0
            else:
                entry = ledger.deduct(n, today)
                reversible.append(entry)
                assert entry.score == -n
                # The balance drops as far as the live lots allow, the score all the way.
                assert entry.amount == -min(n, live_before)
            # Oldest first: every live lot older than the newest one touched is now empty.
            touched = [ledger.lots[lot_id] for lot_id, delta in entry.moves if delta < 0]
            if touched:
                newest = max(key(lot) for lot in touched)
                assert all(ledger.lots[i].available == 0 for i in before if key(ledger.lots[i]) < newest)
            assert -entry.amount <= live_before
        elif name == "cancel" and spends:
            entry = spends[n % len(spends)]
            if entry.id in cancelled:
                continue
            cancelled.add(entry.id)
            back = ledger.cancel_spend(entry, today)
            assert 0 <= back.amount <= -entry.amount
        elif name == "reverse" and reversible:
            entry = reversible[n % len(reversible)]
            if entry.id in reversed_ids:
                continue
            try:
                undo = ledger.reverse(entry, today)
            except ReservedSpend:
                # An open spend took from the credit's lot: nothing changed.
                assert ledger.reserved_from(entry.lot_id) is not None
                continue
            reversed_ids.add(entry.id)
            assert undo.score == -entry.score
        elif name == "wait":
            today += timedelta(days=n)
            ledger.expire(today)
        elif name == "reset":
            ledger.reset(today.year, today)
            assert all(lot.closed for lot in ledger.lots.values() if lot.lot_date.year <= today.year)
        check_invariants(ledger)
    ledger.expire(today + timedelta(days=4000))
    check_invariants(ledger)
    assert all(lot.available == 0 for lot in ledger.lots.values() if lot.expires_on is not None)
    assert all(lot.closed or lot.available == 0 for lot in ledger.lots.values() if lot.expires_on)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 20)), min_size=1, max_size=12),
       st.integers(1, 100))
def test_a_spend_takes_exactly_its_points_from_the_oldest_lots(
        lots: list[tuple[int, int]], wanted: int) -> None:
    views = [LotView(i + 1, START + timedelta(days=d), a, a) for i, (d, a) in enumerate(lots)]
    total = sum(a for _, a in lots)
    if wanted > total:
        with pytest.raises(InsufficientPoints):
            plan_spend(views, wanted, START)
        return
    plan = plan_spend(views, wanted, START)
    assert -sum(d for _, d in plan.moves) == wanted == -plan.amount
    order = [lot.id for lot in sorted(views, key=key)]
    taken = [lot_id for lot_id, _ in plan.moves]
    assert taken == order[: len(taken)]
    assert all(-d == next(v.available for v in views if v.id == i) for i, d in plan.moves[:-1])


def test_deduction_names_a_lot_to_take_from_first() -> None:
    views = [LotView(1, START, 5, 5), LotView(2, START + timedelta(days=1), 5, 5)]
    plan = plan_deduct(views, 7, START, first=2, score=-7)
    assert plan.moves == [(2, -5), (1, -2)] and plan.amount == -7 and plan.score == -7


def test_restore_skips_lots_that_expired_meanwhile() -> None:
    today = START + timedelta(days=40)
    views = [LotView(1, START, 5, 0, expires_on=START + timedelta(days=30)),
             LotView(2, START, 5, 2)]
    plan = plan_restore(views, [(1, -5), (2, -3)], today)
    assert plan.moves == [(2, 3)] and plan.amount == 3


def test_expired_lots_do_not_count_as_spendable() -> None:
    ledger = MemoryLedger()
    ledger.credit(10, START, expiry_date(START, 1))
    ledger.credit(4, START + timedelta(days=1))
    with pytest.raises(InsufficientPoints) as err:
        ledger.spend(5, START + timedelta(days=45))
    assert err.value.available == 4
    assert ledger.balance == 4 and [e.kind for e in ledger.entries][-1] == "expiry"


@pytest.mark.parametrize(
    ("lot_date", "months", "last_day"),
    [(date(2026, 3, 15), 24, date(2028, 3, 14)), (date(2026, 1, 31), 1, date(2026, 2, 28)),
     (date(2024, 1, 31), 1, date(2024, 2, 29)), (date(2026, 12, 1), 1, date(2026, 12, 31)),
     (date(2026, 3, 1), 0, None)],
)
def test_expiry_dates(lot_date: date, months: int, last_day: date | None) -> None:
    assert expiry_date(lot_date, months) == last_day
