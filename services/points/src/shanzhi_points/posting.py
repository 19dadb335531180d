"""Writing the ledger (积分台账) inside one transaction.

A :class:`LedgerWriter` locks the accounts it writes (``SELECT … FOR UPDATE``,
in id order so two writers never deadlock), so every spend on an account is
serialised and the balance it reads is the balance it changes. Plans from
:mod:`shanzhi_points.ledger` are applied in memory first, each checked against
the invariants, and then written together: new lots, entries, lot changes, lot
moves, account balances and one ``EntryPostedEvent`` per entry, in a handful of
statements whatever the number of entries.

A :class:`LedgerPlan` is the in-memory half alone. An award of points, the most
common write, reads its account without a lock and writes with
:meth:`LedgerPlan.guarded_credit`: one statement that applies only if the
account has not changed since it was read.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Any, TypeVar

from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.db import DriverStatement, driver_connection, driver_execute
from shanzhi_kit.values import format_date, new_id
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points.ledger import LotView, Plan, plan_expiries
from shanzhi_points.outbox import EventBuffer
from shanzhi_points.tables import accounts, entries, lot_moves, lots

_LOCK_IDS = (select(accounts).where(accounts.c.id.in_(bindparam("ids", expanding=True)))
             .order_by(accounts.c.id).with_for_update())
#: One subject's account, locked; and the lots with points left of one account. Run by
#: the driver directly: every claim, redemption and locked award runs both.
_LOCK_SUBJECT = DriverStatement(select(accounts).where(
    accounts.c.subject_kind == bindparam("kind"), accounts.c.subject_id == bindparam("subject_id")
).with_for_update())
_LIVE_LOT_COLUMNS = (lots.c.id, lots.c.account_id, lots.c.lot_date, lots.c.amount, lots.c.available,
                     lots.c.expires_on)
_LIVE_LOTS = DriverStatement(select(*_LIVE_LOT_COLUMNS).where(
    lots.c.account_id == bindparam("account_id"), lots.c.available > 0, lots.c.closed.is_(False)))

_LOCK_KIND = select(accounts).where(
    accounts.c.subject_kind == bindparam("kind"),
    accounts.c.subject_id.in_(bindparam("subject_ids", expanding=True)),
).order_by(accounts.c.id).with_for_update()

T = TypeVar("T")

#: Rows written ahead by COPY at a time, and posts between two chances for that COPY to
#: move on (:meth:`LedgerWriter.post_all`).
_CHUNK = 2000
_YIELD_EVERY = 100

#: Ids given to lots made in this transaction until the database numbers them;
#: above any real id, so they sort after older lots of the same day.
_PENDING_BASE = 10**15


@dataclass
class AccountState:
    """A locked account, its balance kept current as entries are added."""

    id: str
    region_code: str
    subject_kind: int
    subject_id: str
    display_name: str
    balance: int
    closed_on: date | None
    created_at: datetime
    created_by: str
    #: The last year whose cycle has closed for the account, if any.
    closed_cycle_year: int | None = None
    #: Raised by each adoption that may change the account's rules the same day.
    rules_epoch: int = 0
    #: Lots loaded for spending (not closed, points left), by id.
    lots: dict[int, LotView] | None = None

    @classmethod
    def of(cls, row: Any) -> AccountState:
        return cls(row.id, row.region_code, row.subject_kind, row.subject_id, row.display_name,
                   row.balance, row.closed_on, row.created_at, row.created_by, row.closed_cycle_year,
                   row.rules_epoch)

    @property
    def subject(self) -> points_pb2.SubjectRef:
        return points_pb2.SubjectRef(kind=self.subject_kind, id=self.subject_id)  # type: ignore[arg-type]


@dataclass
class _Pending:
    lot: LotView
    account_id: str
    entry_id: str

    def row(self) -> dict[str, Any]:
        """The lot's row, to insert."""
        lot = self.lot
        return {"account_id": self.account_id, "entry_id": self.entry_id, "lot_date": lot.lot_date,
                "amount": lot.amount, "available": lot.available, "expires_on": lot.expires_on,
                "closed": lot.closed}


@dataclass
class LedgerPlan:
    """Entries added in memory, checked against the invariants as they are added."""

    events: EventBuffer
    actor: str
    now: datetime
    today: date
    #: Every entry added, in order (flushed or not).
    written: list[dict[str, Any]] = field(default_factory=list)
    _flushed: int = 0
    _moves: list[tuple[str, int, int]] = field(default_factory=list)
    _closes: set[int] = field(default_factory=set)
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _touched: dict[str, AccountState] = field(default_factory=dict)
    _extra: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)

    # -- entries ------------------------------------------------------------------------

    def post(
        self,
        state: AccountState,
        kind: int,
        plan: Plan,
        *,
        entry_date: date,
        year: int,
        scheme_id: str | None = None,
        item_code: str | None = None,
        item_name: str | None = None,
        quantity: int = 1,
        source_id: str | None = None,
        batch_id: str | None = None,
        reverses_entry_id: str | None = None,
        reason: str = "",
        expires_on: date | None = None,
        entry_id: str | None = None,
    ) -> dict[str, Any]:
        """Add one entry; returns its row. Raises AssertionError if an invariant would break."""
        entry_id = entry_id or new_id()
        for lot_id, delta in plan.moves:
            lot = state.lots.get(lot_id) if state.lots is not None else None
            if lot is None:
                raise AssertionError(f"lot {lot_id} of account {state.id} is not loaded")
            lot.available += delta
            if not 0 <= lot.available <= lot.amount:
                raise AssertionError(f"lot {lot_id} would hold {lot.available} of {lot.amount}")
            self._moves.append((entry_id, lot_id, delta))
        for lot_id in plan.closes:
            if state.lots is not None and lot_id in state.lots:
                state.lots[lot_id].closed = True
            self._closes.add(lot_id)
        if plan.new_lot:
            pending_id = _PENDING_BASE + len(self._pending)
            lot = LotView(pending_id, entry_date, plan.new_lot, plan.new_lot, expires_on)
            self._pending[pending_id] = _Pending(lot, state.id, entry_id)
            if state.lots is not None:
                state.lots[pending_id] = lot
        state.balance += plan.amount
        if state.balance < 0:
            raise AssertionError(f"account {state.id} would go to {state.balance}")
        row = {
            "id": entry_id, "account_id": state.id, "region_code": state.region_code, "kind": kind,
            "amount": plan.amount, "score": plan.score, "balance_after": state.balance,
            "entry_date": entry_date, "year": year, "scheme_id": scheme_id, "item_code": item_code,
            "item_name": item_name, "quantity": quantity, "source_id": source_id,
            "batch_id": batch_id, "reverses_entry_id": reverses_entry_id, "reason": reason,
            "created_at": self.now, "created_by": self.actor,
        }
        self.written.append(row)
        self._touched[state.id] = state
        self.events.add(
            events_pb2.EntryPostedEvent(
                entry_id=entry_id, account_id=state.id, subject_kind=state.subject_kind,  # type: ignore[arg-type]
                subject_id=state.subject_id, region_code=state.region_code, kind=kind,  # type: ignore[arg-type]
                amount=plan.amount, score=plan.score, balance_after=state.balance,
                entry_date=entry_date.isoformat(), scheme_id=scheme_id or "",
                item_code=item_code or "", source_id=source_id or "",
                reverses_entry_id=reverses_entry_id or "",
            ),
            subject=state.id, region_code=state.region_code,
        )
        return row

    def also_insert(self, table: Table, row: dict[str, Any]) -> None:
        """Insert ``row`` into ``table`` with the next flush (a redemption, a stock move …)."""
        self._extra.append((table, row))

    def guarded_credit(self, state: AccountState, read: AccountState) -> tuple[str, list[Any]]:
        """Everything added, as one statement (PostgreSQL, ``$n`` parameters) that applies
        only if ``state``'s account still has the balance, closing day and closed cycle it
        had when it was ``read``.

        For a credit to one account read without a lock: new lots, entries, events and the
        rows given to :meth:`also_insert`, no lot taken from. The statement returns 1 if it
        applied and 0 if another write changed the account first (nothing is written then).
        """
        if self._moves or self._closes or set(self._touched) != {state.id}:
            raise AssertionError("a guarded write is a credit to one account")
        lot_rows = [p.row() for p in self._pending.values()]
        inserts: list[tuple[Table, list[dict[str, Any]]]] = [
            (lots, lot_rows), (entries, self.written[self._flushed:]),
            (self.events.table, self.events.take()), *((t, [r]) for t, r in self._extra)]
        inserts = [(t, rows) for t, rows in inserts if rows]
        shape = tuple((t, tuple(rows[0]), len(rows)) for t, rows in inserts)
        sql = _GUARDED.get(shape)
        if sql is None:
            sql = _GUARDED[shape] = _guarded_sql(shape)
        args: list[Any] = [state.balance, state.id, read.balance, read.closed_on,
                           read.closed_cycle_year, read.rules_epoch]
        args += _insert_args(inserts)
        self._flushed = len(self.written)
        self._extra = []
        self._pending.clear()
        self._touched.clear()
        return sql, args


