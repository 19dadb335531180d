"""Points governance (积分制): the household roster (一户一档) (PointsService)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from shanzhi.points.v1 import points_pb2

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
    id_arg,
    next_token,
    page_request,
    require_id,
    to_datetime,
)


@strawberry.type(description="Household (农户): one entry of a village's roster (一户一档).")
class Household:
    id: strawberry.ID = strawberry.field(description="Household id (农户编号).")
    region_code: str = strawberry.field(description="12-digit division code (行政区划代码) of the village.")
    household_number: str = strawberry.field(
        description="The village's own household number (户号), unique within the village."
    )
    head_name: str = strawberry.field(description="Head of household's name (户主姓名).")
    member_count: int = strawberry.field(description="Number of members (家庭人口).")
    villager_group: str = strawberry.field(
        description="Villager group (村民小组), e.g. 第三组; empty when not set."
    )
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, household: points_pb2.Household) -> Household:
        return cls(
            id=strawberry.ID(household.id),
            region_code=household.region_code,
            household_number=household.household_number,
            head_name=household.head_name,
            member_count=household.member_count,
            villager_group=household.villager_group,
            create_time=to_datetime(household.create_time),
            created_by=household.created_by,
        )


@strawberry.type(description="A page of households (农户列表).")
class HouseholdPage:
    items: list[Household] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="A household to add to a village's roster (建档).")
class CreateHouseholdInput:
    region_code: str = strawberry.field(
        description="12-digit code of the village (行政区划代码); must lie in your scope."
    )
    household_number: str = strawberry.field(
        description="Household number (户号), unique within the village."
    )
    head_name: str = strawberry.field(description="Head of household's name (户主姓名).")
    member_count: int = strawberry.field(description="Number of members (家庭人口), at least 1.")
    villager_group: str = strawberry.field(default="", description="Villager group (村民小组).")


@strawberry.type
class PointsQuery:
    @strawberry.field(description="One household (农户); null when unknown or outside your scope.")
    async def household(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("household")]
    ) -> Household | None:
        found = await info.context.loaders.households.load(require_id(id))
        return Household.from_pb(found) if found is not None else None

    @strawberry.field(description="Households (农户) in a region, a page at a time.")
    async def households(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> HouseholdPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListHouseholds,
            points_pb2.ListHouseholdsRequest(
                region_code_prefix=region_code_prefix, page=page_request(first, after)
            ),
        )
        return HouseholdPage(
            items=[Household.from_pb(h) for h in answer.households],
            next_page_token=next_token(answer.page_info),
        )


@strawberry.type
class PointsMutation:
    @strawberry.mutation(description="Add a household to a village's roster (建档).")
    async def create_household(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[CreateHouseholdInput, strawberry.argument(description="The household (农户信息).")],
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.CreateHousehold,
            points_pb2.CreateHouseholdRequest(
                request_id=request_id,
                region_code=input.region_code,
                household_number=input.household_number,
                head_name=input.head_name,
                member_count=input.member_count,
                villager_group=input.villager_group,
            ),
        )
        return Household.from_pb(answer.household)
