"""The points ledger's arithmetic (积分台账). Pure: no I/O.

An account's points live in lots (积分批次): each credit makes a lot holding its
amount; spending takes from the oldest live lots first (by lot date, then lot
id); a lot past its last usable day expires; a cycle reset clears what is left.
Every change is an append-only entry whose ``amount`` is the change of the
spendable balance and whose ``score`` is the change of the score that rankings
count. The two differ where the balance cannot follow: a redemption, an expiry or
a reset leaves the score alone; a deduction larger than the balance takes the
balance to zero and the score below it.

The functions here turn an intent (credit, deduct, spend, restore, expire,
reset) and the account's current lots into a :class:`Plan`; storage applies the
plan inside one transaction holding the account's row lock. :class:`MemoryLedger`
applies the same plans in memory: it is the reference the property tests hold the
database to.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta


class InsufficientPoints(Exception):
    """A spend asked for more than the account's live lots hold."""

    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"needs {wanted} points, the balance is {available}")
        self.wanted, self.available = wanted, available


@dataclass
class LotView:
    """What the arithmetic needs of a lot."""

    id: int
    lot_date: date
    amount: int
    available: int
    expires_on: date | None = None
    closed: bool = False

    def live(self, today: date) -> bool:
        """Usable now: not closed and not past its last usable day."""
        return not self.closed and (self.expires_on is None or self.expires_on >= today)

    def due_to_expire(self, today: date) -> bool:
        return not self.closed and self.expires_on is not None and self.expires_on < today


@dataclass
class Plan:
    """The effect of one entry: balance and score change, lot moves, a new lot."""

    amount: int
    score: int
    #: (lot id, change of the lot's available amount): negative takes, positive restores.
    moves: list[tuple[int, int]] = field(default_factory=list)
    #: Amount of the lot this entry creates; 0 for none.
    new_lot: int = 0
    #: Lots this entry closes (expiry, reset).
    closes: list[int] = field(default_factory=list)


def spend_order(lots: Iterable[LotView], today: date) -> list[LotView]:
    """Live lots with points left, oldest first (先进先出)."""
    return sorted((lot for lot in lots if lot.live(today) and lot.available > 0),
                  key=lambda lot: (lot.lot_date, lot.id))


def spendable(lots: Iterable[LotView], today: date) -> int:
    return sum(lot.available for lot in lots if lot.live(today))


def expiry_date(lot_date: date, valid_months: int) -> date | None:
    """Last usable day of a lot dated ``lot_date`` valid for ``valid_months`` months.

    The points last until the day before the same day ``valid_months`` later; where
    that month is too short, until its last day.

    >>> expiry_date(date(2026, 3, 15), 24), expiry_date(date(2026, 1, 31), 1)
    (datetime.date(2028, 3, 14), datetime.date(2026, 2, 28))
    >>> expiry_date(date(2026, 3, 15), 0) is None
    True
    """
    if valid_months <= 0:
        return None
    month_index = lot_date.month - 1 + valid_months
    year, month = lot_date.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if lot_date.day > last:
        return date(year, month, last)
    return date(year, month, lot_date.day) - timedelta(days=1)


def _take(lots: Sequence[LotView], wanted: int, today: date, first: int | None) -> list[tuple[int, int]]:
    order = spend_order(lots, today)
    if first is not None:
        order.sort(key=lambda lot: lot.id != first)  # stable: the named lot, then oldest first
    moves: list[tuple[int, int]] = []
    left = wanted
    for lot in order:
        if left <= 0:
            break
        taken = min(lot.available, left)
        moves.append((lot.id, -taken))
        left -= taken
    return moves


def plan_credit(points: int) -> Plan:
    """A credit: a new lot of ``points``; balance and score go up alike."""
    if points <= 0:
        raise ValueError("a credit is a positive number of points")
    return Plan(amount=points, score=points, new_lot=points)


