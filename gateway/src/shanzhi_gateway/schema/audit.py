"""Audit and inspection (巡察/审计): inspection rounds and the schedule of village
economic-responsibility audits (AuditService)."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from shanzhi.audit.v1 import audit_pb2
from shanzhi.talent.v1 import talent_pb2

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
    date_text,
    enum_from_name,
    enum_to_pb,
    id_arg,
    next_token,
    page_request,
    require_date,
    require_enum,
    require_id,
    to_datetime,
)
from shanzhi_gateway.schema.talent import Person, Post, PostRole


@strawberry.enum(description="Kind of inspection round (巡察类型).")
class InspectionKind(Enum):
    POLITICAL = strawberry.enum_value("POLITICAL", description="Routine political inspection (政治巡察).")
    SPECIAL = strawberry.enum_value("SPECIAL", description="Special inspection (专项巡察).")
    ACUPUNCTURE = strawberry.enum_value(
        "ACUPUNCTURE", description='"Acupuncture" inspection of one problem (点穴式巡察).'
    )


@strawberry.enum(description="Kind of economic-responsibility audit (经济责任审计类型).")
class AuditKind(Enum):
    IN_OFFICE = strawberry.enum_value(
        "IN_OFFICE", description="In office (任中审计), at least once every 3 years."
    )
    DEPARTURE = strawberry.enum_value("DEPARTURE", description="On leaving office (离任审计).")


@strawberry.enum(description="State of an audit schedule entry (审计计划状态).")
class AuditScheduleStatus(Enum):
    DUE = strawberry.enum_value("DUE", description="Due, not yet audited (待审计).")
    DONE = strawberry.enum_value("DONE", description="Audited (已审计).")


@strawberry.type(description="Inspection round (巡察轮次): a team inspects target villages in a period.")
class InspectionRound:
    id: strawberry.ID = strawberry.field(description="Round id (轮次编号).")
    region_code: str = strawberry.field(
        description=(
            "12-digit division code (行政区划代码) of the unit that runs the round, usually the county."
        )
    )
    name: str = strawberry.field(description="Name of the round (名称), e.g. 2026年第一轮巡察.")
    kind: InspectionKind = strawberry.field(description="Kind of round (巡察类型).")
    target_region_codes: list[str] = strawberry.field(
        description="12-digit codes of the target villages (巡察对象)."
    )
    start_date: dt.date = strawberry.field(description="First day (开始日期).")
    end_date: dt.date = strawberry.field(description="Last day (结束日期).")
    team_leader: str = strawberry.field(description="Team leader's name (巡察组组长).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, round_: audit_pb2.InspectionRound) -> InspectionRound:
        return cls(
            id=strawberry.ID(round_.id),
            region_code=round_.region_code,
            name=round_.name,
            kind=require_enum(InspectionKind, audit_pb2.InspectionKind, round_.kind),
            target_region_codes=list(round_.target_region_codes),
            start_date=require_date(round_.start_date),
            end_date=require_date(round_.end_date),
            team_leader=round_.team_leader,
            create_time=to_datetime(round_.create_time),
            created_by=round_.created_by,
        )


@strawberry.type(
    description=(
        "Audit schedule entry (审计计划): a village economic-responsibility audit "
        "(村级经济责任审计) a cadre is due."
    )
)
class AuditScheduleEntry:
    id: strawberry.ID = strawberry.field(description="Entry id (计划编号).")
    cadre_person_id: strawberry.ID = strawberry.field(
        description="The cadre's person id (干部人员编号) in the talent records."
    )
    cadre_name: str = strawberry.field(description="The cadre's name (干部姓名), as known when scheduled.")
    region_code: str = strawberry.field(description="12-digit division code (行政区划代码) of the village.")
    post_id: strawberry.ID | None = strawberry.field(
        description="Id of the post (任职) that made the cadre due; null when none."
    )
    post_role: PostRole | None = strawberry.field(description="Role (岗位) of that post; null when none.")
    kind: AuditKind = strawberry.field(description="Kind of audit (审计类型: 任中/离任).")
    due_date: dt.date = strawberry.field(description="Latest date by which the audit is due (应审截止日期).")
    status: AuditScheduleStatus = strawberry.field(description="State (状态).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)

    @classmethod
    def from_pb(cls, entry: audit_pb2.AuditScheduleEntry) -> AuditScheduleEntry:
        return cls(
            id=strawberry.ID(entry.id),
            cadre_person_id=strawberry.ID(entry.cadre_person_id),
            cadre_name=entry.cadre_name,
            region_code=entry.region_code,
            post_id=strawberry.ID(entry.post_id) if entry.post_id else None,
            post_role=enum_from_name(PostRole, talent_pb2.PostRole, entry.post_role),
            kind=require_enum(AuditKind, audit_pb2.AuditKind, entry.kind),
            due_date=require_date(entry.due_date),
            status=require_enum(AuditScheduleStatus, audit_pb2.AuditScheduleStatus, entry.status),
            create_time=to_datetime(entry.create_time),
        )

    @strawberry.field(description="The cadre (干部) to audit; null when outside your scope.")
    async def cadre(self, info: Info) -> Person | None:
        found = await info.context.loaders.people.load(self.cadre_person_id)
        return Person.from_pb(found) if found is not None else None

    @strawberry.field(
        description="The post (任职) that made the cadre due; null when none or outside your scope."
    )
    async def post(self, info: Info) -> Post | None:
        if self.post_id is None:
            return None
        found = await info.context.loaders.posts.load(self.post_id)
        return Post.from_pb(found) if found is not None else None


@strawberry.type(description="A page of inspection rounds (巡察轮次列表).")
class InspectionRoundPage:
    items: list[InspectionRound] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of the audit schedule (审计计划列表), by due date.")
class AuditScheduleEntryPage:
    items: list[AuditScheduleEntry] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="An inspection round to open (巡察轮次).")
class CreateInspectionRoundInput:
    region_code: str = strawberry.field(
        description=("12-digit code (行政区划代码) of the unit that runs the round; must lie in your scope.")
    )
    name: str = strawberry.field(description="Name of the round (名称).")
    kind: InspectionKind = strawberry.field(description="Kind of round (巡察类型).")
    target_region_codes: list[str] = strawberry.field(
        description="Target villages (巡察对象): at least one, each under regionCode."
    )
    start_date: dt.date = strawberry.field(description="First day (开始日期).")
    end_date: dt.date = strawberry.field(description="Last day (结束日期), not before startDate.")
    team_leader: str = strawberry.field(default="", description="Team leader's name (巡察组组长).")


@strawberry.type
class AuditQuery:
    @strawberry.field(description="One inspection round (巡察轮次); null when unknown or outside your scope.")
    async def inspection_round(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("round")]
    ) -> InspectionRound | None:
        found = await info.context.loaders.inspection_rounds.load(require_id(id))
        return InspectionRound.from_pb(found) if found is not None else None

    @strawberry.field(description="Inspection rounds (巡察轮次) in a region, a page at a time.")
    async def inspection_rounds(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> InspectionRoundPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.audit.ListInspectionRounds,
            audit_pb2.ListInspectionRoundsRequest(
                region_code_prefix=region_code_prefix, page=page_request(first, after)
            ),
        )
        return InspectionRoundPage(
            items=[InspectionRound.from_pb(r) for r in answer.rounds],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(
        description=("One audit schedule entry (审计计划); null when unknown or outside your scope.")
    )
    async def audit_schedule_entry(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("entry")]
    ) -> AuditScheduleEntry | None:
        found = await info.context.loaders.audit_schedule_entries.load(require_id(id))
        return AuditScheduleEntry.from_pb(found) if found is not None else None

    @strawberry.field(
        description=(
            "The audit schedule (经济责任审计计划) of a region: who is due for an audit, "
            "by due date, a page at a time."
        )
    )
    async def audit_schedule(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        cadre_person_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the entries of this cadre (干部人员编号)."),
        ] = None,
        due_on_or_before: Annotated[
            dt.date | None,
            strawberry.argument(description="Only entries due on or before this date (截止日期)."),
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> AuditScheduleEntryPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.audit.ListAuditScheduleEntries,
            audit_pb2.ListAuditScheduleEntriesRequest(
                region_code_prefix=region_code_prefix,
                cadre_person_id=(require_id(cadre_person_id, "cadrePersonId") if cadre_person_id else ""),
                due_on_or_before=date_text(due_on_or_before),
                page=page_request(first, after),
            ),
        )
        return AuditScheduleEntryPage(
            items=[AuditScheduleEntry.from_pb(e) for e in answer.entries],
            next_page_token=next_token(answer.page_info),
        )


@strawberry.type
class AuditMutation:
    @strawberry.mutation(description="Open an inspection round (巡察轮次).")
    async def create_inspection_round(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[
            CreateInspectionRoundInput,
            strawberry.argument(description="The inspection round (巡察轮次信息)."),
        ],
    ) -> InspectionRound:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.audit.CreateInspectionRound,
            audit_pb2.CreateInspectionRoundRequest(
                request_id=request_id,
                region_code=input.region_code,
                name=input.name,
                kind=enum_to_pb(input.kind, audit_pb2.InspectionKind),
                target_region_codes=input.target_region_codes,
                start_date=date_text(input.start_date),
                end_date=date_text(input.end_date),
                team_leader=input.team_leader,
            ),
        )
        return InspectionRound.from_pb(answer.round)