class LedgerWriter(LedgerPlan):
    """Adds entries to locked accounts and writes them on :meth:`flush`."""

    def __init__(self, session: AsyncSession, events: EventBuffer, actor: str, now: datetime,
                 today: date) -> None:
        super().__init__(events, actor, now, today)
        self.session = session

    # -- locking ------------------------------------------------------------------------
    #
    # Lots are read in a statement after the one that takes the account's lock: in READ
    # COMMITTED a statement that waited for a lock still reads other rows as of its start,
    # so reading lots in the locking statement could miss what the previous holder spent.

    async def lock_accounts(self, ids: Iterable[str]) -> dict[str, AccountState]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = (await self.session.execute(_LOCK_IDS, {"ids": wanted})).all()
        return {r.id: AccountState.of(r) for r in rows}

    async def lock_subjects_of_kind(self, kind: int, subject_ids: Iterable[str]
                                    ) -> dict[str, AccountState]:
        """Lock the accounts of these subjects of one kind in one statement, in id order.

        One statement however many (a batch names a whole village, up to 20,000 subjects:
        within the parameter limits of PostgreSQL and SQLite), so the locks are taken in
        one order and two batches over the same village never deadlock.
        """
        wanted = sorted(set(subject_ids))
        if not wanted:
            return {}
        rows = (await self.session.execute(_LOCK_KIND, {"kind": kind, "subject_ids": wanted})).all()
        return {r.subject_id: AccountState.of(r) for r in rows}

    async def lock_subject(self, kind: int, subject_id: str) -> AccountState | None:
        """Lock one subject's account, if it has one."""
        row = await _LOCK_SUBJECT.fetchrow(self.session, {"kind": kind, "subject_id": subject_id})
        return AccountState.of(row) if row is not None else None

    # -- lots ---------------------------------------------------------------------------

    async def load_lots(self, states: Iterable[AccountState]) -> None:
        """Load the lots with points left of accounts not loaded yet."""
        missing = {s.id: s for s in states if s.lots is None}
        if not missing:
            return
        if len(missing) == 1:
            rows = await _LIVE_LOTS.fetch(self.session, {"account_id": next(iter(missing))})
        else:
            rows = list((await self.session.execute(
                select(*_LIVE_LOT_COLUMNS).where(lots.c.account_id.in_(sorted(missing)),
                                                 lots.c.available > 0, lots.c.closed.is_(False)))).all())
        for state in missing.values():
            state.lots = {}
        for r in rows:
            lots_of = missing[r.account_id].lots
            assert lots_of is not None
            lots_of[r.id] = LotView(r.id, r.lot_date, r.amount, r.available, r.expires_on)

    async def load_lots_by_id(self, state: AccountState, ids: Iterable[int]) -> None:
        """Also load named lots (used up ones included), to give points back to them."""
        await self.load_lots([state])
        assert state.lots is not None
        wanted = [i for i in set(ids) if i not in state.lots]
        if not wanted:
            return
        rows = (await self.session.execute(
            select(lots).where(lots.c.id.in_(wanted), lots.c.account_id == state.id))).all()
        for r in rows:
            state.lots[r.id] = LotView(r.id, r.lot_date, r.amount, r.available, r.expires_on, r.closed)

    async def expire_due(self, states: Iterable[AccountState]) -> int:
        """Write an expiry entry (积分过期) for each lot of these accounts past its last day.

        Each expiry points to what expired (来源, ``source_id``): the credit entry that made
        the lot (the lot's ``entry_id``, as ``ListLots`` shows it).
        """
        states = list(states)
        await self.load_lots(states)
        due: list[tuple[AccountState, LotView, Plan]] = []
        for state in states:
            assert state.lots is not None
            due += [(state, lot, plan) for lot, plan in plan_expiries(list(state.lots.values()), self.today)]
        if not due:
            return 0
        made_by = await self._entries_of_lots([lot.id for _, lot, _ in due])
        for state, lot, plan in due:
            self.post(state, points_pb2.ENTRY_KIND_EXPIRY, plan, entry_date=self.today,
                      year=self.today.year, source_id=made_by[lot.id],
                      reason=f"lot of {lot.lot_date.isoformat()} expired after {format_date(lot.expires_on)}")
        return len(due)

    async def _entries_of_lots(self, lot_ids: list[int]) -> dict[int, str]:
        """The credit entry that made each lot: lots made in this transaction and not yet
        written are known here, the others are read."""
        made = {i: self._pending[i].entry_id for i in lot_ids if i in self._pending}
        stored = [i for i in lot_ids if i not in made]
        if stored:
            rows = (await self.session.execute(
                select(lots.c.id, lots.c.entry_id).where(lots.c.id.in_(stored)))).all()
            made.update((int(r.id), r.entry_id) for r in rows)
        return made

    async def post_all(self, items: Iterable[T], post_one: Callable[[T], object]) -> None:
        """Post every item (``post_one`` adds credits for one) and write it all, as a loop
        of posts and a :meth:`flush` would.

        On PostgreSQL the rows go by COPY a chunk at a time while the next chunk is
        posted, so the database takes in rows on one core while Python makes them on
        the other. Credits only: a deduction could take from a lot already sent, whose id
        this writer would not know.
        """
        if self.session.bind is None or self.session.bind.dialect.name != "postgresql":
            for item in items:
                post_one(item)
            await self.flush()
            return
        conn = await self.session.connection()
        copying: asyncio.Task[None] | None = None
        try:
            for n, item in enumerate(items, 1):
                post_one(item)
                if n % _YIELD_EVERY == 0:
                    # Let the copying task send its next chunk once the database is ready.
                    await asyncio.sleep(0)
                if n % _CHUNK == 0:
                    copying = asyncio.create_task(self._copy_after(copying, conn, self._take_new_rows()))
        finally:
            if copying is not None:
                # Never leave a COPY running on the connection: wait for it even if a post
                # failed (the transaction then rolls back with whatever it wrote).
                await asyncio.wait([copying])
        if copying is not None:
            copying.result()
        await self.flush()

    def _take_new_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The new lots, entries and events added since the last write, handed over."""
        if self._moves or self._closes:
            raise AssertionError("rows are written ahead only for credits")
        lot_rows = [p.row() for p in self._pending.values()]
        self._pending.clear()
        new_entries = self.written[self._flushed:]
        self._flushed = len(self.written)
        return lot_rows, new_entries, self.events.take()

    async def _copy_after(self, previous: asyncio.Task[None] | None, conn: Any,
                          rows: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]
                          ) -> None:
        if previous is not None:
            await previous
        lot_rows, new_entries, events = rows
        await self._write_by_copy(conn, lot_rows, new_entries, [], [], events, [], [])

    async def flush(self) -> None:
        """Write everything added since the last flush.

        On PostgreSQL a small write (an award, a redemption) goes as one statement whose
        parts are data-modifying CTEs, so the account's row lock is held for one round
        trip; a large one (a batch) goes by COPY. SQLite gets plain statements.
        """
        conn = await self.session.connection()
        pending = list(self._pending.items())
        new_entries = self.written[self._flushed:]
        changes: dict[int, int] = defaultdict(int)
        for _, lot_id, delta in self._moves:
            if lot_id not in self._pending:
                changes[lot_id] += delta
        closes = {i for i in self._closes if i not in self._pending}
        lot_updates = [{"lot_id": i, "delta": changes.get(i, 0), "close": i in closes}
                       for i in sorted(changes.keys() | closes)]
        accounts_rows = [{"account_id": s.id, "new_balance": s.balance}
                         for s in sorted(self._touched.values(), key=lambda s: s.id)]
        events = self.events.take()
        extra, self._extra = self._extra, []
        needs_lot_ids = any(lot_id in self._pending for _, lot_id, _ in self._moves)
        lot_rows = [p.row() for _, p in pending]
        postgres = conn.dialect.name == "postgresql"
        small = (len(new_entries) <= 8 and len(lot_rows) <= 8 and len(lot_updates) <= 8
                 and len(self._moves) <= 16 and len(events) <= 16 and len(accounts_rows) <= 4)
        real: dict[int, int] = {}
        if needs_lot_ids:
            result = await conn.execute(
                lots.insert().returning(lots.c.id, sort_by_parameter_order=True), lot_rows)
            real = {pending_id: row.id for (pending_id, _), row in zip(pending, result.all(), strict=True)}
            lot_rows = []
        moves: dict[tuple[str, int], int] = defaultdict(int)
        for entry_id, lot_id, delta in self._moves:
            moves[(entry_id, real.get(lot_id, lot_id))] += delta
        move_rows = [{"entry_id": e, "lot_id": lot_id, "amount": d} for (e, lot_id), d in moves.items()]
        if postgres and small:
            await self._write_as_one(lot_rows, new_entries, lot_updates, move_rows, events, extra,
                                     accounts_rows)
        elif postgres:
            await self._write_by_copy(conn, lot_rows, new_entries, lot_updates, move_rows, events,
                                      extra, accounts_rows)
        else:
            await self._write_plainly(conn, lot_rows, new_entries, lot_updates, move_rows, events,
                                      extra, accounts_rows)
        self._flushed = len(self.written)
        self._remember_real_ids(real)
        self._moves.clear()
        self._closes.clear()
        self._pending.clear()
        self._touched.clear()

    def _remember_real_ids(self, real: dict[int, int]) -> None:
        for state in self._touched.values():
            if state.lots is None:
                continue
            for pending_id in [i for i in state.lots if i in real]:
                lot = state.lots.pop(pending_id)
                lot.id = real[pending_id]
                state.lots[lot.id] = lot

    def _lot_update(self) -> Any:
        return update(lots).where(lots.c.id == bindparam("lot_id")).values(
            available=lots.c.available + bindparam("delta"), closed=lots.c.closed | bindparam("close"))

    def _account_update(self) -> Any:
        return update(accounts).where(accounts.c.id == bindparam("account_id")).values(
            balance=bindparam("new_balance"))

    async def _write_as_one(self, lot_rows: list[dict[str, Any]], new_entries: list[dict[str, Any]],
                            lot_updates: list[dict[str, Any]], move_rows: list[dict[str, Any]],
                            events: list[dict[str, Any]], extra: list[tuple[Table, dict[str, Any]]],
                            accounts_rows: list[dict[str, Any]]) -> None:
        inserts: list[tuple[Table, list[dict[str, Any]]]] = [
            (lots, lot_rows), (entries, new_entries), (lot_moves, move_rows),
            (self.events.table, events), *((t, [r]) for t, r in extra)]
        inserts = [(t, rows) for t, rows in inserts if rows]
        shape = (tuple((t.name, tuple(rows[0]), len(rows)) for t, rows in inserts),
                 len(lot_updates), len(accounts_rows))
        sql = _COMBINED.get(shape)
        if sql is None:
            sql = _COMBINED[shape] = _combined_sql(shape)
        if sql is None:
            return
        args = _insert_args(inserts)
        for u in lot_updates:
            args += [u["delta"], u["close"], u["lot_id"]]
        for a in accounts_rows:
            args += [a["new_balance"], a["account_id"]]
        await driver_execute(self.session, sql, args)

    async def _write_by_copy(self, conn: Any, lot_rows: list[dict[str, Any]],
                             new_entries: list[dict[str, Any]], lot_updates: list[dict[str, Any]],
                             move_rows: list[dict[str, Any]], events: list[dict[str, Any]],
                             extra: list[tuple[Table, dict[str, Any]]],
                             accounts_rows: list[dict[str, Any]]) -> None:
        raw = await driver_connection(conn)
        for table, rows in ((lots, lot_rows), (entries, new_entries), (lot_moves, move_rows),
                            (self.events.table, events)):
            if rows:
                columns = list(rows[0])
                record = itemgetter(*columns) if len(columns) > 1 else (lambda r, c=columns[0]: (r[c],))
                await raw.copy_records_to_table(table.name, columns=columns,
                                                records=[record(r) for r in rows])
        # One statement each for the lot changes and the balances, however many rows.
        if lot_updates:
            await raw.execute(_LOT_UPDATES, [u["lot_id"] for u in lot_updates],
                              [u["delta"] for u in lot_updates], [u["close"] for u in lot_updates])
        for table, row in extra:
            await conn.execute(table.insert(), [row])
        if accounts_rows:
            await raw.execute(_BALANCES, [a["account_id"] for a in accounts_rows],
                              [a["new_balance"] for a in accounts_rows])

    async def _write_plainly(self, conn: Any, lot_rows: list[dict[str, Any]],
                             new_entries: list[dict[str, Any]], lot_updates: list[dict[str, Any]],
                             move_rows: list[dict[str, Any]], events: list[dict[str, Any]],
                             extra: list[tuple[Table, dict[str, Any]]],
                             accounts_rows: list[dict[str, Any]]) -> None:
        for table, rows in ((lots, lot_rows), (entries, new_entries), (lot_moves, move_rows),
                            (self.events.table, events)):
            if rows:
                await conn.execute(table.insert(), rows)
        if lot_updates:
            await conn.execute(self._lot_update(), lot_updates)
        for table, row in extra:
            await conn.execute(table.insert(), [row])
        if accounts_rows:
            await conn.execute(self._account_update(), accounts_rows)

    async def moves_of(self, entry_id: str) -> list[tuple[int, int]]:
        """What an entry took from or gave to each lot."""
        rows = (await self.session.execute(
            select(lot_moves.c.lot_id, lot_moves.c.amount).where(lot_moves.c.entry_id == entry_id)
            .order_by(lot_moves.c.lot_id))).all()
        return [(r.lot_id, r.amount) for r in rows]


#: A large write's lot changes and balances, each as one statement over arrays (PostgreSQL).
_LOT_UPDATES = (
    "UPDATE lots SET available = lots.available + v.delta, closed = lots.closed OR v.close "
    "FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) AS v(id, delta, close) WHERE lots.id = v.id")
_BALANCES = (
    "UPDATE accounts SET balance = v.balance "
    "FROM unnest($1::varchar[], $2::bigint[]) AS v(id, balance) WHERE accounts.id = v.id")

def _insert_args(inserts: list[tuple[Table, list[dict[str, Any]]]]) -> list[Any]:
    """Each insert's rows column by column, as a one-statement write numbers them."""
    args: list[Any] = []
    for _, rows in inserts:
        columns = list(rows[0])
        for row in rows:
            args += [row[c] for c in columns]
    return args