def plan_spend(lots: Sequence[LotView], points: int, today: date) -> Plan:
    """A spend (redemption): all of ``points`` from the oldest live lots, or nothing."""
    if points <= 0:
        raise ValueError("a spend is a positive number of points")
    have = spendable(lots, today)
    if have < points:
        raise InsufficientPoints(points, have)
    return Plan(amount=-points, score=0, moves=_take(lots, points, today, None))


def plan_deduct(lots: Sequence[LotView], points: int, today: date, *, first: int | None = None,
                score: int | None = None) -> Plan:
    """A deduction (负向扣分, or the reversal of a credit): the score drops by ``points``;
    the balance drops as far as the live lots allow, never below zero.

    ``first`` names a lot to take from before the oldest (a reversal takes back
    from the lot its credit made).
    """
    if points <= 0:
        raise ValueError("a deduction is a positive number of points")
    moves = _take(lots, points, today, first)
    taken = -sum(delta for _, delta in moves)
    return Plan(amount=-taken, score=-points if score is None else score, moves=moves)


def plan_take_back(lots: Sequence[LotView], credited: int, expired: int, today: date, *,
                   lot: int | None, score: int) -> Plan:
    """The reversal of a credit (冲正): its ``credited`` points leave the balance, from its own
    ``lot`` first, then the oldest live lots, never below zero.

    Points the credit's lot already lost when it expired (``expired``) left the balance once
    then and are not taken again: the balance ends as if the credit had never been made. The
    score drops by the whole credit.

    When the balance cannot give back all of it (the points were spent or deducted), the
    credit's lot closes: a later restore (the reversal of a deduction that took from it)
    must not fill it again with points that were never earned.
    """
    wanted = credited - expired
    if wanted <= 0:
        return Plan(amount=0, score=score)
    plan = plan_deduct(lots, wanted, today, first=lot, score=score)
    if -plan.amount < wanted and lot is not None:
        plan.closes.append(lot)
    return plan


def plan_restore(lots: Sequence[LotView], taken: Iterable[tuple[int, int]], today: date, *,
                 score: int = 0) -> Plan:
    """Give back what an earlier entry took (``taken``: its moves), to the same lots.

    Lots that expired or were reset since keep nothing: those points would have
    gone with them.
    """
    by_id = {lot.id: lot for lot in lots}
    moves = []
    for lot_id, delta in taken:
        lot = by_id.get(lot_id)
        if delta < 0 and lot is not None and lot.live(today):
            back = min(-delta, lot.amount - lot.available)
            if back > 0:
                moves.append((lot_id, back))
    return Plan(amount=sum(d for _, d in moves), score=score, moves=moves)


def plan_expiries(lots: Sequence[LotView], today: date) -> list[tuple[LotView, Plan]]:
    """One expiry entry per lot past its last usable day with points left (积分过期), oldest
    first. A used-up lot past its day needs no entry: nothing can be taken from or given back
    to a lot that is not live."""
    due = sorted((lot for lot in lots if lot.due_to_expire(today) and lot.available > 0),
                 key=lambda lot: (lot.lot_date, lot.id))
    return [
        (lot, Plan(amount=-lot.available, score=0, moves=[(lot.id, -lot.available)], closes=[lot.id]))
        for lot in due
    ]


def plan_reset(lots: Sequence[LotView], year: int, today: date) -> Plan:
    """Clear what is left of the lots dated in ``year`` or before (年度清零)."""
    closing = [lot for lot in lots if not lot.closed and lot.lot_date.year <= year]
    moves = [(lot.id, -lot.available) for lot in closing if lot.available > 0]
    return Plan(amount=sum(d for _, d in moves), score=0, moves=moves,
                closes=[lot.id for lot in closing])


# -- the reference model -----------------------------------------------------------------


class ReservedSpend(ValueError):
    """A credit is not reversed while a spend that took from its lot is still open."""


@dataclass
class MemoryEntry:
    id: int
    kind: str
    amount: int
    score: int
    balance_after: int
    moves: list[tuple[int, int]]
    lot_id: int | None = None
    reverses: int | None = None


