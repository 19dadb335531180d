"""TalentService over gRPC: validates, checks the caller's scope, writes with its events."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import grpc
from shanzhi.talent.v1 import events_pb2, talent_pb2, talent_pb2_grpc
from shanzhi_kit.auth import current_caller
from shanzhi_kit.errors import FailedPrecondition, NotFound
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import batch_ids, format_date, new_id, require_id, to_timestamp, utcnow
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_talent import domain
from shanzhi_talent.repository import TalentRepository


def person_message(row: Any) -> talent_pb2.Person:
    return talent_pb2.Person(
        id=row.id,
        region_code=row.region_code,
        name=row.name,
        gender=row.gender,
        birth_date=format_date(row.birth_date),
        party_member=row.party_member,
        education=row.education,
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )


def post_message(row: Any) -> talent_pb2.Post:
    return talent_pb2.Post(
        id=row.id,
        person_id=row.person_id,
        region_code=row.region_code,
        role=row.role,
        method=row.method,
        start_date=format_date(row.start_date),
        end_date=format_date(row.end_date),
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )


class TalentApi(talent_pb2_grpc.TalentServiceServicer):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: IdempotentWriter,
        outbox: Outbox,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._writer = writer
        self._outbox = outbox

    # -- people ----------------------------------------------------------------------

    async def RegisterPerson(
        self, request: talent_pb2.RegisterPersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.RegisterPersonResponse:
        caller = current_caller()
        new = domain.check_new_person(request, date.today())
        caller.scope.require_covers(new.region_code, "person")

        async def work(session: AsyncSession) -> talent_pb2.RegisterPersonResponse:
            person_id = new_id()
            row = dict(
                id=person_id, region_code=new.region_code, name=new.name, gender=new.gender,
                birth_date=new.birth_date, party_member=new.party_member,
                education=new.education, created_at=utcnow(), created_by=caller.subject,
            )
            await TalentRepository(session).add_person(**row)
            await self._outbox.add(
                session,
                events_pb2.PersonRegisteredEvent(person_id=person_id, region_code=new.region_code),
                subject=person_id, region_code=new.region_code,
            )
            return talent_pb2.RegisterPersonResponse(person=person_message(SimpleNamespace(**row)))

        return await self._writer.run("RegisterPerson", request,
                                      talent_pb2.RegisterPersonResponse, work)

    async def GetPerson(
        self, request: talent_pb2.GetPersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetPersonResponse:
        person_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await TalentRepository(session).people_by_ids([person_id])).get(person_id)
        if row is None:
            raise NotFound("person", person_id)
        current_caller().scope.require_covers(row.region_code, "person")
        return talent_pb2.GetPersonResponse(person=person_message(row))

    async def BatchGetPeople(
        self, request: talent_pb2.BatchGetPeopleRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetPeopleResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).people_by_ids(ids)
        return talent_pb2.BatchGetPeopleResponse(
            people=[person_message(rows[i]) for i in ids
                    if i in rows and scope.covers(rows[i].region_code)]
        )

    async def ListPeople(
        self, request: talent_pb2.ListPeopleRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListPeopleResponse:
        page = page_of(request.page)
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return talent_pb2.ListPeopleResponse()
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).list_people(prefix, page)
        return talent_pb2.ListPeopleResponse(
            people=[person_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    # -- posts -----------------------------------------------------------------------

    async def AppointPerson(
        self, request: talent_pb2.AppointPersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.AppointPersonResponse:
        caller = current_caller()
        new = domain.check_new_appointment(request)
        require_id(new.person_id, "person_id")
        caller.scope.require_covers(new.region_code, "post")

        async def work(session: AsyncSession) -> talent_pb2.AppointPersonResponse:
            repo = TalentRepository(session)
            person = (await repo.people_by_ids([new.person_id])).get(new.person_id)
            if person is None:
                raise NotFound("person", new.person_id)
            caller.scope.require_covers(person.region_code, "person")
            holders = await repo.active_holders(new.region_code, new.role)
            domain.check_can_hold(new.role, new.region_code, holders, new.person_id)
            post_id = new_id()
            row = dict(
                id=post_id, person_id=new.person_id, region_code=new.region_code,
                role=new.role, method=new.method, start_date=new.start_date, end_date=None,
                created_at=utcnow(), created_by=caller.subject,
            )
            try:
                async with session.begin_nested():
                    await repo.add_post(**row)
            except IntegrityError:
                raise FailedPrecondition(
                    f"{talent_pb2.PostRole.Name(new.role)} of village {new.region_code} "
                    "was just filled by another appointment"
                ) from None
            await self._outbox.add(
                session,
                events_pb2.PersonAppointedEvent(
                    post_id=post_id, person_id=new.person_id, region_code=new.region_code,
                    role=new.role, start_date=format_date(new.start_date),
                    person_name=person.name,
                ),
                subject=new.person_id, region_code=new.region_code,
            )
            return talent_pb2.AppointPersonResponse(post=post_message(SimpleNamespace(**row)))

        return await self._writer.run("AppointPerson", request,
                                      talent_pb2.AppointPersonResponse, work)

    async def GetPost(
        self, request: talent_pb2.GetPostRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetPostResponse:
        post_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await TalentRepository(session).posts_by_ids([post_id])).get(post_id)
        if row is None:
            raise NotFound("post", post_id)
        current_caller().scope.require_covers(row.region_code, "post")
        return talent_pb2.GetPostResponse(post=post_message(row))

    async def BatchGetPosts(
        self, request: talent_pb2.BatchGetPostsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetPostsResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).posts_by_ids(ids)
        return talent_pb2.BatchGetPostsResponse(
            posts=[post_message(rows[i]) for i in ids
                   if i in rows and scope.covers(rows[i].region_code)]
        )

    async def ListPosts(
        self, request: talent_pb2.ListPostsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListPostsResponse:
        page = page_of(request.page)
        person_id = require_id(request.person_id, "person_id") if request.person_id else None
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return talent_pb2.ListPostsResponse()
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).list_posts(prefix, person_id, page)
        return talent_pb2.ListPostsResponse(
            posts=[post_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )
