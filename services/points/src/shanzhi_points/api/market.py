"""The points supermarket (积分超市): goods, stock and redemptions.

A reservation locks the account row, then the goods row (always in that order),
takes the points from the oldest lots and holds the stock, in one transaction:
concurrent redemptions on one account queue on its row, so none can spend points
another already took. A cancellation gives the points back to the lots they came
from and the stock back to the shelf.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.auth import Caller
from shanzhi_kit.db import DriverStatement
from shanzhi_kit.errors import NotFound, Validator
from shanzhi_kit.idempotency import KeyRow
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import aware, batch_ids, new_id, require_id
from sqlalchemy import Row, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain
from shanzhi_points.api.base import ApiBase, subject_account
from shanzhi_points.errors import refused, require_scope, unknown
from shanzhi_points.ledger import InsufficientPoints, plan_restore, plan_spend
from shanzhi_points.messages import goods_message, name_of, redemption_message, subject_ref
from shanzhi_points.repository import PointsRepository
from shanzhi_points.tables import goods, redemptions, stock_moves

#: Take stock for a reservation, only from goods on the village's shelf and never below zero;
#: run by the driver directly.
_TAKE_STOCK = DriverStatement(
    update(goods)
    .where(goods.c.id == bindparam("wanted_goods"), goods.c.region_code == bindparam("village"),
           goods.c.active.is_(True), goods.c.stock >= bindparam("wanted"))
    .values(stock=goods.c.stock - bindparam("wanted"), updated_at=bindparam("at"),
            updated_by=bindparam("by"))
    .returning(goods.c.region_code, goods.c.name, goods.c.price, goods.c.stock)
)

#: The Goods fields UpdateGoods sets, in the order of the Goods message: the names a
#: GoodsChangedEvent lists when their value changed.
_GOODS_SET = ("name", "price", "active")

RESERVED = points_pb2.REDEMPTION_STATUS_RESERVED
PICKED_UP = points_pb2.REDEMPTION_STATUS_PICKED_UP
CANCELLED = points_pb2.REDEMPTION_STATUS_CANCELLED
STATUS = points_pb2.RedemptionStatus


class MarketApi(ApiBase):
    # -- goods (商品) ----------------------------------------------------------------------

    async def AddGoods(
        self, request: points_pb2.AddGoodsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.AddGoodsResponse:
        caller = self._caller()
        v = Validator()
        domain.village(v, request.region_code)
        name = domain.check_goods_name(v, request.name)
        domain.check_price(v, "price", request.price)
        v.check(0 <= request.stock <= domain.MAX_STOCK, "stock",
                f"must be a whole number from 0 to {domain.MAX_STOCK}")
        v.raise_if_any()
        require_scope(caller.scope, request.region_code, "region_code")
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.AddGoodsResponse:
            repo = PointsRepository(session)
            goods_id, now = new_id(), self._clock.now()
            await repo.add_goods(id=goods_id, region_code=request.region_code, name=name,
                                 price=request.price, stock=request.stock, active=True,
                                 created_at=now, created_by=caller.subject, updated_at=now,
                                 updated_by=caller.subject)
            if request.stock:
                await repo.add_stock_move(goods_id=goods_id, change=request.stock,
                                          stock_after=request.stock, reason="上架 (first stock)",
                                          redemption_id=None, created_at=now, created_by=caller.subject)
            await self._outbox.add(session, events_pb2.GoodsAddedEvent(
                goods_id=goods_id, region_code=request.region_code, name=name,
                price=request.price, stock=request.stock, active=True),
                subject=goods_id, region_code=request.region_code)
            row = (await repo.goods_by_ids([goods_id]))[goods_id]
            return points_pb2.AddGoodsResponse(goods=goods_message(row))

        return await self._write("AddGoods", request, points_pb2.AddGoodsResponse, work)

    async def _locked_goods(self, repo: PointsRepository, goods_id: str, caller: Caller,
                            field: str = "goods_id") -> Row[Any]:
        row = (await repo.goods_by_ids([goods_id], lock=True)).get(goods_id)
        if row is None:
            raise NotFound("goods", goods_id, field)
        require_scope(caller.scope, row.region_code, field)
        return row

    async def UpdateGoods(
        self, request: points_pb2.UpdateGoodsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.UpdateGoodsResponse:
        caller = self._caller()
        v = Validator()
        goods_id = domain.check_uuid(v, "goods_id", request.goods_id)
        name = domain.check_goods_name(v, request.name)
        domain.check_price(v, "price", request.price)
        v.raise_if_any()
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.UpdateGoodsResponse:
            repo = PointsRepository(session)
            before = await self._locked_goods(repo, goods_id, caller)
            await repo.update_goods(goods_id, name=name, price=request.price, active=request.active,
                                    updated_at=self._clock.now(), updated_by=caller.subject)
            row = (await repo.goods_by_ids([goods_id]))[goods_id]
            changed = [field for field in _GOODS_SET
                       if getattr(before, field) != getattr(row, field)]
            await self._outbox.add(session, events_pb2.GoodsChangedEvent(
                goods_id=goods_id, region_code=row.region_code, changed_fields=changed,
                name=row.name, price=row.price, active=row.active, stock=row.stock),
                subject=goods_id, region_code=row.region_code)
            return points_pb2.UpdateGoodsResponse(goods=goods_message(row))

        return await self._write("UpdateGoods", request, points_pb2.UpdateGoodsResponse, work)

    async def RestockGoods(
        self, request: points_pb2.RestockGoodsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.RestockGoodsResponse:
        caller = self._caller()
        v = Validator()
        goods_id = domain.check_uuid(v, "goods_id", request.goods_id)
        v.check(1 <= request.quantity <= domain.MAX_STOCK, "quantity",
                f"must be a whole number from 1 to {domain.MAX_STOCK}")
        note = domain.reason_text(v, "note", request.note, required=False)
        v.raise_if_any()
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.RestockGoodsResponse:
            repo = PointsRepository(session)
            row = await self._locked_goods(repo, goods_id, caller)
            stock = row.stock + request.quantity
            if stock > domain.MAX_STOCK:
                raise refused("quantity", f"stock would exceed {domain.MAX_STOCK}")
            now = self._clock.now()
            await repo.update_goods(goods_id, stock=stock, updated_at=now, updated_by=caller.subject)
            await repo.add_stock_move(goods_id=goods_id, change=request.quantity, stock_after=stock,
                                      reason=note or "补货 (restock)", redemption_id=None,
                                      created_at=now, created_by=caller.subject)
            await self._outbox.add(session, events_pb2.GoodsRestockedEvent(
                goods_id=goods_id, region_code=row.region_code, quantity=request.quantity,
                stock_after=stock), subject=goods_id, region_code=row.region_code)
            row = (await repo.goods_by_ids([goods_id]))[goods_id]
            return points_pb2.RestockGoodsResponse(goods=goods_message(row))

        return await self._write("RestockGoods", request, points_pb2.RestockGoodsResponse, work)

    async def GetGoods(
        self, request: points_pb2.GetGoodsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetGoodsResponse:
        goods_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await PointsRepository(session).goods_by_ids([goods_id])).get(goods_id)
        if row is None:
            raise NotFound("goods", goods_id, "id")
        require_scope(self._caller().scope, row.region_code, "id")
        return points_pb2.GetGoodsResponse(goods=goods_message(row))

    async def BatchGetGoods(
        self, request: points_pb2.BatchGetGoodsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetGoodsResponse:
        ids = batch_ids(request.ids)
        scope = self._caller().scope
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).goods_by_ids(ids)
        return points_pb2.BatchGetGoodsResponse(
            goods=[goods_message(r) for r in scope.in_order(ids, rows)])

    async def ListGoods(
        self, request: points_pb2.ListGoodsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListGoodsResponse:
        page = page_of(request.page)
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListGoodsResponse()
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).list_goods(prefix, request.active_only, page)
        return points_pb2.ListGoodsResponse(goods=[goods_message(r) for r in rows[: page.size]],
                                            page_info=page.info(rows, lambda r: [r.id]))

    # -- redemptions (积分兑换) -------------------------------------------------------------

    async def _redemption_messages(self, repo: PointsRepository, rows: Sequence[Row[Any]]
                                   ) -> list[points_pb2.Redemption]:
        accounts = await repo.accounts_by_ids(list({r.account_id for r in rows}))
        return [redemption_message(r, subject_ref(accounts[r.account_id].subject_kind,
                                                  accounts[r.account_id].subject_id)) for r in rows]

    async def ReserveRedemption(
        self, request: points_pb2.ReserveRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ReserveRedemptionResponse:
        caller = self._caller()
        v = Validator()
        subject = domain.check_subject(v, "subject", request.subject)
        goods_id = domain.check_uuid(v, "goods_id", request.goods_id)
        v.check(1 <= request.quantity <= domain.MAX_QUANTITY, "quantity",
                f"must be a whole number from 1 to {domain.MAX_QUANTITY}")
        v.raise_if_any()
        caller.require_role(*domain.MANAGER_ROLES)

        # The account is locked first, so a retry waits for the first attempt; the request's
        # key and answer go in the same statement as the entry, one round trip less while
        # the account's lock is held.
        async def work(session: AsyncSession, key: KeyRow) -> points_pb2.ReserveRedemptionResponse:
            repo = PointsRepository(session)
            writer = self._ledger(session, caller)
            state = subject_account(await writer.lock_subject(subject.kind, subject.id), subject.kind,
                                    caller)
            # Take the stock first: the statement locks the goods row (after the account's, as
            # every path does) and refuses to go below zero.
            taken = await _TAKE_STOCK.fetchrow(session, {
                "wanted_goods": goods_id, "wanted": request.quantity, "village": state.region_code,
                "at": writer.now, "by": caller.subject})
            if taken is None:
                await self._refuse_goods(repo, goods_id, state.region_code, request.quantity, caller)
            assert taken is not None
            require_scope(caller.scope, taken.region_code, "goods_id")
            points = taken.price * request.quantity
            await writer.expire_due([state])
            assert state.lots is not None
            try:
                plan = plan_spend(list(state.lots.values()), points, writer.today)
            except InsufficientPoints as exc:
                raise refused("quantity", f"needs {exc.wanted} points; the balance is "
                              f"{exc.available}") from None
            redemption_id = new_id()
            entry = writer.post(state, points_pb2.ENTRY_KIND_REDEMPTION, plan,
                                entry_date=writer.today, year=writer.today.year,
                                source_id=redemption_id,
                                reason=f"兑换 {taken.name} × {request.quantity}")
            writer.also_insert(stock_moves, dict(
                goods_id=goods_id, change=-request.quantity, stock_after=taken.stock,
                reason="兑换预约 (reserved)", redemption_id=redemption_id, created_at=writer.now,
                created_by=caller.subject))
            row = dict(
                id=redemption_id, account_id=state.id, region_code=state.region_code,
                goods_id=goods_id, goods_name=taken.name, quantity=request.quantity, points=points,
                status=RESERVED, entry_id=entry["id"], cancel_entry_id=None, cancel_reason=None,
                reserved_at=writer.now, reserved_by=caller.subject, completed_at=None,
                completed_by=None)
            writer.also_insert(redemptions, row)
            writer.events.add(events_pb2.RedemptionReservedEvent(
                redemption_id=redemption_id, account_id=state.id, goods_id=goods_id,
                region_code=state.region_code, points=points),
                subject=redemption_id, region_code=state.region_code)
            response = points_pb2.ReserveRedemptionResponse(
                redemption=redemption_message(SimpleNamespace(**row), state.subject))
            writer.also_insert(key.table, key.row(response))
            await writer.flush()
            return response

        return await self._write_key_last("ReserveRedemption", request,
                                          points_pb2.ReserveRedemptionResponse, work)

    async def _refuse_goods(self, repo: PointsRepository, goods_id: str, region_code: str,
                            quantity: int, caller: Caller) -> None:
        """Why the stock could not be taken: unknown, elsewhere, off the shelf, or too few."""
        item = (await repo.goods_by_ids([goods_id])).get(goods_id)
        if item is None:
            raise unknown("goods_id", "no goods have this id")
        require_scope(caller.scope, item.region_code, "goods_id")
        if item.region_code != region_code:
            raise refused("goods_id", f"the goods are sold in village {item.region_code}, the "
                          f"subject belongs to {region_code}")
        if not item.active:
            raise refused("goods_id", "the goods are not on the shelf (已下架)")
        raise refused("quantity", f"only {item.stock} in stock")

    async def _locked_redemption(self, repo: PointsRepository, redemption_id: str,
                                 caller: Caller) -> Row[Any]:
        row = (await repo.redemptions_by_ids([redemption_id], lock=True)).get(redemption_id)
        if row is None:
            raise NotFound("redemption", redemption_id, "redemption_id")
        require_scope(caller.scope, row.region_code, "redemption_id")
        if row.status != RESERVED:
            raise refused("redemption_id", f"the redemption is {name_of(STATUS, row.status)}, "
                          "not REDEMPTION_STATUS_RESERVED")
        return row

    async def PickUpRedemption(
        self, request: points_pb2.PickUpRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.PickUpRedemptionResponse:
        caller = self._caller()
        redemption_id = require_id(request.redemption_id, "redemption_id")
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.PickUpRedemptionResponse:
            repo = PointsRepository(session)
            row = await self._locked_redemption(repo, redemption_id, caller)
            await repo.update_redemption(redemption_id, status=PICKED_UP,
                                         completed_at=self._clock.now(), completed_by=caller.subject)
            await self._outbox.add(session, events_pb2.RedemptionPickedUpEvent(
                redemption_id=redemption_id, region_code=row.region_code),
                subject=redemption_id, region_code=row.region_code)
            row = (await repo.redemptions_by_ids([redemption_id]))[redemption_id]
            return points_pb2.PickUpRedemptionResponse(
                redemption=(await self._redemption_messages(repo, [row]))[0])

        return await self._write("PickUpRedemption", request, points_pb2.PickUpRedemptionResponse, work)

    async def CancelRedemption(
        self, request: points_pb2.CancelRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.CancelRedemptionResponse:
        caller = self._caller()
        v = Validator()
        redemption_id = domain.check_uuid(v, "redemption_id", request.redemption_id)
        reason = domain.reason_text(v, "reason", request.reason)
        v.raise_if_any()
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.CancelRedemptionResponse:
            repo = PointsRepository(session)
            row = await self._locked_redemption(repo, redemption_id, caller)
            writer = self._ledger(session, caller)
            state = (await writer.lock_accounts([row.account_id]))[row.account_id]
            item = (await repo.goods_by_ids([row.goods_id], lock=True))[row.goods_id]
            await writer.expire_due([state])
            taken = await writer.moves_of(row.entry_id)
            await writer.load_lots_by_id(state, [lot_id for lot_id, _ in taken])
            assert state.lots is not None
            plan = plan_restore(list(state.lots.values()), taken, writer.today)
            lost = row.points - plan.amount
            entry = writer.post(
                state, points_pb2.ENTRY_KIND_REDEMPTION_CANCEL, plan, entry_date=writer.today,
                year=writer.today.year, source_id=redemption_id, reverses_entry_id=row.entry_id,
                reason=reason + (f" ({lost} points not returned: their lots expired)" if lost else ""))
            stock = item.stock + row.quantity
            await repo.update_goods(item.id, stock=stock, updated_at=writer.now,
                                    updated_by=caller.subject)
            await repo.add_stock_move(goods_id=item.id, change=row.quantity, stock_after=stock,
                                      reason="取消兑换 (cancelled)", redemption_id=redemption_id,
                                      created_at=writer.now, created_by=caller.subject)
            await repo.update_redemption(redemption_id, status=CANCELLED, cancel_entry_id=entry["id"],
                                         cancel_reason=reason, completed_at=writer.now,
                                         completed_by=caller.subject)
            writer.events.add(events_pb2.RedemptionCancelledEvent(
                redemption_id=redemption_id, region_code=row.region_code,
                points_returned=plan.amount), subject=redemption_id, region_code=row.region_code)
            await writer.flush()
            row = (await repo.redemptions_by_ids([redemption_id]))[redemption_id]
            return points_pb2.CancelRedemptionResponse(
                redemption=redemption_message(row, state.subject))

        return await self._write("CancelRedemption", request, points_pb2.CancelRedemptionResponse, work)

    async def GetRedemption(
        self, request: points_pb2.GetRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetRedemptionResponse:
        redemption_id = require_id(request.id)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            row = (await repo.redemptions_by_ids([redemption_id])).get(redemption_id)
            if row is None:
                raise NotFound("redemption", redemption_id, "id")
            require_scope(self._caller().scope, row.region_code, "id")
            return points_pb2.GetRedemptionResponse(
                redemption=(await self._redemption_messages(repo, [row]))[0])

    async def BatchGetRedemptions(
        self, request: points_pb2.BatchGetRedemptionsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetRedemptionsResponse:
        ids = batch_ids(request.ids)
        scope = self._caller().scope
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.redemptions_by_ids(ids)
            found = scope.in_order(ids, rows)
            return points_pb2.BatchGetRedemptionsResponse(
                redemptions=await self._redemption_messages(repo, found))

    async def ListRedemptions(
        self, request: points_pb2.ListRedemptionsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListRedemptionsResponse:
        page = page_of(request.page, key_types=(datetime, str))
        v = Validator()
        domain.check_filter(v, "status", request.status, points_pb2.RedemptionStatus.values(),
                            "a RedemptionStatus")
        v.raise_if_any()
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        account_id = require_id(request.account_id, "account_id") if request.account_id else ""
        if prefix is None:
            return points_pb2.ListRedemptionsResponse()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.list_redemptions(prefix, account_id, request.status, page)
            return points_pb2.ListRedemptionsResponse(
                redemptions=await self._redemption_messages(repo, rows[: page.size]),
                page_info=page.info(rows, lambda r: [aware(r.reserved_at).isoformat(), r.id]))
