"""The five lists (五项清单): what village organisations must, may and must not do
(ListsService)."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from shanzhi.lists.v1 import lists_pb2

from shanzhi_gateway.schema.common import (
    CREATE_TIME,
    CREATED_BY,
    ITEMS,
    NEXT_PAGE_TOKEN,
    AfterArg,
    FirstArg,
    Info,
    RegionCodePrefixArg,
    RequestIdArg,
    enum_to_pb,
    id_arg,
    next_token,
    page_request,
    require_enum,
    require_id,
    to_datetime,
)


@strawberry.enum(description="Which of the five lists (五项清单) an item belongs to.")
class ListKind(Enum):
    MAIN_RESPONSIBILITY = strawberry.enum_value(
        "MAIN_RESPONSIBILITY",
        description="Main responsibility list (村级组织主体责任清单): duties the village must carry.",
    )
    ASSISTED_ADMISSION = strawberry.enum_value(
        "ASSISTED_ADMISSION",
        description=(
            "Admission list for assisted matters (协助办理事项准入清单): "
            "what departments may ask villages to help with."
        ),
    )
    NEGATIVE = strawberry.enum_value(
        "NEGATIVE",
        description=("Negative list (村级组织履职负面事项清单): what no department may assign to a village."),
    )
    DISCLOSURE = strawberry.enum_value(
        "DISCLOSURE",
        description=(
            "Three-affairs disclosure list (三务公开清单): party, village and financial affairs to disclose."
        ),
    )
    PUBLIC_SERVICE = strawberry.enum_value(
        "PUBLIC_SERVICE",
        description=(
            "Service-to-the-public list (服务群众事项清单): services the village service station offers."
        ),
    )


@strawberry.type(description="List item (清单事项): one item of one of the five lists (五项清单).")
class ListItem:
    id: strawberry.ID = strawberry.field(description="Item id (事项编号).")
    region_code: str = strawberry.field(
        description=(
            "12-digit division code (行政区划代码) of the level that owns the item: "
            "county, township or village."
        )
    )
    kind: ListKind = strawberry.field(description="The list it belongs to (清单类型).")
    code: str = strawberry.field(description="Item code (事项编码), unique per region and list.")
    title: str = strawberry.field(description="Title (事项名称).")
    legal_basis: str = strawberry.field(description="Legal or policy basis (依据).")
    responsible_body: str = strawberry.field(description="Responsible body (责任主体).")
    steps: list[str] = strawberry.field(description="Steps in order (办理流程).")
    time_limit_days: int | None = strawberry.field(
        description="Time limit in days (办理时限); null when none."
    )
    supervisor: str = strawberry.field(description="Supervisor (监督主体).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, item: lists_pb2.ListItem) -> ListItem:
        return cls(
            id=strawberry.ID(item.id),
            region_code=item.region_code,
            kind=require_enum(ListKind, lists_pb2.ListKind, item.kind),
            code=item.code,
            title=item.title,
            legal_basis=item.legal_basis,
            responsible_body=item.responsible_body,
            steps=list(item.steps),
            time_limit_days=item.time_limit_days or None,
            supervisor=item.supervisor,
            create_time=to_datetime(item.create_time),
            created_by=item.created_by,
        )


@strawberry.type(description="A page of list items (清单事项列表).")
class ListItemPage:
    items: list[ListItem] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="An item to add to one of the five lists (清单事项).")
class CreateListItemInput:
    region_code: str = strawberry.field(
        description="12-digit code (行政区划代码) of the owning level; must lie in your scope."
    )
    kind: ListKind = strawberry.field(description="The list (清单类型).")
    code: str = strawberry.field(description="Item code (事项编码).")
    title: str = strawberry.field(description="Title (事项名称).")
    legal_basis: str = strawberry.field(default="", description="Legal or policy basis (依据).")
    responsible_body: str = strawberry.field(default="", description="Responsible body (责任主体).")
    steps: list[str] = strawberry.field(default_factory=list, description="Steps in order (办理流程).")
    time_limit_days: int | None = strawberry.field(
        default=None, description="Time limit in days (办理时限); omitted when none."
    )
    supervisor: str = strawberry.field(default="", description="Supervisor (监督主体).")


@strawberry.type
class ListsQuery:
    @strawberry.field(description="One list item (清单事项); null when unknown or outside your scope.")
    async def list_item(self, info: Info, id: Annotated[strawberry.ID, id_arg("item")]) -> ListItem | None:
        found = await info.context.loaders.list_items.load(require_id(id))
        return ListItem.from_pb(found) if found is not None else None

    @strawberry.field(
        description="List items (清单事项) in a region, optionally of one list, a page at a time."
    )
    async def list_items(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        kind: Annotated[
            ListKind | None,
            strawberry.argument(description="Only items of this list (清单类型)."),
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> ListItemPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.lists.ListListItems,
            lists_pb2.ListListItemsRequest(
                region_code_prefix=region_code_prefix,
                kind=enum_to_pb(kind, lists_pb2.ListKind),
                page=page_request(first, after),
            ),
        )
        return ListItemPage(
            items=[ListItem.from_pb(i) for i in answer.items],
            next_page_token=next_token(answer.page_info),
        )


@strawberry.type
class ListsMutation:
    @strawberry.mutation(description="Add an item to one of the five lists (清单事项).")
    async def create_list_item(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[
            CreateListItemInput, strawberry.argument(description="The list item (清单事项信息).")
        ],
    ) -> ListItem:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.lists.CreateListItem,
            lists_pb2.CreateListItemRequest(
                request_id=request_id,
                region_code=input.region_code,
                kind=enum_to_pb(input.kind, lists_pb2.ListKind),
                code=input.code,
                title=input.title,
                legal_basis=input.legal_basis,
                responsible_body=input.responsible_body,
                steps=input.steps,
                time_limit_days=input.time_limit_days or 0,
                supervisor=input.supervisor,
            ),
        )
        return ListItem.from_pb(answer.item)
