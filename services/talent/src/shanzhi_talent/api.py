"""TalentService over gRPC: validates, checks the caller's scope, writes with its events.

Personal data: ID numbers and phones leave the service in full only for callers
with the organization_dept or admin role (masked for everyone else), never in an
event, an error message or a log line, and never in the stored idempotent
response (which is written masked, then opened for the caller if allowed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from shanzhi.talent.v1 import events_pb2, talent_pb2, talent_pb2_grpc
from shanzhi_kit.auth import ROLE_ORGANIZATION_DEPT, Caller, current_caller
from shanzhi_kit.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Validator,
)
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.paging import Page, page_of
from shanzhi_kit.regions import RegionScope, scope_prefix
from shanzhi_kit.values import batch_ids, format_date, new_id, require_id, utcnow
from sqlalchemy import ColumnElement, Row, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_talent import career, domain, idnumbers, reserve, rules, structure
from shanzhi_talent.messages import (
    assessment_message,
    candidate_message,
    config_message,
    course_message,
    flag_message,
    major_matter_message,
    may_see_pii,
    person_message,
    post_message,
    record_message,
    review_message,
    rules_from_row,
)
from shanzhi_talent.pii import PiiVault
from shanzhi_talent.repository import TalentRepository
from shanzhi_talent.tables import (
    assessments,
    county_configs,
    major_matters,
    people,
    posts,
    removal_flags,
    reserve_candidates,
    reserve_changes,
    review_checks,
    reviews,
    training_courses,
    training_records,
)

R = TypeVar("R", bound=Message)

#: China Standard Time (no daylight saving): "today" for the counties.
CST = timezone(timedelta(hours=8))
MAX_CANDIDATES_PER_GAP = 20


def today() -> date:
    return datetime.now(CST).date()


def as_of(value: str, field: str = "as_of_date") -> date:
    if not value:
        return today()
    v = Validator()
    day = v.date_field(field, value)
    v.raise_if_any()
    assert day is not None
    return day


def sees_region(scope: RegionScope, code: str) -> bool:
    """Whether a caller sees a record of ``code`` or of a region above their own.

    A county course or the county's rules are visible to a village clerk of that county.
    """
    if scope.prefix is None:
        return False
    return scope.covers(code) or scope.prefix.startswith(scope_prefix(code))


def _pair_key(ids: Sequence[str]) -> str:
    return ":".join(ids)


class TalentApi(talent_pb2_grpc.TalentServiceServicer):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: IdempotentWriter,
        outbox: Outbox,
        vault: PiiVault,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._writer = writer
        self._outbox = outbox
        self._vault = vault

    # -- helpers ---------------------------------------------------------------------

    async def _write(self, method: str, request: Message, response_type: type[R],
                     work: Callable[[AsyncSession], Awaitable[R]]) -> R:
        return await self._writer.run(method, request, response_type, work)

    async def _event(self, session: AsyncSession, data: Message, subject: str, region_code: str) -> None:
        await self._outbox.add(session, data, subject=subject, region_code=region_code)

    @staticmethod
    async def _person(repo: TalentRepository, caller: Caller, person_id: str,
                      field: str = "person_id", *, lock: bool = False) -> Row[Any]:
        """The person, in the caller's scope; ``lock`` for a write that adds an event keyed
        by the person (see :meth:`TalentRepository.lock_person`)."""
        person_id = require_id(person_id, field)
        row = (await repo.lock_person(person_id) if lock
               else (await repo.people_by_ids([person_id])).get(person_id))
        if row is None:
            raise NotFound("person", person_id, field)
        caller.scope.require_covers(row.region_code, "person")
        return row

    async def _rules(self, repo: TalentRepository, county: str) -> rules.CountyRules:
        found = await repo.current_config(county)
        return rules.DEFAULT_RULES if found is None else rules_from_row(found)

    async def _batch(self, table: Table, ids_in: Sequence[str], to_msg: Callable[[Any], R]) -> list[R]:
        ids = batch_ids(ids_in)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).by_ids(table, ids)
        return [to_msg(r) for r in scope.in_order(ids, rows)]

    async def _list(self, table: Table, prefix_in: str, page_request: Any,
                    *conditions: ColumnElement[bool]) -> tuple[list[Row[Any]], Page] | None:
        page = page_of(page_request)
        prefix = current_caller().scope.narrow(prefix_in)
        if prefix is None:
            return None
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).page(table, prefix, page, *conditions)
        return rows, page

    # -- people ----------------------------------------------------------------------

    async def RegisterPerson(
        self, request: talent_pb2.RegisterPersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.RegisterPersonResponse:
        caller = current_caller()
        caller.require_role(*domain.RECORD_ROLES)
        new = domain.check_new_person(request, today())
        caller.scope.require_covers(new.region_code, "person")
        vault = self._vault

        async def work(session: AsyncSession) -> talent_pb2.RegisterPersonResponse:
            repo = TalentRepository(session)
            person_id = new_id()
            number = new.id_number
            digest = vault.lookup_hash(number.value) if number else None
            if digest is not None:
                await self._refuse_duplicate(repo, caller, digest)
            row = dict(
                id=person_id, region_code=new.region_code, name=new.name, gender=new.gender,
                birth_date=new.birth_date, party_member=new.party_member,
                education=new.education, created_at=utcnow(), created_by=caller.subject,
                id_number_hmac=digest,
                id_number_cipher=vault.encrypt(number.value, f"id_number:{person_id}") if number else None,
                id_number_masked=number.masked if number else None,
                party_join_date=new.party_join_date,
                phone_cipher=vault.encrypt(new.phone, f"phone:{person_id}") if new.phone else None,
                phone_masked=domain.mask_phone(new.phone) if new.phone else None,
                updated_at=None, updated_by=None,
            )
            try:
                async with session.begin_nested():
                    await repo.add_person(**row)
            except IntegrityError:
                raise AlreadyExists("a person with this ID number is already registered") from None
            await self._event(
                session,
                events_pb2.PersonRegisteredEvent(
                    person_id=person_id, region_code=new.region_code,
                    party_member=new.party_member, person_name=new.name),
                person_id, new.region_code,
            )
            # Stored as the idempotent answer: masked, whoever asked.
            return talent_pb2.RegisterPersonResponse(
                person=person_message(SimpleNamespace(**row), vault, reveal=False))

        response = await self._write("RegisterPerson", request, talent_pb2.RegisterPersonResponse, work)
        if may_see_pii(caller):
            if new.id_number is not None:
                response.person.id_number = new.id_number.value
                response.person.id_number_masked = False
            if new.phone:
                response.person.phone = new.phone
        return response

    async def UpdatePerson(
        self, request: talent_pb2.UpdatePersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.UpdatePersonResponse:
        caller = current_caller()
        caller.require_role(*domain.RECORD_ROLES)
        person_id = require_id(request.person.id, "person.id")
        domain.check_update_mask(request.update_mask.paths)
        vault = self._vault

        async def work(session: AsyncSession) -> talent_pb2.UpdatePersonResponse:
            repo = TalentRepository(session)
            row = await repo.lock_person(person_id)
            if row is None:
                raise NotFound("person", person_id, "person.id")
            caller.scope.require_covers(row.region_code, "person")
            day = today()
            change = domain.check_person_update(request, self._recorded(row, day), day)
            if change.changed:
                after = change.person
                values: dict[str, Any] = dict(updated_at=utcnow(), updated_by=caller.subject)
                for field in change.changed:
                    if field == "phone":
                        values["phone_cipher"] = (vault.encrypt(after.phone, f"phone:{person_id}")
                                                  if after.phone else None)
                        values["phone_masked"] = domain.mask_phone(after.phone) if after.phone else None
                    else:
                        values[field] = getattr(after, field)
                await repo.set_person(person_id, **values)
                await self._event(
                    session,
                    events_pb2.PersonUpdatedEvent(
                        person_id=person_id, region_code=row.region_code,
                        changed_fields=change.changed, party_member=after.party_member,
                        person_name=after.name),
                    person_id, row.region_code,
                )
                row = (await repo.people_by_ids([person_id]))[person_id]
            # Stored as the idempotent answer: masked, whoever asked.
            return talent_pb2.UpdatePersonResponse(person=person_message(row, vault, reveal=False))

        response = await self._write("UpdatePerson", request, talent_pb2.UpdatePersonResponse, work)
        if may_see_pii(caller):
            async with self._sessionmaker() as session:
                row = (await TalentRepository(session).people_by_ids([person_id])).get(person_id)
            if row is not None:
                self._reveal(response.person, row)
        return response

    def _recorded(self, row: Row[Any], day: date) -> domain.NewPerson:
        """The person as recorded, ID number and phone opened, for checking a change."""
        number = None
        if row.id_number_cipher is not None:
            number = idnumbers.parse(self._vault.decrypt(row.id_number_cipher, f"id_number:{row.id}"), day)
        phone = self._vault.decrypt(row.phone_cipher, f"phone:{row.id}") if row.phone_cipher else ""
        return domain.NewPerson(row.region_code, row.name, row.gender, row.birth_date, row.party_member,
                                row.education, number, row.party_join_date, phone)

    def _reveal(self, person: talent_pb2.Person, row: Row[Any]) -> None:
        """Open a masked answer's ID number and phone from the row, for a caller who may see them.

        The number never changes; the phone is opened only while it is still the one the
        answer shows masked (a retry after a later change keeps it masked).
        """
        opened = person_message(row, self._vault, reveal=True)
        if person.id_number_masked and row.id_number_masked == person.id_number:
            person.id_number, person.id_number_masked = opened.id_number, False
        if person.phone and row.phone_masked == person.phone:
            person.phone = opened.phone

    @staticmethod
    async def _refuse_duplicate(repo: TalentRepository, caller: Caller, digest: str) -> None:
        existing = await repo.person_by_id_hash(digest)
        if existing is None:
            return
        if caller.scope.covers(existing.region_code):
            raise AlreadyExists(f"this ID number is already registered: person {existing.id}")
        raise AlreadyExists("this ID number is already registered (outside the caller's scope)")

    async def GetPerson(
        self, request: talent_pb2.GetPersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetPersonResponse:
        caller = current_caller()
        async with self._sessionmaker() as session:
            row = await self._person(TalentRepository(session), caller, request.id, "id")
        return talent_pb2.GetPersonResponse(person=person_message(row, self._vault, may_see_pii(caller)))

    async def BatchGetPeople(
        self, request: talent_pb2.BatchGetPeopleRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetPeopleResponse:
        reveal = may_see_pii(current_caller())
        found = await self._batch(people, request.ids, lambda r: person_message(r, self._vault, reveal))
        return talent_pb2.BatchGetPeopleResponse(people=found)

    async def ListPeople(
        self, request: talent_pb2.ListPeopleRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListPeopleResponse:
        reveal = may_see_pii(current_caller())
        listed = await self._list(people, request.region_code_prefix, request.page)
        if listed is None:
            return talent_pb2.ListPeopleResponse()
        rows, page = listed
        return talent_pb2.ListPeopleResponse(
            people=[person_message(r, self._vault, reveal) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    async def FindPersonByIdNumber(
        self, request: talent_pb2.FindPersonByIdNumberRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.FindPersonByIdNumberResponse:
        caller = current_caller()
        try:
            number = idnumbers.parse(request.id_number, today())
        except idnumbers.IdNumberError as exc:
            raise InvalidArgument.field("id_number", str(exc)) from None
        async with self._sessionmaker() as session:
            row = await TalentRepository(session).person_by_id_hash(self._vault.lookup_hash(number.value))
        if row is None or not caller.scope.covers(row.region_code):
            raise NotFound("person", "with this ID number", "id_number")
        return talent_pb2.FindPersonByIdNumberResponse(
            person=person_message(row, self._vault, may_see_pii(caller)))

    # -- posts -----------------------------------------------------------------------

    async def AppointPerson(
        self, request: talent_pb2.AppointPersonRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.AppointPersonResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        new = domain.check_new_appointment(request)
        require_id(new.person_id, "person_id")
        caller.scope.require_covers(new.region_code, "post")

        async def work(session: AsyncSession) -> talent_pb2.AppointPersonResponse:
            repo = TalentRepository(session)
            # Locked: appointments of one person are decided one at a time, and its
            # events keep their order (see lock_person).
            person = await self._person(repo, caller, new.person_id, lock=True)
            override = await self._check_review(repo, new)
            holders = await repo.active_holders(new.region_code, new.role)
            domain.check_can_hold(new.role, new.region_code, holders, new.person_id)
            domain.check_after_previous_terms(new.role, new.region_code, new.start_date,
                                              await repo.last_term_end(new.region_code, new.role))
            post_id = new_id()
            row = dict(
                id=post_id, person_id=new.person_id, region_code=new.region_code,
                role=new.role, method=new.method, start_date=new.start_date, end_date=None,
                created_at=utcnow(), created_by=caller.subject,
                review_id=new.review_id or None, review_override_reason=override or None,
                end_reason=None, end_note=None, ended_by=None, ended_at=None,
                filing_date=None, filing_reference=None, filed_by=None,
            )
            try:
                async with session.begin_nested():
                    await repo.add_post(**row)
            except IntegrityError:
                raise FailedPrecondition(
                    f"{talent_pb2.PostRole.Name(new.role)} of village {new.region_code} "
                    "was just filled by another appointment"
                ) from None
            await self._event(
                session,
                events_pb2.PersonAppointedEvent(
                    post_id=post_id, person_id=new.person_id, region_code=new.region_code,
                    role=new.role, start_date=format_date(new.start_date),
                    person_name=person.name,
                ),
                new.person_id, new.region_code,
            )
            return talent_pb2.AppointPersonResponse(post=post_message(SimpleNamespace(**row)))

        return await self._write("AppointPerson", request, talent_pb2.AppointPersonResponse, work)

    async def _check_review(self, repo: TalentRepository, new: domain.NewAppointment) -> str:
        """The override reason kept, or "" when the review passed or none is needed."""
        if new.role not in domain.REVIEWED_ROLES:
            return ""
        result = None
        if new.review_id:
            found = (await repo.reviews_with_checks([new.review_id])).get(new.review_id)
            if found is None:
                raise NotFound("qualification review", new.review_id, "review_id")
            review, checks = found
            rules.require_matching_review(review.person_id, review.region_code, review.role,
                                          new.person_id, new.region_code, new.role)
            result = review_message(review, checks).result
        county = await self._rules(repo, new.region_code[:6])
        return domain.check_review_allows(new.role, result, new.review_override_reason,
                                          county.allow_appointment_without_review)

    async def GetPost(
        self, request: talent_pb2.GetPostRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetPostResponse:
        post_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await TalentRepository(session).posts_by_ids([post_id])).get(post_id)
        if row is None:
            raise NotFound("post", post_id, "id")
        current_caller().scope.require_covers(row.region_code, "post")
        return talent_pb2.GetPostResponse(post=post_message(row))

    async def BatchGetPosts(
        self, request: talent_pb2.BatchGetPostsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetPostsResponse:
        return talent_pb2.BatchGetPostsResponse(posts=await self._batch(posts, request.ids, post_message))

    async def ListPosts(
        self, request: talent_pb2.ListPostsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListPostsResponse:
        person_id = require_id(request.person_id, "person_id") if request.person_id else None
        extra = [posts.c.person_id == person_id] if person_id else []
        listed = await self._list(posts, request.region_code_prefix, request.page, *extra)
        if listed is None:
            return talent_pb2.ListPostsResponse()
        rows, page = listed
        return talent_pb2.ListPostsResponse(
            posts=[post_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    async def _post_in_scope(self, repo: TalentRepository, caller: Caller, post_id: str) -> Row[Any]:
        post_id = require_id(post_id, "post_id")
        row = (await repo.posts_by_ids([post_id])).get(post_id)
        if row is None:
            raise NotFound("post", post_id, "post_id")
        caller.scope.require_covers(row.region_code, "post")
        return row

    async def EndPost(
        self, request: talent_pb2.EndPostRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.EndPostResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        end = domain.check_post_end(request, today())

        async def work(session: AsyncSession) -> talent_pb2.EndPostResponse:
            repo = TalentRepository(session)
            post = await self._post_in_scope(repo, caller, request.post_id)
            person = await repo.lock_person(post.person_id)  # the person first, as appointments do
            assert person is not None, "a post's person is never deleted"
            domain.check_can_end(post.start_date, post.end_date, end)
            if not await repo.end_post(post.id, end_date=end.end_date, end_reason=end.reason,
                                       end_note=end.note, ended_by=caller.subject, ended_at=utcnow()):
                raise FailedPrecondition("the term was just ended by another request")
            await self._event(
                session,
                events_pb2.PostEndedEvent(
                    post_id=post.id, person_id=post.person_id, region_code=post.region_code,
                    role=post.role, start_date=format_date(post.start_date),
                    end_date=format_date(end.end_date), reason=end.reason, person_name=person.name,
                ),
                post.person_id, post.region_code,
            )
            ended = (await repo.posts_by_ids([post.id]))[post.id]
            return talent_pb2.EndPostResponse(post=post_message(ended))

        return await self._write("EndPost", request, talent_pb2.EndPostResponse, work)

    async def FilePost(
        self, request: talent_pb2.FilePostRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.FilePostResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        filed, reference = domain.check_filing(request, today())
        if caller.scope.prefix is None or len(caller.scope.prefix) > 6:
            raise PermissionDenied("filing (备案) is done at the county: the caller's scope must be a county")

        async def work(session: AsyncSession) -> talent_pb2.FilePostResponse:
            repo = TalentRepository(session)
            post = await self._post_in_scope(repo, caller, request.post_id)
            if post.role != talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE:
                raise FailedPrecondition("only villagers' representatives (村民代表) are filed")
            if filed < post.start_date:
                raise FailedPrecondition("filing_date is before the term started")
            if not await repo.file_post(post.id, filing_date=filed, filing_reference=reference,
                                        filed_by=caller.subject):
                raise FailedPrecondition("the post is already filed")
            row = (await repo.posts_by_ids([post.id]))[post.id]
            return talent_pb2.FilePostResponse(post=post_message(row))

        return await self._write("FilePost", request, talent_pb2.FilePostResponse, work)

    async def GetCadreRecord(
        self, request: talent_pb2.GetCadreRecordRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetCadreRecordResponse:
        caller = current_caller()
        day = as_of(request.as_of_date)
        async with self._sessionmaker() as session:
            repo = TalentRepository(session)
            person = await self._person(repo, caller, request.person_id)
            terms = await repo.posts_of_person(person.id)
            review_rows = await repo.reviews_of_person(person.id)
            checks = await repo.checks_of([r.id for r in review_rows])
            candidates = await repo.candidates_of_person(person.id)
            history = await repo.history_of([c.id for c in candidates])
            trainings = await repo.records_of_person(person.id)
            graded = await repo.assessments_of_person(person.id)
            flags = await repo.flags_of_person(person.id)
            matters = await repo.major_matters_of_person(person.id)
        # Records kept in villages outside the caller's scope stay out, as everywhere else.
        seen = caller.scope.covers
        terms, review_rows, candidates = ([r for r in rows if seen(r.region_code)]
                                          for rows in (terms, review_rows, candidates))
        trainings, graded, flags, matters = ([r for r in rows if seen(r.region_code)]
                                             for rows in (trainings, graded, flags, matters))
        concurrent = domain.concurrent_posts(
            (domain.Term(t.region_code, t.role, t.start_date, t.end_date) for t in terms), day)
        return talent_pb2.GetCadreRecordResponse(record=talent_pb2.CadreRecord(
            person=person_message(person, self._vault, may_see_pii(caller)),
            posts=[post_message(t) for t in terms],
            concurrent=concurrent,
            as_of_date=day.isoformat(),
            reviews=[review_message(r, checks.get(r.id, [])) for r in review_rows],
            reserve=[candidate_message(c, history.get(c.id, [])) for c in candidates],
            trainings=[record_message(t) for t in trainings],
            assessments=[assessment_message(a) for a in graded],
            removal_flags=[flag_message(f) for f in flags],
            major_matters=[major_matter_message(m) for m in matters],
        ))

    # -- county rules ----------------------------------------------------------------

    async def SetCountyConfig(
        self, request: talent_pb2.SetCountyConfigRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.SetCountyConfigResponse:
        caller = current_caller()
        caller.require_role(ROLE_ORGANIZATION_DEPT)
        new = rules.check_config(request.config)
        county = request.config.county_code
        caller.scope.require_covers(county + "000000", "county rules")

        async def work(session: AsyncSession) -> talent_pb2.SetCountyConfigResponse:
            repo = TalentRepository(session)
            current = await repo.current_config(county)
            version = 1 if current is None else current.version + 1
            row = dict(
                county_code=county, version=version,
                **{name: getattr(new, name) for name in rules.INT_FIELDS},
                min_education_at_appointment=new.min_education_at_appointment,
                required_checks=list(new.required_checks),
                allow_appointment_without_review=new.allow_appointment_without_review,
                created_at=utcnow(), created_by=caller.subject,
            )
            try:
                async with session.begin_nested():
                    await repo.insert(county_configs, **row)
            except IntegrityError:
                raise Aborted("the county's rules were just changed by another request; retry") from None
            return talent_pb2.SetCountyConfigResponse(config=config_message(county, SimpleNamespace(**row)))

        return await self._write("SetCountyConfig", request, talent_pb2.SetCountyConfigResponse, work)

    async def GetCountyConfig(
        self, request: talent_pb2.GetCountyConfigRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetCountyConfigResponse:
        county = request.county_code
        if len(county) != 6 or not county.isdigit():
            raise InvalidArgument.field("county_code", "must be a 6-digit county code")
        if not sees_region(current_caller().scope, county + "000000"):
            raise PermissionDenied(f"county {county} is outside the caller's scope")
        async with self._sessionmaker() as session:
            found = await TalentRepository(session).current_config(county)
        return talent_pb2.GetCountyConfigResponse(config=config_message(county, found))

    # -- qualification reviews -------------------------------------------------------

    async def StartQualificationReview(
        self, request: talent_pb2.StartQualificationReviewRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.StartQualificationReviewResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        day = today()
        new = rules.check_new_review(request, day)
        caller.scope.require_covers(new.region_code, "review")

        async def work(session: AsyncSession) -> talent_pb2.StartQualificationReviewResponse:
            repo = TalentRepository(session)
            person = await self._person(repo, caller, new.person_id)
            county = await self._rules(repo, new.region_code[:6])
            review_id, now = new_id(), utcnow()
            row = dict(id=review_id, person_id=person.id, region_code=new.region_code, role=new.role,
                       required_checks=list(county.required_checks), created_at=now,
                       created_by=caller.subject)
            await repo.insert(reviews, **row)
            checks = [*rules.system_checks(county, person.birth_date, person.education, day), *new.checks]
            check_rows = [dict(review_id=review_id, kind=c.kind, department=c.department,
                               result=c.result, note=c.note, checked_date=c.checked_date,
                               recorded_at=now, recorded_by=caller.subject) for c in checks]
            await repo.add_many(review_checks, check_rows)
            return talent_pb2.StartQualificationReviewResponse(review=review_message(
                SimpleNamespace(**row), [SimpleNamespace(**c) for c in check_rows]))

        return await self._write("StartQualificationReview", request,
                                 talent_pb2.StartQualificationReviewResponse, work)

    async def RecordReviewCheck(
        self, request: talent_pb2.RecordReviewCheckRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.RecordReviewCheckResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        review_id = require_id(request.review_id, "review_id")
        v = Validator()
        check = rules.check_review_check(request.check, "check", today(), v)
        v.raise_if_any()
        assert check is not None

        async def work(session: AsyncSession) -> talent_pb2.RecordReviewCheckResponse:
            repo = TalentRepository(session)
            review = await repo.lock_review(review_id)
            if review is None:
                raise NotFound("qualification review", review_id, "review_id")
            caller.scope.require_covers(review.region_code, "review")
            await repo.insert(review_checks, review_id=review_id, kind=check.kind,
                              department=check.department, result=check.result, note=check.note,
                              checked_date=check.checked_date, recorded_at=utcnow(),
                              recorded_by=caller.subject)
            checks = (await repo.checks_of([review_id]))[review_id]
            return talent_pb2.RecordReviewCheckResponse(review=review_message(review, checks))

        return await self._write("RecordReviewCheck", request, talent_pb2.RecordReviewCheckResponse, work)

    async def BatchGetQualificationReviews(
        self, request: talent_pb2.BatchGetQualificationReviewsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetQualificationReviewsResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            found = await TalentRepository(session).reviews_with_checks(ids)
        return talent_pb2.BatchGetQualificationReviewsResponse(reviews=[
            review_message(*found[i]) for i in ids if i in found and scope.covers(found[i][0].region_code)])

    async def ListQualificationReviews(
        self, request: talent_pb2.ListQualificationReviewsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListQualificationReviewsResponse:
        person_id = require_id(request.person_id, "person_id") if request.person_id else None
        extra = [reviews.c.person_id == person_id] if person_id else []
        listed = await self._list(reviews, request.region_code_prefix, request.page, *extra)
        if listed is None:
            return talent_pb2.ListQualificationReviewsResponse()
        rows, page = listed
        shown = rows[: page.size]
        async with self._sessionmaker() as session:
            checks = await TalentRepository(session).checks_of([r.id for r in shown])
        return talent_pb2.ListQualificationReviewsResponse(
            reviews=[review_message(r, checks.get(r.id, [])) for r in shown],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    # -- structure targets -----------------------------------------------------------

    async def GetStructureReport(
        self, request: talent_pb2.GetStructureReportRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetStructureReportResponse:
        scope = current_caller().scope
        prefix = scope.narrow(request.region_code_prefix)
        day = as_of(request.as_of_date)
        limit = request.candidates_per_gap or 3
        if not 0 <= limit <= MAX_CANDIDATES_PER_GAP:
            raise InvalidArgument.field("candidates_per_gap",
                                        f"must be between 0 and {MAX_CANDIDATES_PER_GAP}")
        if prefix is None:
            return talent_pb2.GetStructureReportResponse(as_of_date=day.isoformat())
        return await self.structure_report(prefix, day, limit, scope)

    async def structure_report(self, prefix: str, day: date, limit: int,
                               scope: RegionScope) -> talent_pb2.GetStructureReportResponse:
        """The report in four queries, whatever the number of villages."""
        # Gap candidates may come from the rest of the township, where the caller sees it.
        township = prefix[:9]
        wider = len(prefix) > 9 and scope.prefix is not None and township.startswith(scope.prefix)
        async with self._sessionmaker() as session:
            repo = TalentRepository(session)
            configs = await repo.configs_within(prefix)
            villages = await repo.villages_within(prefix)
            members = await repo.two_committee_members(prefix, day)
            candidates = await repo.active_candidates(township if wider else prefix, career.ACTIVE_RESERVE)
        return structure.structure_report(
            villages,
            [structure.Member(m.person_id, m.region_code, m.role, m.gender, m.birth_date, m.education)
             for m in members],
            [structure.Candidate(c.candidate_id, c.person_id, c.region_code, c.name, c.status, c.gender,
                                 c.birth_date, c.education, c.party_member) for c in candidates],
            {c.county_code: rules_from_row(c) for c in configs},
            day,
            limit,
        )

    # -- reserve pool ----------------------------------------------------------------

    async def _check_mentor(self, repo: TalentRepository, caller: Caller, mentor_id: str,
                            county: str) -> None:
        mentor = await self._person(repo, caller, mentor_id, "mentor_person_id")
        day = today()
        post = await repo.holds_post_between(mentor.id, day, day, domain.MENTOR_ROLES)
        if post is None or post.region_code[:6] != county:
            raise FailedPrecondition(
                "the mentor must hold a cadre post (村两委/第一书记) in the same county")

    async def _candidate_response(
        self, repo: TalentRepository, candidate_id: str
    ) -> talent_pb2.ReserveCandidate:
        row, history = (await repo.candidates_with_history([candidate_id]))[candidate_id]
        return candidate_message(row, history)

    async def AddReserveCandidate(
        self, request: talent_pb2.AddReserveCandidateRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.AddReserveCandidateResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        career.check_new_candidate(request)

        async def work(session: AsyncSession) -> talent_pb2.AddReserveCandidateResponse:
            repo = TalentRepository(session)
            person = await self._person(repo, caller, request.person_id, lock=True)
            if request.mentor_person_id:
                await self._check_mentor(repo, caller, request.mentor_person_id, person.region_code[:6])
            candidate_id = await reserve.enter_pool(
                session, self._outbox, person, source=request.source, actor=caller.subject,
                note=request.note.strip(), mentor_person_id=request.mentor_person_id.lower())
            if candidate_id is None:
                raise AlreadyExists("the person is already an active reserve candidate")
            return talent_pb2.AddReserveCandidateResponse(
                candidate=await self._candidate_response(repo, candidate_id))

        return await self._write("AddReserveCandidate", request,
                                 talent_pb2.AddReserveCandidateResponse, work)

    async def _locked_candidate(self, repo: TalentRepository, caller: Caller, candidate_id: str) -> Row[Any]:
        candidate_id = require_id(candidate_id, "candidate_id")
        seen = (await repo.by_ids(reserve_candidates, [candidate_id])).get(candidate_id)
        if seen is not None:
            await repo.lock_person(seen.person_id)  # the person first, as every person's event
        row = await repo.lock_candidate(candidate_id)
        if row is None:
            raise NotFound("reserve candidate", candidate_id, "candidate_id")
        caller.scope.require_covers(row.region_code, "reserve candidate")
        return row

    async def ChangeReserveStatus(
        self, request: talent_pb2.ChangeReserveStatusRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ChangeReserveStatusResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        require_id(request.candidate_id, "candidate_id")

        async def work(session: AsyncSession) -> talent_pb2.ChangeReserveStatusResponse:
            repo = TalentRepository(session)
            row = await self._locked_candidate(repo, caller, request.candidate_id)
            reason = career.check_status_change(row.status, request)
            if request.status == talent_pb2.RESERVE_STATUS_APPOINTED:
                day = today()
                if await repo.holds_post_between(row.person_id, day, day) is None:
                    raise FailedPrecondition("appoint the person to a post (AppointPerson) first")
            await repo.set_candidate(row.id, status=request.status)
            await repo.insert(reserve_changes, candidate_id=row.id, from_status=row.status,
                              to_status=request.status, reason=reason, changed_at=utcnow(),
                              changed_by=caller.subject)
            await self._event(session, events_pb2.ReserveStatusChangedEvent(
                candidate_id=row.id, person_id=row.person_id, region_code=row.region_code,
                from_status=row.status, to_status=request.status, reason=reason),
                row.person_id, row.region_code)
            return talent_pb2.ChangeReserveStatusResponse(
                candidate=await self._candidate_response(repo, row.id))

        return await self._write("ChangeReserveStatus", request,
                                 talent_pb2.ChangeReserveStatusResponse, work)

    async def AssignReserveMentor(
        self, request: talent_pb2.AssignReserveMentorRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.AssignReserveMentorResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        require_id(request.candidate_id, "candidate_id")
        mentor_id = require_id(request.mentor_person_id, "mentor_person_id")

        async def work(session: AsyncSession) -> talent_pb2.AssignReserveMentorResponse:
            repo = TalentRepository(session)
            row = await self._locked_candidate(repo, caller, request.candidate_id)
            if row.status not in career.ACTIVE_RESERVE:
                raise FailedPrecondition("only active candidates get a mentor")
            if mentor_id == row.person_id:
                raise InvalidArgument.field("mentor_person_id", "a candidate cannot mentor themselves")
            await self._check_mentor(repo, caller, mentor_id, row.region_code[:6])
            await repo.set_candidate(row.id, mentor_person_id=mentor_id)
            await repo.insert(reserve_changes, candidate_id=row.id, from_status=row.status,
                              to_status=row.status, reason=f"mentor (培养联系人): {mentor_id}",
                              changed_at=utcnow(), changed_by=caller.subject)
            return talent_pb2.AssignReserveMentorResponse(
                candidate=await self._candidate_response(repo, row.id))

        return await self._write("AssignReserveMentor", request,
                                 talent_pb2.AssignReserveMentorResponse, work)

    async def BatchGetReserveCandidates(
        self, request: talent_pb2.BatchGetReserveCandidatesRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetReserveCandidatesResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            found = await TalentRepository(session).candidates_with_history(ids)
        return talent_pb2.BatchGetReserveCandidatesResponse(candidates=[
            candidate_message(*found[i]) for i in ids
            if i in found and scope.covers(found[i][0].region_code)])

    async def ListReserveCandidates(
        self, request: talent_pb2.ListReserveCandidatesRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListReserveCandidatesResponse:
        extra = [reserve_candidates.c.status == request.status] if request.status else []
        listed = await self._list(reserve_candidates, request.region_code_prefix, request.page, *extra)
        if listed is None:
            return talent_pb2.ListReserveCandidatesResponse()
        rows, page = listed
        shown = rows[: page.size]
        async with self._sessionmaker() as session:
            history = await TalentRepository(session).history_of([r.id for r in shown])
        return talent_pb2.ListReserveCandidatesResponse(
            candidates=[candidate_message(r, history.get(r.id, [])) for r in shown],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    # -- training --------------------------------------------------------------------

    async def CreateTrainingCourse(
        self, request: talent_pb2.CreateTrainingCourseRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.CreateTrainingCourseResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        new = career.check_new_course(request)
        caller.scope.require_covers(new.region_code, "course")

        async def work(session: AsyncSession) -> talent_pb2.CreateTrainingCourseResponse:
            row = dict(id=new_id(), region_code=new.region_code, title=new.title,
                       organizer=new.organizer, start_date=new.start_date, end_date=new.end_date,
                       hours=new.hours, created_at=utcnow(), created_by=caller.subject)
            await TalentRepository(session).insert(training_courses, **row)
            return talent_pb2.CreateTrainingCourseResponse(course=course_message(SimpleNamespace(**row)))

        return await self._write("CreateTrainingCourse", request,
                                 talent_pb2.CreateTrainingCourseResponse, work)

    async def BatchGetTrainingCourses(
        self, request: talent_pb2.BatchGetTrainingCoursesRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetTrainingCoursesResponse:
        ids = batch_ids(request.ids)
        scope = current_caller().scope
        async with self._sessionmaker() as session:
            rows = await TalentRepository(session).by_ids(training_courses, ids)
        return talent_pb2.BatchGetTrainingCoursesResponse(courses=[
            course_message(rows[i]) for i in ids if i in rows and sees_region(scope, rows[i].region_code)])

    async def ListTrainingCourses(
        self, request: talent_pb2.ListTrainingCoursesRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListTrainingCoursesResponse:
        listed = await self._list(training_courses, request.region_code_prefix, request.page)
        if listed is None:
            return talent_pb2.ListTrainingCoursesResponse()
        rows, page = listed
        return talent_pb2.ListTrainingCoursesResponse(
            courses=[course_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    async def RecordTraining(
        self, request: talent_pb2.RecordTrainingRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.RecordTrainingResponse:
        caller = current_caller()
        caller.require_role(*domain.RECORD_ROLES)
        course_id = require_id(request.course_id, "course_id")

        async def work(session: AsyncSession) -> talent_pb2.RecordTrainingResponse:
            repo = TalentRepository(session)
            course = (await repo.by_ids(training_courses, [course_id])).get(course_id)
            if course is None or not sees_region(caller.scope, course.region_code):
                raise NotFound("training course", course_id, "course_id")
            person_ids, hours = career.check_attendance(request, course.hours)
            found = await repo.lock_people(person_ids)
            for pid in person_ids:
                if pid not in found:
                    raise NotFound("person", pid, "person_ids")
                caller.scope.require_covers(found[pid].region_code, "person")
            already = await repo.recorded_attendees(course_id, person_ids)
            now = utcnow()
            rows = [dict(id=new_id(), course_id=course_id, person_id=pid,
                         region_code=found[pid].region_code, hours=hours,
                         course_start_date=course.start_date, course_title=course.title,
                         created_at=now, created_by=caller.subject)
                    for pid in person_ids if pid not in already]
            try:
                async with session.begin_nested():
                    await repo.add_many(training_records, rows)
            except IntegrityError:
                raise Aborted(
                    "attendance of this course was just recorded by another request; retry") from None
            for r in rows:
                await self._event(session, events_pb2.TrainingRecordedEvent(
                    record_id=r["id"], course_id=course_id, person_id=r["person_id"],
                    region_code=r["region_code"], hours=hours,
                    course_start_date=format_date(course.start_date)), r["person_id"], r["region_code"])
            return talent_pb2.RecordTrainingResponse(
                records=[record_message(SimpleNamespace(**r)) for r in rows],
                already_recorded_person_ids=[p for p in person_ids if p in already])

        return await self._write("RecordTraining", request, talent_pb2.RecordTrainingResponse, work)

    async def ListTrainingRecords(
        self, request: talent_pb2.ListTrainingRecordsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListTrainingRecordsResponse:
        person_id = require_id(request.person_id, "person_id") if request.person_id else None
        extra = [training_records.c.person_id == person_id] if person_id else []
        listed = await self._list(training_records, request.region_code_prefix, request.page, *extra)
        if listed is None:
            return talent_pb2.ListTrainingRecordsResponse()
        rows, page = listed
        return talent_pb2.ListTrainingRecordsResponse(
            records=[record_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    async def GetTrainingCoverage(
        self, request: talent_pb2.GetTrainingCoverageRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.GetTrainingCoverageResponse:
        now = today()
        year = request.year or now.year
        if not 2000 <= year <= now.year:
            raise InvalidArgument.field("year", f"must be between 2000 and {now.year}")
        day = career.coverage_day(year, now)
        prefix = current_caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return talent_pb2.GetTrainingCoverageResponse(year=year, as_of_date=day.isoformat())
        async with self._sessionmaker() as session:
            repo = TalentRepository(session)
            configs = {c.county_code: rules_from_row(c) for c in await repo.configs_within(prefix)}
            members = await repo.two_committee_members(prefix, day)
            hours = await repo.training_hours(prefix, day, date(year, 1, 1), date(year, 12, 31))
        people_by_village: dict[str, dict[str, str]] = {}
        for m in members:
            people_by_village.setdefault(m.region_code, {})[m.person_id] = m.name
        villages = []
        for code in sorted(people_by_village):
            need = max(1, configs.get(code[:6], rules.DEFAULT_RULES).min_training_hours_per_year)
            names = people_by_village[code]
            missing = [talent_pb2.Untrained(person_id=p, name=n, hours=hours.get(p, 0))
                       for p, n in sorted(names.items(), key=lambda x: (x[1], x[0]))
                       if hours.get(p, 0) < need]
            villages.append(talent_pb2.VillageTrainingCoverage(
                region_code=code, member_count=len(names), trained_count=len(names) - len(missing),
                fully_covered=not missing, missing=missing))
        return talent_pb2.GetTrainingCoverageResponse(
            year=year, as_of_date=day.isoformat(), villages=villages,
            member_count=sum(v.member_count for v in villages),
            trained_count=sum(v.trained_count for v in villages),
            fully_covered_village_count=sum(1 for v in villages if v.fully_covered),
        )

    # -- assessments -----------------------------------------------------------------

    async def RecordAssessment(
        self, request: talent_pb2.RecordAssessmentRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.RecordAssessmentResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        new = career.check_new_assessment(request, today())

        async def work(session: AsyncSession) -> talent_pb2.RecordAssessmentResponse:
            repo = TalentRepository(session)
            person = await self._person(repo, caller, new.person_id)
            first, last = career.period_bounds(new.year, new.period)
            post = await repo.holds_post_between(person.id, first, last)
            if post is None:
                raise FailedPrecondition("the person held no post during the period")
            caller.scope.require_covers(post.region_code, "post")
            row = dict(id=new_id(), person_id=person.id, region_code=post.region_code, year=new.year,
                       period=new.period, scores=new.scores, total_score=new.total,
                       total_max_score=new.total_max, democratic_appraisal_percent=new.appraisal,
                       grade=new.grade, state=talent_pb2.ASSESSMENT_STATE_DRAFT, comment=new.comment,
                       created_at=utcnow(), created_by=caller.subject, finalized_at=None,
                       finalized_by=None)
            try:
                async with session.begin_nested():
                    await repo.insert(assessments, **row)
            except IntegrityError:
                raise AlreadyExists("the person already has an assessment for this period") from None
            return talent_pb2.RecordAssessmentResponse(assessment=assessment_message(SimpleNamespace(**row)))

        return await self._write("RecordAssessment", request, talent_pb2.RecordAssessmentResponse, work)

    async def FinalizeAssessment(
        self, request: talent_pb2.FinalizeAssessmentRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.FinalizeAssessmentResponse:
        caller = current_caller()
        caller.require_role(*domain.PERSONNEL_ROLES)
        assessment_id = require_id(request.assessment_id, "assessment_id")

        async def work(session: AsyncSession) -> talent_pb2.FinalizeAssessmentResponse:
            repo = TalentRepository(session)
            seen = (await repo.by_ids(assessments, [assessment_id])).get(assessment_id)
            if seen is not None:
                # The person first, as every write of a person's events: two finalisations
                # of one person then see each other's grades (a removal flag needs both).
                await repo.lock_person(seen.person_id)
            row = await repo.lock_assessment(assessment_id)
            if row is None:
                raise NotFound("assessment", assessment_id, "assessment_id")
            caller.scope.require_covers(row.region_code, "assessment")
            if row.state != talent_pb2.ASSESSMENT_STATE_DRAFT:
                raise FailedPrecondition("the assessment is already finalised")
            now = utcnow()
            await repo.set_assessment(row.id, state=talent_pb2.ASSESSMENT_STATE_FINALIZED,
                                      finalized_at=now, finalized_by=caller.subject)
            await self._event(session, events_pb2.AssessmentFinalizedEvent(
                assessment_id=row.id, person_id=row.person_id, region_code=row.region_code,
                year=row.year, period=row.period, grade=row.grade), row.person_id, row.region_code)
            done = await repo.assessments_of_person(row.person_id, talent_pb2.ASSESSMENT_STATE_FINALIZED)
            pair = career.removal_pair((row.id, row.year, row.period, row.grade),
                                       [(a.id, a.year, a.period, a.grade) for a in done if a.id != row.id])
            response = talent_pb2.FinalizeAssessmentResponse(
                assessment=assessment_message((await repo.by_ids(assessments, [row.id]))[row.id]))
            if pair is not None:
                response.removal_flag.CopyFrom(await self._raise_flag(session, repo, row, pair))
            return response

        return await self._write("FinalizeAssessment", request, talent_pb2.FinalizeAssessmentResponse, work)

    async def _raise_flag(self, session: AsyncSession, repo: TalentRepository, row: Row[Any],
                          pair: list[str]) -> talent_pb2.RemovalFlag:
        key = _pair_key(pair)
        existing = await repo.flag_by_pair(key)
        if existing is not None:
            return flag_message(existing)
        flag = dict(id=new_id(), person_id=row.person_id, region_code=row.region_code,
                    assessment_ids=pair, pair_key=key, created_at=utcnow(),
                    reason="graded 不称职 (incompetent) in two consecutive assessments")
        await repo.insert(removal_flags, **flag)
        await self._event(session, events_pb2.RemovalFlaggedEvent(
            flag_id=flag["id"], person_id=row.person_id, region_code=row.region_code,
            assessment_ids=pair), row.person_id, row.region_code)
        return flag_message(SimpleNamespace(**flag))

    async def BatchGetAssessments(
        self, request: talent_pb2.BatchGetAssessmentsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetAssessmentsResponse:
        return talent_pb2.BatchGetAssessmentsResponse(
            assessments=await self._batch(assessments, request.ids, assessment_message))

    async def ListAssessments(
        self, request: talent_pb2.ListAssessmentsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListAssessmentsResponse:
        person_id = require_id(request.person_id, "person_id") if request.person_id else None
        extra = [assessments.c.person_id == person_id] if person_id else []
        if request.year:
            extra.append(assessments.c.year == request.year)
        listed = await self._list(assessments, request.region_code_prefix, request.page, *extra)
        if listed is None:
            return talent_pb2.ListAssessmentsResponse()
        rows, page = listed
        return talent_pb2.ListAssessmentsResponse(
            assessments=[assessment_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    async def ListRemovalFlags(
        self, request: talent_pb2.ListRemovalFlagsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListRemovalFlagsResponse:
        listed = await self._list(removal_flags, request.region_code_prefix, request.page)
        if listed is None:
            return talent_pb2.ListRemovalFlagsResponse()
        rows, page = listed
        return talent_pb2.ListRemovalFlagsResponse(
            flags=[flag_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    # -- major-matter reports --------------------------------------------------------

    async def FileMajorMatterReport(
        self, request: talent_pb2.FileMajorMatterReportRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.FileMajorMatterReportResponse:
        caller = current_caller()
        caller.require_role(*domain.RECORD_ROLES)
        occurred = career.check_major_matter(request, today())

        async def work(session: AsyncSession) -> talent_pb2.FileMajorMatterReportResponse:
            repo = TalentRepository(session)
            person = await self._person(repo, caller, request.person_id)
            day = today()
            post = await repo.holds_post_between(person.id, day, day)
            if post is None:
                raise FailedPrecondition("major-matter reports are filed by serving cadres: "
                                         "the person holds no post today")
            row = dict(id=new_id(), person_id=person.id, region_code=post.region_code,
                       category=request.category, title=request.title.strip(),
                       description=request.description.strip(), occurred_date=occurred,
                       created_at=utcnow(), created_by=caller.subject)
            await repo.insert(major_matters, **row)
            return talent_pb2.FileMajorMatterReportResponse(
                report=major_matter_message(SimpleNamespace(**row)))

        return await self._write("FileMajorMatterReport", request,
                                 talent_pb2.FileMajorMatterReportResponse, work)

    async def BatchGetMajorMatterReports(
        self, request: talent_pb2.BatchGetMajorMatterReportsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.BatchGetMajorMatterReportsResponse:
        return talent_pb2.BatchGetMajorMatterReportsResponse(
            reports=await self._batch(major_matters, request.ids, major_matter_message))

    async def ListMajorMatterReports(
        self, request: talent_pb2.ListMajorMatterReportsRequest, context: grpc.aio.ServicerContext
    ) -> talent_pb2.ListMajorMatterReportsResponse:
        person_id = require_id(request.person_id, "person_id") if request.person_id else None
        extra = [major_matters.c.person_id == person_id] if person_id else []
        listed = await self._list(major_matters, request.region_code_prefix, request.page, *extra)
        if listed is None:
            return talent_pb2.ListMajorMatterReportsResponse()
        rows, page = listed
        return talent_pb2.ListMajorMatterReportsResponse(
            reports=[major_matter_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]),
        )

