"""Outstanding villagers' representatives (优秀村民代表), honoured by the meeting's vote.

The villagers' representative meeting votes a representative outstanding for a year
(村民代表会议表决) and the village issues an honour certificate (荣誉证书). The vote is
held to the rules of a scheme's adoption (two thirds present, more than half of them
for). The honour and its ``RepresentativeHonouredEvent`` commit together; the talent
service reads the event and puts the person into the reserve talent pool (后备人才).
"""

from __future__ import annotations

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.errors import AlreadyExists, InvalidArgument, NotFound
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import batch_ids, format_date, new_id, require_id
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain, rules
from shanzhi_points.api.base import KIND_NAMES, ApiBase
from shanzhi_points.errors import refused, require_scope, unknown
from shanzhi_points.messages import honour_message
from shanzhi_points.repository import PointsRepository

REPRESENTATIVE = points_pb2.SUBJECT_KIND_REPRESENTATIVE


class HonoursApi(ApiBase):
    async def HonourRepresentative(
        self, request: points_pb2.HonourRepresentativeRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.HonourRepresentativeResponse:
        caller = self._caller()
        new = domain.check_honour(request, self._clock.today())
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.HonourRepresentativeResponse:
            repo = PointsRepository(session)
            account = (await repo.accounts_by_ids([new.account_id])).get(new.account_id)
            if account is None:
                raise unknown("account_id", "no account has this id")
            require_scope(caller.scope, account.region_code, "account_id")
            if account.subject_kind != REPRESENTATIVE:
                kind = KIND_NAMES.get(account.subject_kind, "other subject")
                raise refused("account_id", f"the account is a {kind}'s: only a villagers' "
                              "representative (村民代表) is honoured as outstanding")
            if account.closed_on is not None and account.closed_on.year < new.year:
                raise refused("year", f"the representative's term ended on "
                              f"{format_date(account.closed_on)}, before {new.year}")
            if await repo.honour_of(account.id, new.year) is not None:
                raise AlreadyExists.about("year", f"the representative was already honoured "
                                          f"for {new.year}")
            if await repo.certificate_taken(account.region_code, new.year, new.certificate_number):
                raise AlreadyExists.about(
                    "certificate_number", f"village {account.region_code} already issued certificate "
                    f"{new.certificate_number!r} for {new.year}")
            honour_id, r = new_id(), new.resolution
            try:
                async with session.begin_nested():
                    await repo.add_honour(
                        id=honour_id, account_id=account.id, region_code=account.region_code,
                        person_id=account.subject_id, year=new.year,
                        certificate_number=new.certificate_number, meeting_date=r.meeting_date,
                        representatives_total=r.representatives_total, attendees=r.attendees,
                        votes_for=r.votes_for, votes_against=r.votes_against,
                        votes_abstain=r.votes_abstain, resolution_number=r.number,
                        resolution_note=r.note, created_at=self._clock.now(),
                        created_by=caller.subject)
            except IntegrityError:
                raise AlreadyExists("the representative or the certificate number was just honoured "
                                    "by another request") from None
            await self._outbox.add(session, events_pb2.RepresentativeHonouredEvent(
                honour_id=honour_id, person_id=account.subject_id, region_code=account.region_code,
                year=new.year, account_id=account.id, certificate_number=new.certificate_number),
                subject=honour_id, region_code=account.region_code)
            row = (await repo.honours_by_ids([honour_id]))[honour_id]
            return points_pb2.HonourRepresentativeResponse(honour=honour_message(row))

        return await self._write("HonourRepresentative", request,
                                 points_pb2.HonourRepresentativeResponse, work)

    async def GetRepresentativeHonour(
        self, request: points_pb2.GetRepresentativeHonourRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetRepresentativeHonourResponse:
        honour_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await PointsRepository(session).honours_by_ids([honour_id])).get(honour_id)
        if row is None:
            raise NotFound("representative honour", honour_id, "id")
        require_scope(self._caller().scope, row.region_code, "id")
        return points_pb2.GetRepresentativeHonourResponse(honour=honour_message(row))

    async def BatchGetRepresentativeHonours(
        self, request: points_pb2.BatchGetRepresentativeHonoursRequest,
        context: grpc.aio.ServicerContext,
    ) -> points_pb2.BatchGetRepresentativeHonoursResponse:
        ids = batch_ids(request.ids)
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).honours_by_ids(ids)
        found = self._caller().scope.in_order(ids, rows)
        return points_pb2.BatchGetRepresentativeHonoursResponse(
            honours=[honour_message(r) for r in found])

    async def ListRepresentativeHonours(
        self, request: points_pb2.ListRepresentativeHonoursRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListRepresentativeHonoursResponse:
        page = page_of(request.page)
        if request.year and not rules.MIN_YEAR <= request.year <= rules.MAX_YEAR:
            raise InvalidArgument.field("year", f"must be 0 (every year) or between {rules.MIN_YEAR} "
                                        f"and {rules.MAX_YEAR}")
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListRepresentativeHonoursResponse()
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).list_honours(prefix, request.year, page)
        return points_pb2.ListRepresentativeHonoursResponse(
            honours=[honour_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]))
