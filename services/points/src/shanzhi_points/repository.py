"""Points repository: reads and writes within one session (SQLAlchemy Core).

Every list query filters by a region-code prefix the API has already narrowed to
the caller's scope. Rows that a write will change are read ``FOR UPDATE``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from shanzhi.points.v1 import points_pb2
from shanzhi_kit.db import DriverStatement
from shanzhi_kit.paging import Page
from sqlalchemy import Date, Row, and_, bindparam, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points.clock import CHINA
from shanzhi_points.tables import (
    accounts,
    batches,
    catalog_items,
    claim_objections,
    claim_reviews,
    claims,
    cycle_closes,
    entries,
    goods,
    household_head_changes,
    household_members,
    households,
    lot_moves,
    lots,
    redemptions,
    representative_honours,
    scheme_versions,
    schemes,
)

IN_FORCE = (points_pb2.SCHEME_VERSION_STATUS_ADOPTED, points_pb2.SCHEME_VERSION_STATUS_SUPERSEDED)
OPEN_VERSION = (points_pb2.SCHEME_VERSION_STATUS_DRAFT, points_pb2.SCHEME_VERSION_STATUS_PUBLICIZED)
#: Claims still in review or publicity: they count against limits by themselves. A posted
#: claim counts through its entry while that is not reversed, so a reversed claim (已冲正)
#: counts no more, like any reversed entry.
PENDING_CLAIM = (points_pb2.CLAIM_STATUS_PENDING_REVIEW, points_pb2.CLAIM_STATUS_IN_PUBLICITY)
#: Why members of a household that moved out left (整户迁出).
MOVED_OUT_WITH_HOUSEHOLD = "household moved out (整户迁出)"
SCORED_KINDS = (points_pb2.ENTRY_KIND_CLAIM, points_pb2.ENTRY_KIND_AWARD, points_pb2.ENTRY_KIND_BATCH)


def in_force_on(day: date) -> Any:
    v = scheme_versions
    return and_(v.c.status.in_(IN_FORCE), v.c.effective_from <= day,
                or_(v.c.effective_to.is_(None), v.c.effective_to >= day))


@dataclass(frozen=True)
class ScoringRule:
    """A scheme, its version in force on a day and one of its items (any may be missing)."""

    scheme: Row[Any] | None
    closed: bool
    version: Row[Any] | None
    item: Row[Any] | None


def rule_of(row: Row[Any]) -> ScoringRule:
    return ScoringRule(row, row.close_id is not None,
                       row if row.version_id is not None else None,
                       row if row.item_id is not None else None)


def _rule_columns() -> list[Any]:
    s, v, i, c = schemes, scheme_versions, catalog_items, cycle_closes
    return [s.c.id.label("scheme_id"), s.c.region_code, s.c.year, s.c.subject_kind, s.c.is_template,
            c.c.id.label("close_id"), v.c.id.label("version_id"), v.c.claim_publicity_days,
            v.c.points_valid_months, i.c.id.label("item_id"), i.c.code, i.c.name, i.c.category, i.c.sign,
            i.c.points, i.c.evidence_required, i.c.limit_per_day, i.c.limit_per_week,
            i.c.limit_per_month, i.c.limit_per_year, i.c.effective_from, i.c.effective_to]


def _rule_joins(left: Any) -> Any:
    s, v, i, c = schemes, scheme_versions, catalog_items, cycle_closes
    day = bindparam("day", type_=Date)
    in_force = and_(v.c.status.in_(IN_FORCE), v.c.effective_from <= day,
                    or_(v.c.effective_to.is_(None), v.c.effective_to >= day))
    return (left.outerjoin(c, c.c.scheme_id == s.c.id)
            .outerjoin(v, and_(v.c.scheme_id == s.c.id, in_force))
            .outerjoin(i, and_(i.c.version_id == v.c.id, i.c.code == bindparam("code"))))


@cache
def _select_rule() -> Any:
    return select(*_rule_columns()).select_from(_rule_joins(schemes)).where(
        schemes.c.id == bindparam("scheme_id"))


#: The account's columns in :func:`_lock_and_rule`, prefixed ``a_``.
ACCOUNT_FIELDS = ("id", "region_code", "subject_kind", "subject_id", "display_name", "balance",
                  "closed_on", "created_at", "created_by", "closed_cycle_year", "rules_epoch")


def _account_and_rule(*extra: Any) -> Any:
    a = accounts
    return (select(*[a.c[f].label(f"a_{f}") for f in ACCOUNT_FIELDS], *extra, *_rule_columns())
            .select_from(_rule_joins(a.join(schemes, schemes.c.id == bindparam("scheme_id"))))
            .where(a.c.subject_kind == bindparam("kind"), a.c.subject_id == bindparam("subject_id")))


@cache
def _lock_and_rule() -> DriverStatement:
    """Run by the driver directly: the locking read of every claim, and of an award that
    cannot be written without a lock.

    With ``seen_rules_epoch``, the account's rules epoch as of the statement's snapshot. A
    locking read that waited for an adoption (方案修订) gets the account as the adoption left
    it, its ``a_rules_epoch`` raised, but the rule as it was before: PostgreSQL re-reads
    only the locked row. The two epochs differing says the rule must be read again.
    """
    before = accounts.alias("before")
    seen = select(before.c.rules_epoch).where(before.c.id == accounts.c.id).scalar_subquery()
    return DriverStatement(_account_and_rule(seen.label("seen_rules_epoch")).with_for_update(of=accounts))


@cache
def read_for_scoring() -> DriverStatement:
    """The subject's account and the scheme's rule for an item on a day, without a lock
    (parameters ``kind``, ``subject_id``, ``scheme_id``, ``code``, ``day``)."""
    return DriverStatement(_account_and_rule())


class PointsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _all(self, query: Any) -> list[Row[Any]]:
        return list((await self.session.execute(query)).all())

    async def _first(self, query: Any, params: dict[str, Any] | None = None) -> Row[Any] | None:
        return (await self.session.execute(query, params)).first()

    # -- households (农户, 一户一档) ------------------------------------------------------

    async def add_household(self, **values: Any) -> None:
        await self.session.execute(households.insert().values(**values))

    async def households_by_ids(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        query = select(households).where(households.c.id.in_(ids))
        if lock:
            query = query.with_for_update()
        return {r.id: r for r in await self._all(query)}

    async def household_number_taken(self, region_code: str, household_number: str) -> bool:
        row = await self._first(
            select(households.c.id).where(
                households.c.region_code == region_code,
                households.c.household_number == household_number,
            )
        )
        return row is not None

    async def list_households(self, prefix: str, page: Page) -> list[Row[Any]]:
        query = select(households).where(households.c.region_code.startswith(prefix))
        after = page.condition(households.c.id)
        if after is not None:
            query = query.where(after)
        return await self._all(query.order_by(households.c.id).limit(page.size + 1))

    async def members_of(self, household_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        if household_ids:
            m = household_members
            for r in await self._all(select(m).where(m.c.household_id.in_(household_ids))
                                     .order_by(m.c.created_at, m.c.id)):
                out[r.household_id].append(r)
        return out

    async def household_account_ids(self, household_ids: Sequence[str]) -> dict[str, str]:
        if not household_ids:
            return {}
        rows = await self._all(select(accounts.c.subject_id, accounts.c.id).where(
            accounts.c.subject_kind == points_pb2.SUBJECT_KIND_HOUSEHOLD,
            accounts.c.subject_id.in_(household_ids)))
        return {r.subject_id: r.id for r in rows}

    async def member(self, member_id: str) -> Row[Any] | None:
        return await self._first(select(household_members).where(household_members.c.id == member_id))

    async def add_member(self, **values: Any) -> None:
        await self.session.execute(household_members.insert().values(**values))

    async def update_household(self, household_id: str, **values: Any) -> None:
        await self.session.execute(update(households).where(households.c.id == household_id)
                                   .values(**values))

    async def update_member(self, member_id: str, **values: Any) -> None:
        await self.session.execute(update(household_members)
                                   .where(household_members.c.id == member_id).values(**values))

    async def members_leave_with_household(self, household_id: str, on: date) -> None:
        """Members still on a household that moves out (整户迁出) leave with it, that day."""
        m = household_members
        await self.session.execute(update(m).where(m.c.household_id == household_id, m.c.left_on.is_(None))
                                   .values(left_on=on, left_reason=MOVED_OUT_WITH_HOUSEHOLD))

    async def members_moved_out_with(self, household_id: str, on: date) -> list[Row[Any]]:
        """The members who left with the household when it moved out (整户迁出) on ``on``,
        in the order they were recorded; members who left before, for their own reasons,
        are not among them."""
        m = household_members
        return await self._all(select(m).where(
            m.c.household_id == household_id, m.c.left_on == on,
            m.c.left_reason == MOVED_OUT_WITH_HOUSEHOLD).order_by(m.c.created_at, m.c.id))

    async def members_return_with_household(self, member_ids: Sequence[str]) -> None:
        """Members who left with their household are members again when it returns (回迁)."""
        if member_ids:
            m = household_members
            await self.session.execute(update(m).where(m.c.id.in_(member_ids))
                                       .values(left_on=None, left_reason=""))

    async def current_households_of(self, talent_person_ids: Sequence[str]) -> dict[str, Row[Any]]:
        """The household each of these persons known to talent is a current member
        (在册成员) of, for those who are one."""
        if not talent_person_ids:
            return {}
        m, h = household_members, households
        rows = await self._all(
            select(m.c.talent_person_id, h.c.id, h.c.region_code, h.c.household_number)
            .join(m, m.c.household_id == h.c.id)
            .where(m.c.talent_person_id.in_(talent_person_ids), m.c.left_on.is_(None)))
        return {r.talent_person_id: r for r in rows}

    async def current_member_count(self, household_id: str) -> int:
        m = household_members
        return int(await self.session.scalar(select(func.count()).select_from(m).where(
            m.c.household_id == household_id, m.c.left_on.is_(None))) or 0)

    async def last_roster_day(self, household_id: str) -> date | None:
        """The latest day the roster records of the household: a member joining or leaving,
        a change of head, or its return after moving out (回迁)."""
        m, c = household_members, household_head_changes
        days = [await self.session.scalar(select(households.c.returned_on)
                                          .where(households.c.id == household_id))]
        for table, column in ((m, m.c.joined_on), (m, m.c.left_on), (c, c.c.changed_on)):
            days.append(await self.session.scalar(
                select(func.max(column)).where(table.c.household_id == household_id)))
        known = [d for d in days if d is not None]
        return max(known) if known else None

    async def head_changes_of(self, household_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        """Each household's head changes (户主变更记录), oldest first."""
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        if household_ids:
            c = household_head_changes
            for r in await self._all(select(c).where(c.c.household_id.in_(household_ids))
                                     .order_by(c.c.changed_on, c.c.created_at, c.c.id)):
                out[r.household_id].append(r)
        return out

    async def last_head_change_on(self, household_id: str) -> date | None:
        c = household_head_changes
        return (await self.session.execute(
            select(func.max(c.c.changed_on)).where(c.c.household_id == household_id))).scalar_one()

    async def add_head_change(self, **values: Any) -> None:
        await self.session.execute(household_head_changes.insert().values(**values))

    async def rename_household_account(self, household_id: str, display_name: str) -> None:
        """The household account's display name (显示名称) follows its head (户主)."""
        await self.session.execute(update(accounts).where(
            accounts.c.subject_kind == points_pb2.SUBJECT_KIND_HOUSEHOLD,
            accounts.c.subject_id == household_id).values(display_name=display_name))

    # -- accounts (积分账户) ---------------------------------------------------------------

    async def add_account(self, **values: Any) -> None:
        await self.session.execute(accounts.insert().values(**values))

    async def accounts_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        return {r.id: r for r in await self._all(select(accounts).where(accounts.c.id.in_(ids)))}

    async def accounts_by_subjects(self, subjects: Sequence[tuple[int, str]]
                                   ) -> dict[tuple[int, str], Row[Any]]:
        if not subjects:
            return {}
        rows = await self._all(select(accounts).where(
            tuple_(accounts.c.subject_kind, accounts.c.subject_id).in_(list(subjects))))
        return {(r.subject_kind, r.subject_id): r for r in rows}

    async def list_accounts(self, prefix: str, kind: int, page: Page) -> list[Row[Any]]:
        query = select(accounts).where(accounts.c.region_code.startswith(prefix))
        if kind:
            query = query.where(accounts.c.subject_kind == kind)
        after = page.condition(accounts.c.id)
        if after is not None:
            query = query.where(after)
        return await self._all(query.order_by(accounts.c.id).limit(page.size + 1))

    async def last_scored_after(self, kind: int, subject_id: str, day: date, *, lock: bool) -> date | None:
        """The latest day after ``day`` with points scored (a claim, award or batch line not
        reversed) on the subject's account, or None; ``lock`` takes the account's lock first,
        so that no score is added meanwhile."""
        if lock:
            await self.session.execute(select(accounts.c.id).where(
                accounts.c.subject_kind == kind, accounts.c.subject_id == subject_id).with_for_update())
        e, reversal = entries, entries.alias("reversal")
        return await self.session.scalar(
            select(func.max(e.c.entry_date))
            .join(accounts, accounts.c.id == e.c.account_id)
            .where(accounts.c.subject_kind == kind, accounts.c.subject_id == subject_id,
                   e.c.entry_date > day, e.c.kind.in_(SCORED_KINDS),
                   ~select(reversal.c.id).where(reversal.c.reverses_entry_id == e.c.id).exists()))

    async def lots_of(self, account_id: str, include_spent: bool) -> list[Row[Any]]:
        query = select(lots).where(lots.c.account_id == account_id)
        if not include_spent:
            query = query.where(lots.c.available > 0, lots.c.closed.is_(False))
        return await self._all(query.order_by(lots.c.lot_date, lots.c.id))

    # -- schemes (积分方案) ----------------------------------------------------------------

    async def add_scheme(self, **values: Any) -> None:
        await self.session.execute(schemes.insert().values(**values))

    async def add_version(self, **values: Any) -> None:
        await self.session.execute(scheme_versions.insert().values(**values))

    async def add_items(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(catalog_items.insert(), rows)

    async def delete_draft_items(self, version_id: str) -> None:
        await self.session.execute(catalog_items.delete().where(catalog_items.c.version_id == version_id))

    async def scheme(self, scheme_id: str, *, lock: bool = False) -> Row[Any] | None:
        """The scheme; ``lock`` serialises the writes that change it or its cycle.

        The lock is ``FOR NO KEY UPDATE``: it leaves alone the key-share locks that
        inserts referencing the scheme take (a claim, an entry), so a close that holds the
        scheme while it waits for an account never deadlocks with a claim that holds the
        account while it inserts.
        """
        query = select(schemes).where(schemes.c.id == scheme_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return await self._first(query)

    async def schemes_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        return {r.id: r for r in await self._all(select(schemes).where(schemes.c.id.in_(ids)))}

    async def scheme_taken(self, region_code: str, year: int, kind: int) -> bool:
        return await self._first(select(schemes.c.id).where(
            schemes.c.region_code == region_code, schemes.c.year == year,
            schemes.c.subject_kind == kind)) is not None

    async def list_schemes(self, prefix: str, year: int, kind: int, page: Page) -> list[Row[Any]]:
        query = select(schemes).where(schemes.c.region_code.startswith(prefix))
        if year:
            query = query.where(schemes.c.year == year)
        if kind:
            query = query.where(schemes.c.subject_kind == kind)
        after = page.condition(schemes.c.id)
        if after is not None:
            query = query.where(after)
        return await self._all(query.order_by(schemes.c.id).limit(page.size + 1))

    async def version(self, version_id: str, *, lock: bool = False) -> Row[Any] | None:
        query = select(scheme_versions).where(scheme_versions.c.id == version_id)
        if lock:
            query = query.with_for_update()
        return await self._first(query)

    async def versions_of(self, scheme_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        if scheme_ids:
            v = scheme_versions
            for r in await self._all(select(v).where(v.c.scheme_id.in_(scheme_ids))
                                     .order_by(v.c.scheme_id, v.c.version)):
                out[r.scheme_id].append(r)
        return out

    async def items_of(self, version_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        if version_ids:
            i = catalog_items
            for r in await self._all(select(i).where(i.c.version_id.in_(version_ids))
                                     .order_by(i.c.version_id, i.c.position)):
                out[r.version_id].append(r)
        return out

    async def update_version(self, version_id: str, **values: Any) -> None:
        await self.session.execute(update(scheme_versions).where(scheme_versions.c.id == version_id)
                                   .values(**values))

    async def closed_schemes(self, scheme_ids: Sequence[str]) -> set[str]:
        if not scheme_ids:
            return set()
        rows = await self._all(select(cycle_closes.c.scheme_id)
                               .where(cycle_closes.c.scheme_id.in_(scheme_ids)))
        return {r.scheme_id for r in rows}

    async def scoring_rule(self, scheme_id: str, item_code: str, day: date) -> ScoringRule:
        """The scheme, its version in force on ``day`` and its item ``item_code``, in one query."""
        row = await self._first(_select_rule(), {"scheme_id": scheme_id, "code": item_code, "day": day})
        if row is None:
            return ScoringRule(None, False, None, None)
        return rule_of(row)

    async def lock_for_scoring(self, kind: int, subject_id: str, scheme_id: str, item_code: str,
                               day: date) -> Row[Any] | None:
        """The subject's account, locked, with the scheme's rule for ``item_code`` on ``day``:
        one round trip for the common case of an award or a claim."""
        row: Row[Any] | None = await _lock_and_rule().fetchrow(self.session, {
            "kind": kind, "subject_id": subject_id, "scheme_id": scheme_id, "code": item_code, "day": day})
        return row

    # -- ledger (积分台账) -----------------------------------------------------------------

    async def entries_by_ids(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        query = (select(entries, accounts.c.subject_kind, accounts.c.subject_id)
                 .join(accounts, accounts.c.id == entries.c.account_id)
                 .where(entries.c.id.in_(ids)))
        return {r.id: r for r in await self._all(query)}

    async def reversal_of(self, entry_id: str) -> Row[Any] | None:
        return await self._first(select(entries.c.id).where(entries.c.reverses_entry_id == entry_id))

    async def lot_made_by(self, entry_id: str) -> int | None:
        row = await self._first(select(lots.c.id).where(lots.c.entry_id == entry_id))
        return None if row is None else int(row.id)

    async def reserved_from(self, account_id: str, lot_id: int) -> str | None:
        """A redemption of the account still reserved that took points from the lot, if any."""
        r, m = redemptions, lot_moves
        return await self.session.scalar(
            select(r.c.id).join(m, and_(m.c.entry_id == r.c.entry_id, m.c.lot_id == lot_id))
            .where(r.c.account_id == account_id,
                   r.c.status == points_pb2.REDEMPTION_STATUS_RESERVED).limit(1))

    async def expired_from(self, account_id: str, lot_id: int) -> int:
        """Points a lot of this account lost when it expired (积分过期)."""
        taken = (await self.session.execute(
            select(func.coalesce(func.sum(-lot_moves.c.amount), 0))
            .select_from(entries)
            .join(lot_moves, and_(lot_moves.c.entry_id == entries.c.id, lot_moves.c.lot_id == lot_id))
            .where(entries.c.account_id == account_id, entries.c.kind == points_pb2.ENTRY_KIND_EXPIRY)
        )).scalar_one()
        return int(taken)

    async def statement(self, account_id: str, start: date | None, end: date | None,
                        page: Page) -> list[Row[Any]]:
        query = select(entries).where(entries.c.account_id == account_id)
        if start is not None:
            query = query.where(entries.c.entry_date >= start)
        if end is not None:
            query = query.where(entries.c.entry_date <= end)
        after = page.condition(entries.c.seq)
        if after is not None:
            query = query.where(after)
        return await self._all(query.order_by(entries.c.seq).limit(page.size + 1))

    async def item_uses(self, account_ids: Sequence[str], codes: Sequence[str],
                        start: date, end: date) -> list[Row[Any]]:
        """Occurrences that count against limits: scored entries not reversed, pending claims.

        Whatever scheme they were scored under: an account is scored by one scheme a year,
        and a week that spans New Year counts the uses of both years' schemes."""
        if not account_ids or not codes:
            return []
        e, r = entries, entries.alias("reversal")
        posted = (
            select(e.c.account_id, e.c.item_code, e.c.entry_date.label("day"),
                   e.c.quantity.label("quantity"))
            .where(e.c.account_id.in_(account_ids), e.c.item_code.in_(codes),
                   e.c.entry_date.between(start, end),
                   e.c.kind.in_(SCORED_KINDS),
                   ~select(r.c.seq).where(r.c.reverses_entry_id == e.c.id).exists())
        )
        pending = (
            select(claims.c.account_id, claims.c.item_code, claims.c.occurred_on.label("day"),
                   claims.c.quantity.label("quantity"))
            .where(claims.c.account_id.in_(account_ids), claims.c.item_code.in_(codes),
                   claims.c.occurred_on.between(start, end),
                   claims.c.status.in_(PENDING_CLAIM))
        )
        return await self._all(posted.union_all(pending))

    async def add_batch(self, **values: Any) -> None:
        await self.session.execute(batches.insert().values(**values))

    async def batch(self, batch_id: str) -> Row[Any] | None:
        return await self._first(select(batches).where(batches.c.id == batch_id))

    async def batch_by_key(self, region_code: str, key: str) -> Row[Any] | None:
        return await self._first(select(batches).where(batches.c.region_code == region_code,
                                                       batches.c.batch_key == key))

    # -- claims (积分申报) -----------------------------------------------------------------

    async def add_claim(self, **values: Any) -> None:
        await self.session.execute(claims.insert().values(**values))

    async def claims_by_ids(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        query = select(claims).where(claims.c.id.in_(ids))
        if lock:
            query = query.with_for_update()
        return {r.id: r for r in await self._all(query)}

    async def update_claim(self, claim_id: str, **values: Any) -> None:
        await self.session.execute(update(claims).where(claims.c.id == claim_id).values(**values))

    async def add_review(self, **values: Any) -> None:
        await self.session.execute(claim_reviews.insert().values(**values))

    async def add_objection(self, **values: Any) -> None:
        await self.session.execute(claim_objections.insert().values(**values))

    async def resolve_objections(self, claim_id: str, status: int, at: datetime, by: str) -> int:
        result = await self.session.execute(
            update(claim_objections)
            .where(claim_objections.c.claim_id == claim_id,
                   claim_objections.c.status == points_pb2.OBJECTION_STATUS_OPEN)
            .values(status=status, resolved_at=at, resolved_by=by))
        return int(getattr(result, "rowcount", 0) or 0)

    async def open_objection_count(self, claim_id: str) -> int:
        row = await self._first(select(func.count()).select_from(claim_objections).where(
            claim_objections.c.claim_id == claim_id,
            claim_objections.c.status == points_pb2.OBJECTION_STATUS_OPEN))
        return int(row[0]) if row else 0

    async def open_objection_by(self, claim_id: str, raised_by: str) -> Row[Any] | None:
        """``raised_by``'s open objection (异议) on the claim, if any (the oldest)."""
        return await self.objection_by(claim_id, raised_by, open_only=True)

    async def objection_by(self, claim_id: str, raised_by: str, *, open_only: bool = False
                           ) -> Row[Any] | None:
        """``raised_by``'s first objection (异议) on the claim, if any; only an open one
        with ``open_only``."""
        o = claim_objections
        query = select(o).where(o.c.claim_id == claim_id, o.c.raised_by == raised_by)
        if open_only:
            query = query.where(o.c.status == points_pb2.OBJECTION_STATUS_OPEN)
        return await self._first(query.order_by(o.c.raised_at, o.c.id).limit(1))

    async def reviews_and_objections(self, claim_ids: Sequence[str]
                                     ) -> tuple[dict[str, list[Row[Any]]], dict[str, list[Row[Any]]]]:
        reviews: dict[str, list[Row[Any]]] = defaultdict(list)
        objections: dict[str, list[Row[Any]]] = defaultdict(list)
        if claim_ids:
            for r in await self._all(select(claim_reviews).where(claim_reviews.c.claim_id.in_(claim_ids))
                                     .order_by(claim_reviews.c.reviewed_at, claim_reviews.c.id)):
                reviews[r.claim_id].append(r)
            o = claim_objections
            for r in await self._all(select(o).where(o.c.claim_id.in_(claim_ids))
                                     .order_by(o.c.raised_at, o.c.id)):
                objections[r.claim_id].append(r)
        return reviews, objections

    async def list_claims(self, prefix: str, status: int, account_id: str, page: Page) -> list[Row[Any]]:
        query = select(claims).where(claims.c.region_code.startswith(prefix))
        if status:
            query = query.where(claims.c.status == status)
        if account_id:
            query = query.where(claims.c.account_id == account_id)
        if page.after is not None:
            stamp = page.after[0]
            query = query.where(or_(claims.c.created_at < stamp,
                                    and_(claims.c.created_at == stamp, claims.c.id > page.after[1])))
        return await self._all(query.order_by(claims.c.created_at.desc(), claims.c.id)
                               .limit(page.size + 1))

    async def board_claims(self, region_code: str) -> list[Row[Any]]:
        """Claims in publicity, and claims back in review with an open objection."""
        o = claim_objections
        objected = select(o.c.claim_id).where(o.c.status == points_pb2.OBJECTION_STATUS_OPEN)
        return await self._all(
            select(claims).where(
                claims.c.region_code == region_code,
                or_(claims.c.status == points_pb2.CLAIM_STATUS_IN_PUBLICITY,
                    and_(claims.c.status == points_pb2.CLAIM_STATUS_PENDING_REVIEW,
                         claims.c.id.in_(objected))))
            .order_by(claims.c.publicity_ends_at, claims.c.created_at).limit(1000))

    async def versions_for_comment(self, region_code: str, today: date) -> list[Row[Any]]:
        """Versions publicised for comment (征求意见) whose comment period runs today."""
        v = scheme_versions
        return await self._all(
            select(v).join(schemes, schemes.c.id == v.c.scheme_id)
            .where(schemes.c.region_code == region_code,
                   v.c.status == points_pb2.SCHEME_VERSION_STATUS_PUBLICIZED,
                   v.c.comment_ends_on >= today)
            .order_by(v.c.comment_ends_on))

    async def due_claims(self, now: datetime, limit: int, *, region_prefix: str | None = None,
                         account_id: str | None = None) -> list[Row[Any]]:
        """Claims whose publicity window has closed, locked; rows others hold are skipped."""
        query = select(claims).where(claims.c.status == points_pb2.CLAIM_STATUS_IN_PUBLICITY,
                                     claims.c.publicity_ends_at <= now)
        if region_prefix:
            query = query.where(claims.c.region_code.startswith(region_prefix))
        if account_id:
            query = query.where(claims.c.account_id == account_id)
        return await self._all(query.order_by(claims.c.publicity_ends_at, claims.c.id).limit(limit)
                               .with_for_update(skip_locked=True))

    async def any_due_claims(self, now: datetime, *, region_prefix: str | None = None,
                             account_ids: Sequence[str] = ()) -> bool:
        query = select(literal(1)).select_from(claims).where(
            claims.c.status == points_pb2.CLAIM_STATUS_IN_PUBLICITY, claims.c.publicity_ends_at <= now)
        if region_prefix:
            query = query.where(claims.c.region_code.startswith(region_prefix))
        if account_ids:
            query = query.where(claims.c.account_id.in_(account_ids))
        return await self._first(query.limit(1)) is not None

    async def raise_rules_epoch(self, region_code: str, subject_kind: int) -> None:
        """Lock the accounts a scheme scores, in id order, and raise their rules epoch: a
        score in progress under the old rules then either has committed before this (and
        :meth:`scored_on` sees it) or reads its rule again after it (方案修订)."""
        where = (accounts.c.region_code == region_code, accounts.c.subject_kind == subject_kind)
        await self.session.execute(select(accounts.c.id).where(*where).order_by(accounts.c.id)
                                   .with_for_update())
        await self.session.execute(update(accounts).where(*where)
                                   .values(rules_epoch=accounts.c.rules_epoch + 1))

    async def scored_on(self, scheme: Row[Any], day: date) -> bool:
        """Whether anything is scored under the scheme for ``day``: an entry of a claim,
        award or batch line (reversed or not), or a claim still in review or publicity
        (评议/公示)."""
        a, e, c = accounts, entries, claims
        subjects = select(a.c.id).where(a.c.region_code == scheme.region_code,
                                        a.c.subject_kind == scheme.subject_kind)
        posted = select(e.c.id).where(e.c.account_id.in_(subjects), e.c.entry_date == day,
                                      e.c.scheme_id == scheme.id, e.c.kind.in_(SCORED_KINDS))
        pending = select(c.c.id).where(c.c.region_code == scheme.region_code,
                                       c.c.scheme_id == scheme.id, c.c.occurred_on == day,
                                       c.c.status.in_(PENDING_CLAIM))
        row = await self._first(select(or_(posted.exists(), pending.exists())))
        return bool(row and row[0])

    async def pending_claims_of_scheme(self, scheme_id: str) -> int:
        row = await self._first(select(func.count()).select_from(claims).where(
            claims.c.scheme_id == scheme_id, claims.c.status.in_(PENDING_CLAIM)))
        return int(row[0]) if row else 0

    # -- the points supermarket (积分超市) --------------------------------------------------

    async def add_goods(self, **values: Any) -> None:
        await self.session.execute(goods.insert().values(**values))

    async def goods_by_ids(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        query = select(goods).where(goods.c.id.in_(ids))
        if lock:
            query = query.with_for_update()
        return {r.id: r for r in await self._all(query)}

    async def update_goods(self, goods_id: str, **values: Any) -> None:
        await self.session.execute(update(goods).where(goods.c.id == goods_id).values(**values))

    async def add_stock_move(self, **values: Any) -> None:
        from shanzhi_points.tables import stock_moves

        await self.session.execute(stock_moves.insert().values(**values))

    async def list_goods(self, prefix: str, active_only: bool, page: Page) -> list[Row[Any]]:
        query = select(goods).where(goods.c.region_code.startswith(prefix))
        if active_only:  # on the shelf and in stock: what can be redeemed now
            query = query.where(goods.c.active.is_(True), goods.c.stock > 0)
        after = page.condition(goods.c.id)
        if after is not None:
            query = query.where(after)
        return await self._all(query.order_by(goods.c.id).limit(page.size + 1))

    async def add_redemption(self, **values: Any) -> None:
        await self.session.execute(redemptions.insert().values(**values))

    async def redemptions_by_ids(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        query = select(redemptions).where(redemptions.c.id.in_(ids))
        if lock:
            query = query.with_for_update()
        return {r.id: r for r in await self._all(query)}

    async def update_redemption(self, redemption_id: str, **values: Any) -> None:
        await self.session.execute(update(redemptions).where(redemptions.c.id == redemption_id)
                                   .values(**values))

    async def list_redemptions(self, prefix: str, account_id: str, status: int,
                               page: Page) -> list[Row[Any]]:
        r = redemptions
        query = select(r).where(r.c.region_code.startswith(prefix))
        if account_id:
            query = query.where(r.c.account_id == account_id)
        if status:
            query = query.where(r.c.status == status)
        if page.after is not None:
            stamp = page.after[0]
            query = query.where(or_(r.c.reserved_at < stamp,
                                    and_(r.c.reserved_at == stamp, r.c.id > page.after[1])))
        return await self._all(query.order_by(r.c.reserved_at.desc(), r.c.id).limit(page.size + 1))

    # -- cycles, rankings (年度结算、排名) -------------------------------------------------

    async def cycle_close_of(self, scheme_id: str) -> Row[Any] | None:
        return await self._first(select(cycle_closes).where(cycle_closes.c.scheme_id == scheme_id))

    async def open_earlier_cycles(self, region_code: str, kind: int, year: int) -> list[int]:
        """The years before ``year`` whose scheme for this village and kind of subject was
        adopted (采纳) and whose cycle is not closed yet, oldest first."""
        s, v, c = schemes, scheme_versions, cycle_closes
        adopted = select(v.c.id).where(v.c.scheme_id == s.c.id, v.c.status.in_(
            [points_pb2.SCHEME_VERSION_STATUS_ADOPTED, points_pb2.SCHEME_VERSION_STATUS_SUPERSEDED]))
        closed = select(c.c.id).where(c.c.scheme_id == s.c.id)
        rows = await self._all(select(s.c.year).where(
            s.c.region_code == region_code, s.c.subject_kind == kind, s.c.year < year,
            s.c.is_template.is_(False), adopted.exists(), ~closed.exists()).order_by(s.c.year))
        return [int(r.year) for r in rows]

    async def add_cycle_close(self, **values: Any) -> None:
        await self.session.execute(cycle_closes.insert().values(**values))

    async def account_ids_of(self, region_code: str, kind: int) -> list[str]:
        rows = await self._all(select(accounts.c.id).where(accounts.c.region_code == region_code,
                                                           accounts.c.subject_kind == kind))
        return [r.id for r in rows]

    async def accounts_with_base(self, account_ids: Sequence[str], year: int) -> set[str]:
        if not account_ids:
            return set()
        rows = await self._all(select(entries.c.account_id).where(
            entries.c.account_id.in_(account_ids), entries.c.kind == points_pb2.ENTRY_KIND_BASE,
            entries.c.year == year))
        return {r.account_id for r in rows}

    async def scheme_for(self, region_code: str, year: int, kind: int) -> Row[Any] | None:
        return await self._first(select(schemes).where(
            schemes.c.region_code == region_code, schemes.c.year == year,
            schemes.c.subject_kind == kind, schemes.c.is_template.is_(False)))

    def _scores(self, prefix: str, kind: int, start: date, end: date,
                scheme: tuple[str, int] | None) -> Any:
        """Each account's score (考评积分) in the period, and its place; only what the
        scheme (id, year) scored when it is given, and the year's base score (年度基础分).

        Accounts opened after the period with nothing scored in it are left out."""
        e, a = entries, accounts
        score = func.coalesce(func.sum(e.c.score), 0).label("score")
        joined = and_(e.c.account_id == a.c.id, e.c.entry_date >= start, e.c.entry_date <= end)
        if scheme is not None:
            scheme_id, year = scheme
            # A base credited before the year's scheme existed carries no scheme.
            base = and_(e.c.kind == points_pb2.ENTRY_KIND_BASE, e.c.year == year, e.c.scheme_id.is_(None))
            joined = and_(joined, or_(e.c.scheme_id == scheme_id, base))
        opened_by = datetime.combine(end + timedelta(days=1), time(0), CHINA).astimezone(UTC)
        scored = (
            select(a.c.id, a.c.subject_kind, a.c.subject_id, a.c.region_code, a.c.display_name, score)
            .select_from(a.outerjoin(e, joined))
            .where(a.c.region_code.startswith(prefix), a.c.subject_kind == kind,
                   or_(a.c.closed_on.is_(None), a.c.closed_on >= start))
            .group_by(a.c.id, a.c.subject_kind, a.c.subject_id, a.c.region_code, a.c.display_name)
            .having(or_(a.c.created_at < opened_by, func.count(e.c.id) > 0))
        ).subquery("scored")
        return select(scored, func.rank().over(order_by=scored.c.score.desc()).label("rank")
                      ).subquery("ranked")

    async def ranking(self, prefix: str, kind: int, start: date, end: date, page: Page, *,
                      scheme: tuple[str, int] | None = None) -> list[Row[Any]]:
        ranked = self._scores(prefix, kind, start, end, scheme)
        query = select(ranked)
        if page.after is not None:
            last_score, last_id = page.after
            query = query.where(or_(ranked.c.score < last_score,
                                    and_(ranked.c.score == last_score, ranked.c.id > last_id)))
        return await self._all(query.order_by(ranked.c.score.desc(), ranked.c.id).limit(page.size + 1))

    async def all_scores(self, region_code: str, kind: int, start: date, end: date, *,
                         scheme: tuple[str, int] | None = None) -> list[Row[Any]]:
        ranked = self._scores(region_code, kind, start, end, scheme)
        return await self._all(select(ranked).order_by(ranked.c.score.desc(), ranked.c.id))

    # -- outstanding villagers' representatives (优秀村民代表) ---------------------------

    @staticmethod
    def _honours() -> Any:
        h, a = representative_honours, accounts
        return select(h, a.c.display_name).select_from(h.join(a, a.c.id == h.c.account_id))

    async def add_honour(self, **values: Any) -> None:
        await self.session.execute(representative_honours.insert().values(**values))

    async def honours_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = await self._all(self._honours().where(representative_honours.c.id.in_(ids)))
        return {r.id: r for r in rows}

    async def honour_of(self, account_id: str, year: int) -> Row[Any] | None:
        h = representative_honours
        return await self._first(select(h.c.id).where(h.c.account_id == account_id, h.c.year == year))

    async def certificate_taken(self, region_code: str, year: int, number: str) -> bool:
        h = representative_honours
        return await self._first(select(h.c.id).where(
            h.c.region_code == region_code, h.c.year == year,
            h.c.certificate_number == number)) is not None

    async def list_honours(self, prefix: str, year: int, page: Page) -> list[Row[Any]]:
        h = representative_honours
        query = self._honours().where(h.c.region_code.startswith(prefix))
        if year:
            query = query.where(h.c.year == year)
        after = page.condition(h.c.id)
        if after is not None:
            query = query.where(after)
        return await self._all(query.order_by(h.c.id).limit(page.size + 1))