#: The one-statement writes, by shape: built once, so the driver reuses its prepared statement.
_COMBINED: dict[Any, str | None] = {}


def _combined_sql(shape: Any) -> str | None:
    """One statement doing every insert and update of a small write, as data-modifying CTEs.

    Parameters are numbered in the order :meth:`LedgerWriter._write_as_one` lists them:
    each insert's rows column by column, then each lot's change, then each balance.
    """
    inserts, n_updates, n_accounts = shape
    numbers = iter(range(1, 10**6))
    parts = []
    for table, columns, count in inserts:
        rows = ", ".join("(" + ", ".join(f"${next(numbers)}" for _ in columns) + ")" for _ in range(count))
        names = ", ".join(f'"{c}"' for c in columns)
        parts.append(f'INSERT INTO "{table}" ({names}) VALUES {rows}')
    for _ in range(n_updates):
        delta, close, lot_id = next(numbers), next(numbers), next(numbers)
        parts.append(f"UPDATE lots SET available = available + ${delta}, closed = closed OR ${close} "
                     f"WHERE id = ${lot_id}")
    for _ in range(n_accounts):
        balance, account_id = next(numbers), next(numbers)
        parts.append(f"UPDATE accounts SET balance = ${balance} WHERE id = ${account_id}")
    if not parts:
        return None
    ctes = ", ".join(f"w{n} AS ({part})" for n, part in enumerate(parts[:-1]))
    return (f"WITH {ctes} " if ctes else "") + parts[-1]


#: The guarded one-statement credits, by shape.
_GUARDED: dict[Any, str] = {}


def _guarded_sql(shape: Any) -> str:
    """A credit's inserts, made only if the account's row still reads as it did.

    ``$1`` is the new balance, ``$2`` the account, ``$3`` to ``$6`` the balance, closing
    day, closed cycle year and rules epoch it was read with (an adoption that changed the
    rules meanwhile raised the epoch); then each insert's rows column by column.
    Inserts take
    their rows from the account's update, so they happen only if it did; parameters are
    cast to their columns' types, since a SELECT list does not give them one.
    """
    numbers = iter(range(7, 10**6))
    parts = ["acc AS (UPDATE accounts SET balance = $1 WHERE id = $2 AND balance = $3 "
             "AND closed_on IS NOT DISTINCT FROM $4::date "
             "AND closed_cycle_year IS NOT DISTINCT FROM $5::smallint "
             "AND rules_epoch = $6::integer RETURNING id)"]
    for n, (table, columns, count) in enumerate(shape):
        types = [table.c[c].type.compile(dialect=_PG) for c in columns]
        rows = " UNION ALL ".join(
            "SELECT " + ", ".join(f"${next(numbers)}::{t}" for t in types) + " FROM acc"
            for _ in range(count))
        names = ", ".join(f'"{c}"' for c in columns)
        parts.append(f'w{n} AS (INSERT INTO "{table.name}" ({names}) {rows})')
    return "WITH " + ", ".join(parts) + " SELECT count(*) FROM acc"


_PG = postgresql.dialect()