class MemoryLedger:
    """One account's ledger in memory, applying plans as storage does."""

    def __init__(self) -> None:
        self.lots: dict[int, LotView] = {}
        self.entries: list[MemoryEntry] = []
        self.balance = 0
        self._next_lot = 1
        #: (entry id, lot id) for every lot a spend or deduction took from, in order.
        self.takes: list[tuple[int, int]] = []

    def _apply(self, kind: str, plan: Plan, lot_date: date | None = None,
               expires_on: date | None = None, reverses: int | None = None) -> MemoryEntry:
        entry_id = len(self.entries) + 1
        for lot_id, delta in plan.moves:
            lot = self.lots[lot_id]
            lot.available += delta
            if not 0 <= lot.available <= lot.amount:
                raise AssertionError(f"lot {lot_id} would hold {lot.available} of {lot.amount}")
            if delta < 0:
                self.takes.append((entry_id, lot_id))
        for lot_id in plan.closes:
            self.lots[lot_id].closed = True
        new_lot: int | None = None
        if plan.new_lot:
            assert lot_date is not None
            new_lot = self._next_lot
            self._next_lot += 1
            self.lots[new_lot] = LotView(new_lot, lot_date, plan.new_lot, plan.new_lot, expires_on)
        self.balance += plan.amount
        if self.balance < 0:
            raise AssertionError(f"balance would be {self.balance}")
        entry = MemoryEntry(entry_id, kind, plan.amount, plan.score, self.balance, plan.moves,
                            new_lot, reverses)
        self.entries.append(entry)
        return entry

    def lot_list(self) -> list[LotView]:
        return list(self.lots.values())

    def expire(self, today: date) -> list[MemoryEntry]:
        return [self._apply("expiry", plan) for _, plan in plan_expiries(self.lot_list(), today)]

    def credit(self, points: int, lot_date: date, expires_on: date | None = None) -> MemoryEntry:
        return self._apply("credit", plan_credit(points), lot_date, expires_on)

    def deduct(self, points: int, today: date) -> MemoryEntry:
        self.expire(today)
        return self._apply("deduct", plan_deduct(self.lot_list(), points, today))

    def spend(self, points: int, today: date) -> MemoryEntry:
        self.expire(today)
        return self._apply("spend", plan_spend(self.lot_list(), points, today))

    def cancel_spend(self, entry: MemoryEntry, today: date) -> MemoryEntry:
        self.expire(today)
        return self._apply("cancel", plan_restore(self.lot_list(), entry.moves, today),
                           reverses=entry.id)

    def reserved_from(self, lot_id: int | None) -> MemoryEntry | None:
        """A spend still open (not cancelled) that took from the lot, if any."""
        cancelled = {e.reverses for e in self.entries if e.kind == "cancel"}
        return next((e for e in self.entries if e.kind == "spend" and e.id not in cancelled
                     and any(lot == lot_id and delta < 0 for lot, delta in e.moves)), None)

    def reverse(self, entry: MemoryEntry, today: date) -> MemoryEntry:
        """Reverse a credit or a deduction; a credit whose lot an open spend took from is
        refused (:class:`ReservedSpend`), as its cancellation would fill the lot again."""
        if entry.kind == "credit" and self.reserved_from(entry.lot_id) is not None:
            raise ReservedSpend(entry.id)
        self.expire(today)
        if entry.kind == "credit":
            expired = sum(-delta for e in self.entries if e.kind == "expiry"
                          for lot_id, delta in e.moves if lot_id == entry.lot_id)
            plan = plan_take_back(self.lot_list(), entry.amount, expired, today, lot=entry.lot_id,
                                  score=-entry.score)
        elif entry.kind == "deduct":
            plan = plan_restore(self.lot_list(), entry.moves, today, score=-entry.score)
        else:
            raise ValueError(f"cannot reverse a {entry.kind} entry")
        return self._apply("reversal", plan, reverses=entry.id)

    def reset(self, year: int, today: date) -> MemoryEntry:
        self.expire(today)
        return self._apply("reset", plan_reset(self.lot_list(), year, today))
