"""Closing publicity windows (公示期满) and expiring lots, without anyone pressing a button.

A background task of the service wakes every few seconds and, in small
transactions, locks the claims whose window has closed (``FOR UPDATE SKIP
LOCKED``, so several replicas share the work and never post a claim twice),
locks their accounts and posts their points. Reads that show claims or balances
call :meth:`Finaliser.finalise_due` first for what they show, so a window that
closed a moment ago is never shown as open. The same task writes the expiry
entries of lots past their last usable day.

A claim whose account was closed by the time its window closes (the household
moved out 迁出, a representative's term ended, a party member left) posts nothing:
it lapses (``CLAIM_STATUS_LAPSED``, 已失效) in the same transaction, with a line in
its reviews (by ``system``) saying the account closed and on which day, and a
``ClaimLapsedEvent``. Like a posted claim it leaves the publicity state for good, so
it is never posted later nor lapsed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.events import Outbox
from shanzhi_kit.values import format_date, new_id
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_points.clock import Clock, china_date
from shanzhi_points.ledger import expiry_date, plan_credit, plan_deduct
from shanzhi_points.outbox import EventBuffer
from shanzhi_points.posting import AccountState, LedgerWriter
from shanzhi_points.tables import accounts, claim_reviews, claims, lots, scheme_versions, schemes

log = logging.getLogger(__name__)

#: Who the ledger names for entries nobody pressed a button for.
SYSTEM_ACTOR = "system"


def account_closed(state: AccountState, today: date) -> bool:
    """Whether the account has closed (账户已关闭) by ``today``, so it takes no more claims."""
    return state.closed_on is not None and state.closed_on <= today


def lapse_reason(state: AccountState) -> str:
    """Why a claim lapsed, as its reviews show it (申报失效的原因)."""
    closed = format_date(state.closed_on)
    return (f"失效 (lapsed): 账户已于 {closed} 关闭，公示期满未入账 (the account closed on "
            f"{closed} before the publicity window closed; no points were posted)")


class Finaliser:
    """Posts claims whose publicity window closed unopposed, and expires lots."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        clock: Clock,
        *,
        wake: Callable[[], None] = lambda: None,
        batch_size: int = 100,
        interval_seconds: float = 2.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._clock = clock
        self._wake = wake
        self._batch_size = batch_size
        self._interval = interval_seconds
        self.posted = 0
        self.lapsed = 0
        self.expired = 0

    def _writer(self, session: AsyncSession) -> LedgerWriter:
        # A window closes by itself: its entries and their events name the system, not
        # whoever's read happened to find the window closed.
        return LedgerWriter(session, EventBuffer(self._outbox, actor=SYSTEM_ACTOR), SYSTEM_ACTOR,
                            self._clock.now(), self._clock.today())

    async def finalise_due(self, *, region_prefix: str | None = None,
                           account_id: str | None = None, wait: bool = True) -> int:
        """Post every claim whose window has closed (within a region or of one account);
        a claim whose account has closed lapses instead. Returns how many were settled.

        Reads call it with ``wait``: a claim another transaction is posting right now (the
        background pass, another read) is waited for rather than skipped, so what the read
        shows next already has it. The background pass skips such claims instead
        (``wait=False``), so replicas share the work.
        """
        total = lapsed_total = 0
        while True:
            async with self._sessionmaker() as session, session.begin():
                now = self._clock.now()
                query = (
                    select(claims, schemes.c.year, scheme_versions.c.points_valid_months)
                    .join(schemes, schemes.c.id == claims.c.scheme_id)
                    .join(scheme_versions, scheme_versions.c.id == claims.c.version_id)
                    .where(claims.c.status == points_pb2.CLAIM_STATUS_IN_PUBLICITY,
                           claims.c.publicity_ends_at <= now)
                )
                if region_prefix:
                    query = query.where(claims.c.region_code.startswith(region_prefix))
                if account_id:
                    query = query.where(claims.c.account_id == account_id)
                due = (await session.execute(
                    query.order_by(claims.c.publicity_ends_at, claims.c.id).limit(self._batch_size)
                    .with_for_update(of=claims, skip_locked=not wait))).all()
                if not due:
                    break
                writer = self._writer(session)
                # Locked, so an account closing now (a move-out) waits for this pass or is
                # seen closed by it: never posted to after it closed.
                states = await writer.lock_accounts({c.account_id for c in due})
                await writer.expire_due(states.values())
                # A claim posts, or lapses when its account had closed by the day its window
                # closed (not the day this pass runs, which may be later): one or the other,
                # in this transaction, and either way it leaves the publicity state.
                lapses = {c.id for c in due
                          if account_closed(states[c.account_id], china_date(c.publicity_ends_at))}
                lapsing = [c for c in due if c.id in lapses]
                posted = [(claim.id, self._post(writer, states[claim.account_id], claim))
                          for claim in due if claim.id not in lapses]
                for claim in lapsing:
                    self._lapse_event(writer, states[claim.account_id], claim)
                await writer.flush()
                if posted:
                    await session.execute(
                        update(claims).where(claims.c.id == bindparam("claim_id"))
                        .values(status=points_pb2.CLAIM_STATUS_POSTED,
                                entry_id=bindparam("posted_entry"), updated_at=now),
                        [{"claim_id": c, "posted_entry": e} for c, e in posted])
                if lapsing:
                    await self._lapse(session, states, lapsing, now)
            total += len(due)
            lapsed_total += len(lapsing)
            self._wake()
            if len(due) < self._batch_size:
                break
        self.posted += total - lapsed_total
        self.lapsed += lapsed_total
        return total

    async def _lapse(self, session: AsyncSession, states: dict[str, AccountState],
                     lapsing: list[Any], now: datetime) -> None:
        """Mark the claims lapsed (已失效) and say why in their reviews (评议记录, 留痕)."""
        await session.execute(
            update(claims).where(claims.c.id == bindparam("claim_id"))
            .values(status=points_pb2.CLAIM_STATUS_LAPSED, updated_at=now),
            [{"claim_id": c.id} for c in lapsing])
        await session.execute(claim_reviews.insert(), [
            {"id": new_id(), "claim_id": c.id, "decision": points_pb2.REVIEW_DECISION_REJECT,
             "reason": lapse_reason(states[c.account_id]), "reviewer": SYSTEM_ACTOR,
             "reviewed_at": now}
            for c in lapsing])
        for claim in lapsing:
            log.info("claim %s lapsed: account %s closed on %s", claim.id, claim.account_id,
                     states[claim.account_id].closed_on)

    @staticmethod
    def _lapse_event(writer: LedgerWriter, state: AccountState, claim: Any) -> None:
        writer.events.add(
            events_pb2.ClaimLapsedEvent(claim_id=claim.id, account_id=claim.account_id,
                                        region_code=claim.region_code,
                                        account_closed_on=format_date(state.closed_on)),
            subject=claim.id, region_code=claim.region_code)

    def _post(self, writer: LedgerWriter, state: AccountState, claim: Any) -> str:
        if claim.points > 0:
            plan = plan_credit(claim.points)
        else:
            assert state.lots is not None
            plan = plan_deduct(list(state.lots.values()), -claim.points, writer.today)
        entry = writer.post(
            state, points_pb2.ENTRY_KIND_CLAIM, plan, entry_date=claim.occurred_on, year=claim.year,
            scheme_id=claim.scheme_id, item_code=claim.item_code, item_name=claim.item_name,
            quantity=claim.quantity, source_id=claim.id,
            reason="publicity closed without objection (公示期满无异议)",
            expires_on=expiry_date(claim.occurred_on, claim.points_valid_months),
        )
        writer.events.add(
            events_pb2.ClaimPostedEvent(claim_id=claim.id, entry_id=entry["id"],
                                        region_code=claim.region_code),
            subject=claim.id, region_code=claim.region_code)
        return str(entry["id"])

    async def expire_due_lots(self) -> int:
        """Write expiry entries for lots past their last usable day, a few accounts at a time."""
        total = 0
        while True:
            async with self._sessionmaker() as session, session.begin():
                today = self._clock.today()
                due = (await session.execute(
                    select(lots.c.account_id).where(lots.c.closed.is_(False), lots.c.available > 0,
                                                    lots.c.expires_on < today)
                    .group_by(lots.c.account_id).limit(self._batch_size))).all()
                if not due:
                    break
                rows = (await session.execute(
                    select(accounts).where(accounts.c.id.in_([r.account_id for r in due]))
                    .order_by(accounts.c.id).with_for_update(skip_locked=True))).all()
                if not rows:
                    break
                writer = self._writer(session)
                count = await writer.expire_due([AccountState.of(r) for r in rows])
                await writer.flush()
            total += count
            self._wake()
            if len(due) < self._batch_size:
                break
        self.expired += total
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Close windows and expire lots until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.finalise_due(wait=False)
                await self.expire_due_lots()
            except Exception as exc:
                log.warning("publicity and expiry pass failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
