"""Cycles (年度结算), rankings (积分排名) and honours (红黑榜、星级文明户)."""

from __future__ import annotations

from datetime import date
from typing import Any

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.errors import InvalidArgument, NotFound, Validator
from shanzhi_kit.paging import Page, page_of
from shanzhi_kit.values import new_id, require_id
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain, rules
from shanzhi_points.accounts import credit_base
from shanzhi_points.api.base import ApiBase
from shanzhi_points.api.schemes import in_force
from shanzhi_points.errors import refused, require_scope
from shanzhi_points.ledger import plan_reset
from shanzhi_points.messages import cycle_close_message, subject_ref
from shanzhi_points.repository import PointsRepository
from shanzhi_points.tables import accounts, lots

MAX_PERIOD_DAYS = 3 * 366


def ranking_row(row: Any, rank: int, thresholds: tuple[int, ...] = ()) -> points_pb2.RankingRow:
    return points_pb2.RankingRow(
        rank=rank, account_id=row.id, subject=subject_ref(row.subject_kind, row.subject_id),
        region_code=row.region_code, display_name=row.display_name, score=int(row.score),
        stars=rules.stars(int(row.score), thresholds))


def period(v: Validator, start_text: str, end_text: str, *, required: bool,
           default: tuple[date, date] | None = None) -> tuple[date, date]:
    start = v.date_field("from_date", start_text, required=required)
    end = v.date_field("to_date", end_text, required=required)
    v.raise_if_any()
    # The field to blame is the one the caller gave when the other is the default.
    blamed = "from_date" if end is None and start is not None else "to_date"
    if default is not None:
        start, end = start or default[0], end or default[1]
    assert start is not None and end is not None
    if end < start:
        raise InvalidArgument.field(blamed, "must not be before from_date"
                                    if blamed == "to_date" else f"is after the period's end, {end}")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidArgument.field(blamed, "a period spans at most three years")
    return start, end


def _with_ties(rows: list[points_pb2.RankingRow], size: int) -> list[points_pb2.RankingRow]:
    """The first ``size`` rows, and any after them sharing the last one's place (并列)."""
    if size <= 0:
        return []
    kept = rows[:size]
    for row in rows[size:]:
        if row.rank != kept[-1].rank:
            break
        kept.append(row)
    return kept


