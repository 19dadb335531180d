"""ListsService over gRPC: validates, checks the caller's scope, writes with its events."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
from shanzhi.lists.v1 import events_pb2, lists_pb2, lists_pb2_grpc
from shanzhi_kit.auth import current_caller
from shanzhi_kit.errors import AlreadyExists, NotFound
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import batch_ids, new_id, require_id, to_timestamp, utcnow
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_lists import domain
from shanzhi_lists.repository import ListsRepository


def item_message(row: Any) -> lists_pb2.ListItem:
    return lists_pb2.ListItem(
        id=row.id,
        region_code=row.region_code,
        kind=row.kind,
        code=row.code,
        title=row.title,
        legal_basis=row.legal_basis,
        responsible_body=row.responsible_body,
        steps=row.steps,
        time_limit_days=row.time_limit_days,
        supervisor=row.supervisor,
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )


def _code_taken(new: domain.NewListItem) -> AlreadyExists:
    return AlreadyExists(
        f"item code {new.code!r} already exists in {domain.ListKind.Name(new.kind)} "
        f"of region {new.region_code}"
    )


class ListsApi(lists_pb2_grpc.ListsServiceServicer):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: IdempotentWriter,
        outbox: Outbox,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._writer = writer
        self._outbox = outbox

    # -- list items (清单事项) -------------------------------------------------------------

    async def CreateListItem(
        self, request: lists_pb2.CreateListItemRequest, context: grpc.aio.ServicerContext
    ) -> lists_pb2.CreateListItemResponse:
        caller = current_caller()
        new = domain.check_new_item(request)
        caller.scope.require_covers(new.region_code, "list item")

        async def work(session: AsyncSession) -> lists_pb2.CreateListItemResponse:
            repo = ListsRepository(session)
            if await repo.code_taken(new.region_code, new.kind, new.code):
                raise _code_taken(new)
            item_id = new_id()
            row = dict(
                id=item_id, region_code=new.region_code, kind=new.kind, code=new.code,
                title=new.title, legal_basis=new.legal_basis,
                responsible_body=new.responsible_body, steps=list(new.steps),
                time_limit_days=new.time_limit_days, supervisor=new.supervisor,
                created_at=utcnow(), created_by=caller.subject,
            )
            try:
                async with session.begin_nested():
                    await repo.add_item(**row)
            except IntegrityError:
                # A concurrent creation with the same code committed first.
                raise _code_taken(new) from None
            await self._outbox.add(
                session,
                events_pb2.ListItemCreatedEvent(
                    item_id=item_id, region_code=new.region_code, kind=new.kind, code=new.code,
                ),
                subject=item_id, region_code=new.region_code,
            )
            return lists_pb2.CreateListItemResponse(item=item_message(SimpleNamespace(**row)))

        return await self._writer.run("CreateListItem", request,
                                      lists_pb2.CreateListItemResponse, work)

    async def GetListItem(
        self, request: lists_pb2.GetListItemRequest, context: grpc.aio.ServicerContext
    ) -> lists_pb2.GetListItemResponse:
        item_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await ListsRepository(session).items_by_ids([item_id])).get(item_id)
        if row is None:
            raise NotFound("list item", item_id, "id")
        current_caller().scope.require_covers(row.region_code, "list item")
        return lists_pb2.GetListItemResponse(item=item_message(row))

    async def BatchGetListItems(
        self, request: lists_pb2.BatchGetListItemsRequest, context: grpc.aio.ServicerContext
    ) -> lists_pb2.BatchGetListItemsResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await ListsRepository(session).items_by_ids(ids)
        return lists_pb2.BatchGetListItemsResponse(
            items=[item_message(r) for r in scope.in_order(ids, rows)]
        )

    async def ListListItems(
        self, request: lists_pb2.ListListItemsRequest, context: grpc.aio.ServicerContext
    ) -> lists_pb2.ListListItemsResponse:
        page = page_of(request.page)
        kind = domain.check_kind_filter(request.kind)
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return lists_pb2.ListListItemsResponse()
        async with self._sessionmaker() as session:
            rows = await ListsRepository(session).list_items(prefix, kind, page)
        return lists_pb2.ListListItemsResponse(
            items=[item_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )
