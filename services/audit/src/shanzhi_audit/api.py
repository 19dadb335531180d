"""AuditService over gRPC: validates, checks the caller's scope, writes with its events."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import grpc
from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc, events_pb2
from shanzhi.common.v1 import paging_pb2
from shanzhi_kit.auth import current_caller
from shanzhi_kit.errors import InvalidArgument, NotFound, Validator
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.paging import Page, page_of
from shanzhi_kit.values import (
    batch_ids,
    format_date,
    new_id,
    require_id,
    to_timestamp,
    utcnow,
    valid_uuid,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_audit import domain
from shanzhi_audit.repository import AuditRepository, RoundRecord


def round_message(row: Any, targets: list[str]) -> audit_pb2.InspectionRound:
    return audit_pb2.InspectionRound(
        id=row.id,
        region_code=row.region_code,
        name=row.name,
        kind=row.kind,
        target_region_codes=targets,
        start_date=format_date(row.start_date),
        end_date=format_date(row.end_date),
        team_leader=row.team_leader,
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )


def record_message(record: RoundRecord) -> audit_pb2.InspectionRound:
    return round_message(record.row, record.targets)


def entry_message(row: Any) -> audit_pb2.AuditScheduleEntry:
    return audit_pb2.AuditScheduleEntry(
        id=row.id,
        cadre_person_id=row.cadre_person_id,
        cadre_name=row.cadre_name,
        region_code=row.region_code,
        post_id=row.post_id,
        post_role=row.post_role,
        kind=row.kind,
        due_date=format_date(row.due_date),
        status=row.status,
        create_time=to_timestamp(row.created_at),
    )


def schedule_page(request: paging_pb2.PageRequest) -> Page:
    """A page of the schedule, whose token holds the last (due date, id) returned."""
    page = page_of(request, key_types=(date, str))
    if page.after is not None and not valid_uuid(page.after[1]):
        raise InvalidArgument.field("page.page_token", "is not a token this service returned")
    return page


class AuditApi(audit_pb2_grpc.AuditServiceServicer):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: IdempotentWriter,
        outbox: Outbox,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._writer = writer
        self._outbox = outbox

    # -- inspection rounds (巡察轮次) ------------------------------------------------------

    async def CreateInspectionRound(
        self, request: audit_pb2.CreateInspectionRoundRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.CreateInspectionRoundResponse:
        caller = current_caller()
        new = domain.check_new_round(request)
        caller.scope.require_covers(new.region_code, "inspection round")

        async def work(session: AsyncSession) -> audit_pb2.CreateInspectionRoundResponse:
            round_id = new_id()
            row = dict(
                id=round_id, region_code=new.region_code, name=new.name, kind=new.kind,
                start_date=new.start_date, end_date=new.end_date, team_leader=new.team_leader,
                created_at=utcnow(), created_by=caller.subject,
            )
            await AuditRepository(session).add_round(new.target_region_codes, **row)
            await self._outbox.add(
                session,
                events_pb2.InspectionRoundCreatedEvent(
                    round_id=round_id, region_code=new.region_code, kind=new.kind),
                subject=round_id, region_code=new.region_code,
            )
            return audit_pb2.CreateInspectionRoundResponse(
                round=round_message(SimpleNamespace(**row), list(new.target_region_codes)))

        return await self._writer.run("CreateInspectionRound", request,
                                      audit_pb2.CreateInspectionRoundResponse, work)

    async def GetInspectionRound(
        self, request: audit_pb2.GetInspectionRoundRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetInspectionRoundResponse:
        round_id = require_id(request.id)
        async with self._sessionmaker() as session:
            record = (await AuditRepository(session).rounds_by_ids([round_id])).get(round_id)
        if record is None:
            raise NotFound("inspection round", round_id, "id")
        current_caller().scope.require_covers(record.row.region_code, "inspection round")
        return audit_pb2.GetInspectionRoundResponse(round=record_message(record))

    async def BatchGetInspectionRounds(
        self, request: audit_pb2.BatchGetInspectionRoundsRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.BatchGetInspectionRoundsResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            records = await AuditRepository(session).rounds_by_ids(ids)
        return audit_pb2.BatchGetInspectionRoundsResponse(
            rounds=[record_message(records[i]) for i in ids
                    if i in records and scope.covers(records[i].row.region_code)]
        )

    async def ListInspectionRounds(
        self, request: audit_pb2.ListInspectionRoundsRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListInspectionRoundsResponse:
        page = page_of(request.page)
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return audit_pb2.ListInspectionRoundsResponse()
        async with self._sessionmaker() as session:
            records = await AuditRepository(session).list_rounds(prefix, page)
        return audit_pb2.ListInspectionRoundsResponse(
            rounds=[record_message(r) for r in records[: page.size]],
            page_info=page.info(records, lambda r: [r.row.id]),
        )

    # -- audit schedule (审计计划) ----------------------------------------------------------

    async def GetAuditScheduleEntry(
        self, request: audit_pb2.GetAuditScheduleEntryRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.GetAuditScheduleEntryResponse:
        entry_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await AuditRepository(session).entries_by_ids([entry_id])).get(entry_id)
        if row is None:
            raise NotFound("audit schedule entry", entry_id, "id")
        current_caller().scope.require_covers(row.region_code, "audit schedule entry")
        return audit_pb2.GetAuditScheduleEntryResponse(entry=entry_message(row))

    async def BatchGetAuditScheduleEntries(
        self, request: audit_pb2.BatchGetAuditScheduleEntriesRequest,
        context: grpc.aio.ServicerContext,
    ) -> audit_pb2.BatchGetAuditScheduleEntriesResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await AuditRepository(session).entries_by_ids(ids)
        return audit_pb2.BatchGetAuditScheduleEntriesResponse(
            entries=[entry_message(r) for r in scope.in_order(ids, rows)]
        )

    async def ListAuditScheduleEntries(
        self, request: audit_pb2.ListAuditScheduleEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditScheduleEntriesResponse:
        page = schedule_page(request.page)
        v = Validator()
        person_id = request.cadre_person_id.lower() or None
        if person_id is not None:
            v.check(valid_uuid(person_id), "cadre_person_id", "is not a valid id (UUID)")
        due = v.date_field("due_on_or_before", request.due_on_or_before, required=False)
        v.raise_if_any()
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return audit_pb2.ListAuditScheduleEntriesResponse()
        async with self._sessionmaker() as session:
            rows = await AuditRepository(session).list_entries(prefix, person_id, due, page)
        return audit_pb2.ListAuditScheduleEntriesResponse(
            entries=[entry_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [format_date(r.due_date), r.id]),
        )

    async def BatchGetCadreAuditSchedules(
        self, request: audit_pb2.BatchGetCadreAuditSchedulesRequest,
        context: grpc.aio.ServicerContext,
    ) -> audit_pb2.BatchGetCadreAuditSchedulesResponse:
        ids = batch_ids(request.cadre_person_ids, "cadre_person_ids")
        prefix = current_caller().scope.prefix
        found: dict[str, list[Any]] = {}
        if prefix is not None:
            async with self._sessionmaker() as session:
                found = await AuditRepository(session).entries_of_cadres(ids, prefix)
        # One schedule per id asked, in the order asked (repeats included) and
        # spelled as asked, so a caller can match answers to its keys by position or id.
        return audit_pb2.BatchGetCadreAuditSchedulesResponse(
            schedules=[
                audit_pb2.CadreAuditSchedule(
                    cadre_person_id=asked,
                    entries=[entry_message(r) for r in found.get(asked.lower(), [])],
                )
                for asked in request.cadre_person_ids
            ]
        )
