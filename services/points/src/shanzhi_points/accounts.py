"""Opening accounts (积分账户) and the year's base score (年度基础分).

Used by the API (a clerk opens a party member's account), by the talent-event
consumer (an appointed villagers' representative gets an account and starts the
year at 100, 以100分为基准) and by the cycle close (every representative starts
the next year at the base score again). A subject gets one base score a year:
a unique index on (account, year) for base entries holds that even when two of
these paths meet.
"""

from __future__ import annotations

from datetime import date, datetime

from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.values import new_id
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import rules
from shanzhi_points.ledger import plan_credit
from shanzhi_points.outbox import EventBuffer
from shanzhi_points.posting import AccountState, LedgerWriter
from shanzhi_points.repository import PointsRepository, in_force_on
from shanzhi_points.tables import accounts, entries, scheme_versions, schemes


async def open_account(session: AsyncSession, events: EventBuffer, *, kind: int, subject_id: str,
                       region_code: str, display_name: str, now: datetime, actor: str,
                       named_at: datetime | None = None) -> AccountState:
    """Insert an account and its ``AccountOpenedEvent``; the caller checked it is new.

    ``named_at`` is the time of the talent event the display name comes from, if any.
    """
    account_id = new_id()
    values = dict(id=account_id, region_code=region_code, subject_kind=kind, subject_id=subject_id,
                  display_name=display_name[:100], balance=0, closed_on=None, created_at=now,
                  created_by=actor, display_name_at=named_at)
    await PointsRepository(session).add_account(**values)
    events.add(events_pb2.AccountOpenedEvent(account_id=account_id, subject_kind=kind,  # type: ignore[arg-type]
                                             subject_id=subject_id, region_code=region_code),
               subject=account_id, region_code=region_code)
    return AccountState(account_id, region_code, kind, subject_id, display_name[:100], 0, None, now,
                        actor)


async def set_closed_on(session: AsyncSession, events: EventBuffer, state: AccountState,
                        closed_on: date | None) -> bool:
    """Close the account on ``closed_on`` (its last day earning), or open it again with
    None, with its ``AccountClosedEvent`` or ``AccountReopenedEvent``; False when it already
    was so. The caller holds the account's lock."""
    if closed_on == state.closed_on:
        return False
    await session.execute(update(accounts).where(accounts.c.id == state.id).values(closed_on=closed_on))
    if closed_on is None:
        events.add(events_pb2.AccountReopenedEvent(
            account_id=state.id, subject_kind=state.subject_kind,  # type: ignore[arg-type]
            subject_id=state.subject_id, region_code=state.region_code),
            subject=state.id, region_code=state.region_code)
    else:
        events.add(events_pb2.AccountClosedEvent(
            account_id=state.id, subject_kind=state.subject_kind,  # type: ignore[arg-type]
            subject_id=state.subject_id, region_code=state.region_code,
            closed_on=closed_on.isoformat()),
            subject=state.id, region_code=state.region_code)
    state.closed_on = closed_on
    return True


async def base_score_for(session: AsyncSession, region_code: str, kind: int, year: int,
                         day: date, *, default: int | None = None) -> tuple[int, str | None]:
    """The base score a subject of ``kind`` starts ``year`` with, and the scheme that says so.

    The village's scheme for that year decides (its version in force on ``day``, or
    its latest adopted one); without one, ``default``, or else representatives start at
    100 and others at 0.
    """
    s, v = schemes, scheme_versions
    scheme = (await session.execute(select(s.c.id).where(
        s.c.region_code == region_code, s.c.year == year, s.c.subject_kind == kind,
        s.c.is_template.is_(False)))).first()
    if default is None:
        default = rules.REPRESENTATIVE_BASE_SCORE if kind == points_pb2.SUBJECT_KIND_REPRESENTATIVE else 0
    if scheme is None:
        return default, None
    version = (await session.execute(
        select(v.c.base_score).where(v.c.scheme_id == scheme.id, in_force_on(max(day, date(year, 1, 1))))
    )).first()
    if version is None:
        version = (await session.execute(
            select(v.c.base_score).where(v.c.scheme_id == scheme.id,
                                         v.c.status == points_pb2.SCHEME_VERSION_STATUS_ADOPTED))).first()
    return (int(version.base_score) if version is not None else default), scheme.id


async def has_base(session: AsyncSession, account_id: str, year: int) -> bool:
    return (await session.execute(select(entries.c.id).where(
        entries.c.account_id == account_id, entries.c.kind == points_pb2.ENTRY_KIND_BASE,
        entries.c.year == year))).first() is not None


async def credit_base(writer: LedgerWriter, state: AccountState, year: int, day: date, *,
                      source_id: str | None, default: int | None = None) -> bool:
    """Give the account the year's base score once; False if it had it or the base is 0.

    ``default`` is the base when no adopted version of the year's scheme says (a cycle
    close opening a year whose scheme is not adopted yet: the closing scheme's base).

    ``source_id`` is what the base entry points to (来源), given by each path:

    - a cycle close (年度结算) opening the next year: the close's id (``CycleClose.id``);
    - a representative's appointment (村民代表任职): the talent post's id (``post_id``);
    - a party member's account opened from talent (党员): the talent person's id;
    - an account opened by a clerk (``OpenAccount``): ``None``, since the opening is the
      account's own record (its ``created_at`` and ``created_by``, and the entry's).
    """
    if await has_base(writer.session, state.id, year):
        return False
    points, scheme_id = await base_score_for(writer.session, state.region_code, state.subject_kind,
                                             year, day, default=default)
    if points <= 0:
        return False
    writer.post(state, points_pb2.ENTRY_KIND_BASE, plan_credit(points), entry_date=day, year=year,
                scheme_id=scheme_id, source_id=source_id, reason=f"{year} base score (年度基础分)")
    return True