class StandingsApi(ApiBase):
    async def CloseCycle(
        self, request: points_pb2.CloseCycleRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.CloseCycleResponse:
        caller = self._caller()
        scheme_id = require_id(request.scheme_id, "scheme_id")
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.CloseCycleResponse:
            repo = PointsRepository(session)
            scheme = await repo.scheme(scheme_id, lock=True)
            if scheme is None:
                raise NotFound("scheme", scheme_id, "scheme_id")
            require_scope(caller.scope, scheme.region_code, "scheme_id")
            if scheme.is_template:
                raise refused("scheme_id", "a template has no cycle")
            writer = self._ledger(session, caller)
            if writer.today <= date(scheme.year, 12, 31):
                raise refused("scheme_id", f"the year {scheme.year} is not over")
            if await repo.cycle_close_of(scheme.id) is not None:
                raise refused("scheme_id", f"the {scheme.year} cycle is already closed")
            earlier = await repo.open_earlier_cycles(scheme.region_code, scheme.subject_kind, scheme.year)
            if earlier:
                # Years close in turn: an account's closed year covers every year before it.
                raise refused("scheme_id", f"the {earlier[0]} cycle of this village's scheme is not "
                              "closed yet; close it first")
            versions = (await repo.versions_of([scheme.id])).get(scheme.id, [])
            version = in_force(versions, date(scheme.year, 12, 31)) or next(
                (x for x in reversed(versions) if x.status == points_pb2.SCHEME_VERSION_STATUS_ADOPTED),
                None)
            if version is None:
                raise refused("scheme_id", "no version of the scheme was ever adopted")
            states = await writer.lock_accounts(
                await repo.account_ids_of(scheme.region_code, scheme.subject_kind))
            # Counted once the accounts are locked: a claim being submitted holds its
            # account's lock, and this statement then sees it.
            pending = await repo.pending_claims_of_scheme(scheme.id)
            if pending:
                raise refused("scheme_id", f"{pending} claims are still in review or publicity")
            # On the rows themselves, so a write waiting for one of these locks finds the
            # close when it gets the row (its own read of cycle_closes may be older).
            await session.execute(update(accounts).where(accounts.c.id.in_(list(states)))
                                  .values(closed_cycle_year=scheme.year))
            await writer.expire_due(states.values())
            # Made before the entries, which point to the close (来源): its resets and the
            # next year's base scores.
            close_id = new_id()
            reset = 0
            if version.cycle_policy == points_pb2.CYCLE_POLICY_RESET:
                # Lots already used up close too, so a later cancellation cannot refill them.
                await session.execute(update(lots).where(
                    lots.c.account_id.in_(list(states)), lots.c.lot_date <= date(scheme.year, 12, 31),
                    lots.c.available == 0, lots.c.closed.is_(False)).values(closed=True))
                for state in states.values():
                    assert state.lots is not None
                    plan = plan_reset(list(state.lots.values()), scheme.year, writer.today)
                    if plan.moves or plan.closes:
                        writer.post(state, points_pb2.ENTRY_KIND_CYCLE_CLOSE, plan,
                                    entry_date=date(scheme.year, 12, 31), year=scheme.year,
                                    scheme_id=scheme.id, source_id=close_id,
                                    reason=f"{scheme.year} 年度清零 (reset)")
                        reset -= plan.amount
            opened = 0
            if version.base_score > 0:
                for state in states.values():
                    # The next year's scheme sets the base once adopted; until then, this one's.
                    if state.closed_on is None and await credit_base(
                            writer, state, scheme.year + 1, date(scheme.year + 1, 1, 1),
                            source_id=close_id, default=int(version.base_score)):
                        opened += 1
            try:
                async with session.begin_nested():
                    await repo.add_cycle_close(
                        id=close_id, scheme_id=scheme.id, year=scheme.year, policy=version.cycle_policy,
                        accounts=len(states), points_reset=reset, base_scores_opened=opened,
                        closed_at=writer.now, closed_by=caller.subject)
            except IntegrityError:
                raise refused("scheme_id", "the cycle was closed by a concurrent request") from None
            writer.events.add(events_pb2.CycleClosedEvent(
                close_id=close_id, scheme_id=scheme.id, region_code=scheme.region_code,
                year=scheme.year, policy=version.cycle_policy, points_reset=reset),
                subject=scheme.id, region_code=scheme.region_code)
            await writer.flush()
            row = await repo.cycle_close_of(scheme.id)
            return points_pb2.CloseCycleResponse(close=cycle_close_message(row))

        return await self._write("CloseCycle", request, points_pb2.CloseCycleResponse, work)

    async def ListRanking(
        self, request: points_pb2.ListRankingRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListRankingResponse:
        page = page_of(request.page, key_types=(int, str))
        if request.scheme_id:
            return await self._scheme_ranking(request, page)
        v = Validator()
        v.check(request.subject_kind in domain.SUBJECT_KINDS, "subject_kind", "must be a SubjectKind")
        start, end = period(v, request.from_date, request.to_date, required=True)
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListRankingResponse()
        await self._finaliser.finalise_due(region_prefix=prefix)
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).ranking(prefix, request.subject_kind, start, end, page)
        return points_pb2.ListRankingResponse(
            rows=[ranking_row(r, r.rank) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [int(r.score), r.id]))

    async def _scheme_ranking(self, request: points_pb2.ListRankingRequest, page: Page
                              ) -> points_pb2.ListRankingResponse:
        """The ranking of one scheme's subjects (积分方案排名), with their stars."""
        scheme, start, end, version = await self._scheme_period(
            request.scheme_id, request.from_date, request.to_date, "a template ranks no one")
        v = Validator()
        v.check(request.subject_kind in (0, scheme.subject_kind), "subject_kind",
                "must be left empty or be the scheme's kind of subject")
        v.check(scheme.region_code.startswith(request.region_code_prefix), "region_code_prefix",
                "must be left empty or contain the scheme's village")
        v.raise_if_any()
        await self._finaliser.finalise_due(region_prefix=scheme.region_code)
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).ranking(
                scheme.region_code, scheme.subject_kind, start, end, page, scheme=(scheme.id, scheme.year))
        thresholds = tuple(version.star_thresholds or ()) if version else ()
        return points_pb2.ListRankingResponse(
            rows=[ranking_row(r, r.rank, thresholds) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [int(r.score), r.id]))

    async def _scheme_period(self, scheme_id_text: str, from_text: str, to_text: str,
                             template_refusal: str) -> tuple[Any, date, date, Any]:
        """A scheme the caller may see, the period asked (its year when empty) and the
        version in force at the period's end (or today, if that comes first)."""
        scheme_id = require_id(scheme_id_text, "scheme_id")
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            scheme = await repo.scheme(scheme_id)
            if scheme is None:
                raise NotFound("scheme", scheme_id, "scheme_id")
            require_scope(self._caller().scope, scheme.region_code, "scheme_id")
            if scheme.is_template:
                raise refused("scheme_id", template_refusal)
            first, last = date(scheme.year, 1, 1), date(scheme.year, 12, 31)
            start, end = period(Validator(), from_text, to_text, required=False, default=(first, last))
            if end < first or start > last:
                raise InvalidArgument.field("from_date" if start > last else "to_date",
                                            f"the period must overlap the scheme's year, {scheme.year}")
            versions = (await repo.versions_of([scheme.id])).get(scheme.id, [])
        version = in_force(versions, min(end, self._clock.today())) or in_force(versions, end)
        return scheme, start, end, version

    async def GetHonourBoard(
        self, request: points_pb2.GetHonourBoardRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetHonourBoardResponse:
        scheme, start, end, version = await self._scheme_period(
            request.scheme_id, request.from_date, request.to_date, "a template has no honours")
        await self._finaliser.finalise_due(region_prefix=scheme.region_code)
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).all_scores(
                scheme.region_code, scheme.subject_kind, start, end, scheme=(scheme.id, scheme.year))
        red_size = version.red_list_size if version else rules.DEFAULT_LIST_SIZE
        black_size = version.black_list_size if version else rules.DEFAULT_LIST_SIZE
        below = version.black_list_below if version else 0
        thresholds = tuple(version.star_thresholds or ()) if version else ()
        ranks = rules.competition_ranks([int(r.score) for r in rows])
        ranked = [ranking_row(r, k, thresholds) for r, k in zip(rows, ranks, strict=True)]
        # The red list takes scores above zero and not below the black list's threshold, so
        # no subject is on both; a place shared at a list's last spot is shown whole.
        red = _with_ties([r for r in ranked if r.score > 0 and r.score >= below], red_size)
        black = _with_ties([r for r in reversed(ranked) if r.score < below], black_size)
        starred = sorted((r for r in ranked if r.stars > 0), key=lambda r: (-r.stars, -r.score))
        return points_pb2.GetHonourBoardResponse(red_list=red, black_list=black, starred=starred)
