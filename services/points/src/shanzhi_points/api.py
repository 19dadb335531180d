"""PointsService over gRPC: validates, checks the caller's scope, writes with its events."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2, points_pb2_grpc
from shanzhi_kit.auth import current_caller
from shanzhi_kit.errors import AlreadyExists, NotFound
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import batch_ids, new_id, require_id, to_timestamp, utcnow
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_points import domain
from shanzhi_points.repository import PointsRepository


def household_message(row: Any) -> points_pb2.Household:
    return points_pb2.Household(
        id=row.id,
        region_code=row.region_code,
        household_number=row.household_number,
        head_name=row.head_name,
        member_count=row.member_count,
        villager_group=row.villager_group,
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )


def _number_taken(new: domain.NewHousehold) -> AlreadyExists:
    return AlreadyExists(
        f"household number {new.household_number!r} already exists in village {new.region_code}"
    )


class PointsApi(points_pb2_grpc.PointsServiceServicer):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: IdempotentWriter,
        outbox: Outbox,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._writer = writer
        self._outbox = outbox

    # -- households (农户, 一户一档) ------------------------------------------------------

    async def CreateHousehold(
        self, request: points_pb2.CreateHouseholdRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.CreateHouseholdResponse:
        caller = current_caller()
        new = domain.check_new_household(request)
        caller.scope.require_covers(new.region_code, "household")

        async def work(session: AsyncSession) -> points_pb2.CreateHouseholdResponse:
            repo = PointsRepository(session)
            if await repo.household_number_taken(new.region_code, new.household_number):
                raise _number_taken(new)
            household_id = new_id()
            row = dict(
                id=household_id, region_code=new.region_code,
                household_number=new.household_number, head_name=new.head_name,
                member_count=new.member_count, villager_group=new.villager_group,
                created_at=utcnow(), created_by=caller.subject,
            )
            try:
                async with session.begin_nested():
                    await repo.add_household(**row)
            except IntegrityError:
                # A concurrent creation with the same number committed first.
                raise _number_taken(new) from None
            await self._outbox.add(
                session,
                events_pb2.HouseholdCreatedEvent(
                    household_id=household_id, region_code=new.region_code,
                    household_number=new.household_number,
                ),
                subject=household_id, region_code=new.region_code,
            )
            return points_pb2.CreateHouseholdResponse(
                household=household_message(SimpleNamespace(**row)))

        return await self._writer.run("CreateHousehold", request,
                                      points_pb2.CreateHouseholdResponse, work)

    async def GetHousehold(
        self, request: points_pb2.GetHouseholdRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetHouseholdResponse:
        household_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await PointsRepository(session).households_by_ids([household_id])).get(household_id)
        if row is None:
            raise NotFound("household", household_id)
        current_caller().scope.require_covers(row.region_code, "household")
        return points_pb2.GetHouseholdResponse(household=household_message(row))

    async def BatchGetHouseholds(
        self, request: points_pb2.BatchGetHouseholdsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetHouseholdsResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).households_by_ids(ids)
        return points_pb2.BatchGetHouseholdsResponse(
            households=[household_message(rows[i]) for i in ids
                        if i in rows and scope.covers(rows[i].region_code)]
        )

    async def ListHouseholds(
        self, request: points_pb2.ListHouseholdsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListHouseholdsResponse:
        page = page_of(request.page)
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListHouseholdsResponse()
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).list_households(prefix, page)
        return points_pb2.ListHouseholdsResponse(
            households=[household_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )
