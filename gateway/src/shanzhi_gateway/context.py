"""Per-request context: the caller (verified on first use) and the DataLoaders.

Each DataLoader is backed by a batch RPC, so a query that touches many rows
calls each service once per level instead of once per row. Batch answers leave
out ids that are unknown or outside the caller's region scope; the loaders map
answers back by id and give ``None`` (or an empty list) for those.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from shanzhi.audit.v1 import audit_pb2
from shanzhi.common.v1 import paging_pb2
from shanzhi.lists.v1 import lists_pb2
from shanzhi.points.v1 import points_pb2
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.auth import Caller, TokenVerifier
from shanzhi_kit.errors import Unauthenticated
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from shanzhi_gateway.clients import ServiceClients
from shanzhi_gateway.errors import GatewayError, unauthenticated

#: Most ids one batch RPC accepts.
MAX_BATCH = 1000
#: Page size and page cap when the gateway walks a list RPC to the end for one key.
WALK_PAGE_SIZE = 500
WALK_MAX_PAGES = 20
#: Concurrent list calls one loader batch may make.
WALK_CONCURRENCY = 8
#: What a single-record read answers for an id that is unknown or outside the caller's scope.
MISSING_CODES = frozenset({"NOT_FOUND", "PERMISSION_DENIED"})

Resp = TypeVar("Resp")
K = TypeVar("K")
V = TypeVar("V")
Keyed = TypeVar("Keyed", bound="_HasId")
#: A statement page asked of an account: (account id, from date, to date, page size, token).
StatementKey = tuple[str, str, str, int, str]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def by_id(ids: Sequence[str], found: Iterable[Keyed]) -> list[Keyed | None]:
    """``found`` put back in the order of ``ids``, ``None`` where one is missing."""
    index = {item.id: item for item in found}
    return [index.get(i) for i in ids]


class GatewayContext(BaseContext):
    """What resolvers of one request share."""

    def __init__(
        self,
        clients: ServiceClients,
        verifier: TokenVerifier | None,
        authorization: str | None,
    ) -> None:
        super().__init__()
        self.clients = clients
        self._verifier = verifier
        self._authorization = authorization
        self._caller: Caller | None = None
        self.loaders = Loaders(self)

    @property
    def authorization(self) -> str | None:
        """The caller's credentials: over a websocket, the ``Authorization`` entry of the
        connection_init payload; else (or when it has none) the HTTP header."""
        params = self.connection_params
        if isinstance(params, dict):
            for key, value in params.items():
                if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
                    return value
        return self._authorization

    @property
    def caller(self) -> Caller:
        """The authenticated caller; a GraphQL error with code UNAUTHENTICATED if none."""
        if self._caller is None:
            if self._verifier is None:
                raise unauthenticated("token verification is not configured")
            try:
                self._caller = self._verifier.from_authorization(self.authorization)
            except Unauthenticated as exc:
                raise unauthenticated(exc.message) from None
        return self._caller

    async def call(self, method: Callable[..., Awaitable[Resp]], request: Any) -> Resp:
        """Call a service as the caller, with the deadline.

        A write (every write takes a ``request_id``) starts the request's loaders afresh:
        what they cached before it, an account's balance before a redemption, may be stale
        after it. GraphQL runs a document's mutations one after another, each with its
        selections, so every mutation's answer reads what the writes before it left.
        """
        if "request_id" in request.DESCRIPTOR.fields_by_name:
            self.loaders = Loaders(self)
        return await self.clients.call(method, request, token=self.caller.token)


def _loader(
    load: Callable[[list[str]], Awaitable[Sequence[Any]]],
) -> DataLoader[str, Any]:
    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


async def _each(keys: Sequence[K], fetch: Callable[[K], Awaitable[V]]) -> list[V | BaseException]:
    """``fetch`` for every key, WALK_CONCURRENCY at a time, where a service has no batch
    read: each key's answer or error, so one refusal fails only the fields that asked it."""
    limit = asyncio.Semaphore(WALK_CONCURRENCY)

    async def one(key: K) -> V:
        async with limit:
            return await fetch(key)

    return list(await asyncio.gather(*(one(k) for k in keys), return_exceptions=True))


async def _or_none(read: Awaitable[V]) -> V | None:
    """``read``'s answer, or ``None`` when the service says the id is unknown or not the
    caller's to see (as the batch reads leave such ids out)."""
    try:
        return await read
    except GatewayError as exc:
        if exc.code in MISSING_CODES:
            return None
        raise


class Loaders:
    """The DataLoaders of one request (a cache that lives as long as the request)."""

    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx
        #: talent.Person by id (TalentService.BatchGetPeople).
        self.people: DataLoader[str, talent_pb2.Person | None] = _loader(self._people)
        #: talent.Post by id (TalentService.BatchGetPosts).
        self.posts: DataLoader[str, talent_pb2.Post | None] = _loader(self._posts)
        #: A person's posts by person id (TalentService.ListPosts, one walk per key).
        self.posts_of_person: DataLoader[str, list[talent_pb2.Post]] = _loader(self._posts_of_people)
        #: talent.QualificationReview by id (TalentService.BatchGetQualificationReviews).
        self.qualification_reviews: DataLoader[str, talent_pb2.QualificationReview | None] = _loader(
            self._qualification_reviews
        )
        #: talent.ReserveCandidate by id (TalentService.BatchGetReserveCandidates).
        self.reserve_candidates: DataLoader[str, talent_pb2.ReserveCandidate | None] = _loader(
            self._reserve_candidates
        )
        #: talent.TrainingCourse by id (TalentService.BatchGetTrainingCourses).
        self.training_courses: DataLoader[str, talent_pb2.TrainingCourse | None] = _loader(
            self._training_courses
        )
        #: talent.Assessment by id (TalentService.BatchGetAssessments).
        self.assessments: DataLoader[str, talent_pb2.Assessment | None] = _loader(self._assessments)
        #: points.Household by id (PointsService.BatchGetHouseholds).
        self.households: DataLoader[str, points_pb2.Household | None] = _loader(self._households)
        #: points.Account by id (PointsService.BatchGetAccounts).
        self.points_accounts: DataLoader[str, points_pb2.Account | None] = _loader(self._points_accounts)
        #: points.Account by (subject kind, subject id) (PointsService.BatchGetAccounts).
        self.points_accounts_by_subject: DataLoader[tuple[int, str], points_pb2.Account | None] = DataLoader(
            load_fn=self._points_accounts_by_subject, max_batch_size=MAX_BATCH
        )
        #: points.Scheme by id (PointsService.BatchGetSchemes).
        self.points_schemes: DataLoader[str, points_pb2.Scheme | None] = _loader(self._points_schemes)
        #: The rules of a scheme in force on a day, by (scheme id, "YYYY-MM-DD")
        #: (PointsService.BatchGetRulesInForce).
        self.points_rules_in_force: DataLoader[tuple[str, str], points_pb2.RulesInForce | None] = DataLoader(
            load_fn=self._points_rules_in_force, max_batch_size=MAX_BATCH
        )
        #: A village scheme's departures from its template, by (scheme id, "YYYY-MM-DD" of
        #: the version in force compared, or "" for the latest version)
        #: (PointsService.BatchCompareSchemesWithTemplate, one call per day asked).
        self.points_template_comparisons: DataLoader[
            tuple[str, str], points_pb2.SchemeTemplateComparison | None
        ] = DataLoader(load_fn=self._points_template_comparisons, max_batch_size=MAX_BATCH)
        #: points.Entry by id (PointsService.BatchGetEntries).
        self.points_entries: DataLoader[str, points_pb2.Entry | None] = _loader(self._points_entries)
        #: An account's lots by (account id, whether spent ones too) (PointsService.ListLots,
        #: one call per account, a few at a time).
        self.points_lots: DataLoader[tuple[str, bool], list[points_pb2.Lot]] = DataLoader(
            load_fn=self._points_lots, max_batch_size=MAX_BATCH
        )
        #: A page of an account's statement by (account id, from, to, page size, page token)
        #: (PointsService.GetStatement, one call per distinct key, a few at a time).
        self.points_statements: DataLoader[StatementKey, points_pb2.GetStatementResponse] = DataLoader(
            load_fn=self._points_statements, max_batch_size=MAX_BATCH
        )
        #: A scheme's versions by scheme id (PointsService.ListSchemeVersions, one call per
        #: scheme, a few at a time).
        self.points_scheme_versions: DataLoader[str, list[points_pb2.SchemeVersion]] = _loader(
            self._points_scheme_versions
        )
        #: points.SchemeVersion by id (PointsService.GetSchemeVersion, one call per distinct
        #: id, a few at a time: there is no batch read of versions).
        self.points_scheme_versions_by_id: DataLoader[str, points_pb2.SchemeVersion | None] = _loader(
            self._points_scheme_versions_by_id
        )
        #: points.Batch (批量评分) by id (PointsService.GetBatch, one call per distinct id, a
        #: few at a time: there is no batch read of batches).
        self.points_batches: DataLoader[str, points_pb2.Batch | None] = _loader(self._points_batches)
        #: points.Claim by id (PointsService.BatchGetClaims).
        self.points_claims: DataLoader[str, points_pb2.Claim | None] = _loader(self._points_claims)
        #: points.Goods by id (PointsService.BatchGetGoods).
        self.points_goods: DataLoader[str, points_pb2.Goods | None] = _loader(self._points_goods)
        #: points.Redemption by id (PointsService.BatchGetRedemptions).
        self.points_redemptions: DataLoader[str, points_pb2.Redemption | None] = _loader(
            self._points_redemptions
        )
        #: points.RepresentativeHonour by id (PointsService.BatchGetRepresentativeHonours).
        self.representative_honours: DataLoader[str, points_pb2.RepresentativeHonour | None] = _loader(
            self._representative_honours
        )
        #: lists.ListItem by id (ListsService.BatchGetListItems).
        self.list_items: DataLoader[str, lists_pb2.ListItem | None] = _loader(self._list_items)
        #: audit.InspectionRound by id (AuditService.BatchGetInspectionRounds).
        self.inspection_rounds: DataLoader[str, audit_pb2.InspectionRound | None] = _loader(
            self._inspection_rounds
        )
        #: audit.AuditScheduleEntry by id (AuditService.BatchGetAuditScheduleEntries).
        self.audit_schedule_entries: DataLoader[str, audit_pb2.AuditScheduleEntry | None] = _loader(
            self._audit_schedule_entries
        )
        #: A cadre's schedule entries by person id (AuditService.BatchGetCadreAuditSchedules).
        self.cadre_audit_schedules: DataLoader[str, list[audit_pb2.AuditScheduleEntry]] = _loader(
            self._cadre_audit_schedules
        )

    async def _people(self, ids: list[str]) -> list[talent_pb2.Person | None]:
        talent = self._ctx.clients.talent
        answer = await self._ctx.call(talent.BatchGetPeople, talent_pb2.BatchGetPeopleRequest(ids=ids))
        return by_id(ids, answer.people)

    async def _posts(self, ids: list[str]) -> list[talent_pb2.Post | None]:
        talent = self._ctx.clients.talent
        answer = await self._ctx.call(talent.BatchGetPosts, talent_pb2.BatchGetPostsRequest(ids=ids))
        return by_id(ids, answer.posts)

    async def _qualification_reviews(self, ids: list[str]) -> list[talent_pb2.QualificationReview | None]:
        talent = self._ctx.clients.talent
        answer = await self._ctx.call(
            talent.BatchGetQualificationReviews, talent_pb2.BatchGetQualificationReviewsRequest(ids=ids)
        )
        return by_id(ids, answer.reviews)

    async def _reserve_candidates(self, ids: list[str]) -> list[talent_pb2.ReserveCandidate | None]:
        talent = self._ctx.clients.talent
        answer = await self._ctx.call(
            talent.BatchGetReserveCandidates, talent_pb2.BatchGetReserveCandidatesRequest(ids=ids)
        )
        return by_id(ids, answer.candidates)

    async def _training_courses(self, ids: list[str]) -> list[talent_pb2.TrainingCourse | None]:
        talent = self._ctx.clients.talent
        answer = await self._ctx.call(
            talent.BatchGetTrainingCourses, talent_pb2.BatchGetTrainingCoursesRequest(ids=ids)
        )
        return by_id(ids, answer.courses)

    async def _assessments(self, ids: list[str]) -> list[talent_pb2.Assessment | None]:
        talent = self._ctx.clients.talent
        answer = await self._ctx.call(
            talent.BatchGetAssessments, talent_pb2.BatchGetAssessmentsRequest(ids=ids)
        )
        return by_id(ids, answer.assessments)

    async def _posts_of_people(self, person_ids: list[str]) -> list[list[talent_pb2.Post] | BaseException]:
        talent = self._ctx.clients.talent

        async def walk(person_id: str) -> list[talent_pb2.Post]:
            posts: list[talent_pb2.Post] = []
            token = ""
            for _ in range(WALK_MAX_PAGES):
                answer = await self._ctx.call(
                    talent.ListPosts,
                    talent_pb2.ListPostsRequest(
                        person_id=person_id,
                        page=paging_pb2.PageRequest(page_size=WALK_PAGE_SIZE, page_token=token),
                    ),
                )
                posts.extend(answer.posts)
                token = answer.page_info.next_page_token
                if not token:
                    break
            return posts

        return await _each(person_ids, walk)

    async def _households(self, ids: list[str]) -> list[points_pb2.Household | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(
            points.BatchGetHouseholds, points_pb2.BatchGetHouseholdsRequest(ids=ids)
        )
        return by_id(ids, answer.households)

    async def _points_accounts(self, ids: list[str]) -> list[points_pb2.Account | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(points.BatchGetAccounts, points_pb2.BatchGetAccountsRequest(ids=ids))
        return by_id(ids, answer.accounts)

    async def _points_accounts_by_subject(
        self, keys: list[tuple[int, str]]
    ) -> list[points_pb2.Account | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(points.BatchGetAccounts, points_pb2.BatchGetAccountsRequest(
            subjects=[points_pb2.SubjectRef(kind=k, id=i) for k, i in keys]))  # type: ignore[arg-type]
        found = {(a.subject.kind, a.subject.id): a for a in answer.accounts}
        return [found.get(k) for k in keys]

    async def _points_schemes(self, ids: list[str]) -> list[points_pb2.Scheme | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(points.BatchGetSchemes, points_pb2.BatchGetSchemesRequest(ids=ids))
        return by_id(ids, answer.schemes)

    async def _points_rules_in_force(
        self, keys: list[tuple[str, str]]
    ) -> list[points_pb2.RulesInForce | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(
            points.BatchGetRulesInForce,
            points_pb2.BatchGetRulesInForceRequest(
                keys=[points_pb2.RulesInForceKey(scheme_id=s, on_date=d) for s, d in keys]
            ),
        )
        index = {(r.scheme_id, r.on_date): r for r in answer.rules}
        return [index.get(k) for k in keys]

    async def _points_template_comparisons(
        self, keys: list[tuple[str, str]]
    ) -> list[points_pb2.SchemeTemplateComparison | None]:
        points = self._ctx.clients.points
        index: dict[tuple[str, str], points_pb2.SchemeTemplateComparison] = {}
        for day in dict.fromkeys(d for _, d in keys):
            answer = await self._ctx.call(
                points.BatchCompareSchemesWithTemplate,
                points_pb2.BatchCompareSchemesWithTemplateRequest(
                    scheme_ids=[i for i, d in keys if d == day], on_date=day
                ),
            )
            index.update(((c.scheme_id, day), c) for c in answer.comparisons)
        return [index.get(k) for k in keys]

    async def _points_entries(self, ids: list[str]) -> list[points_pb2.Entry | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(points.BatchGetEntries, points_pb2.BatchGetEntriesRequest(ids=ids))
        return by_id(ids, answer.entries)

    async def _points_lots(self, keys: list[tuple[str, bool]]) -> list[list[points_pb2.Lot] | BaseException]:
        points = self._ctx.clients.points

        async def lots(key: tuple[str, bool]) -> list[points_pb2.Lot]:
            account_id, spent = key
            answer = await self._ctx.call(
                points.ListLots, points_pb2.ListLotsRequest(account_id=account_id, include_spent=spent)
            )
            return list(answer.lots)

        return await _each(keys, lots)

    async def _points_statements(
        self, keys: list[StatementKey]
    ) -> list[points_pb2.GetStatementResponse | BaseException]:
        points = self._ctx.clients.points

        async def statement(key: StatementKey) -> points_pb2.GetStatementResponse:
            account_id, from_date, to_date, size, token = key
            return await self._ctx.call(points.GetStatement, points_pb2.GetStatementRequest(
                account_id=account_id, from_date=from_date, to_date=to_date,
                page=paging_pb2.PageRequest(page_size=size, page_token=token),
            ))

        return await _each(keys, statement)

    async def _points_scheme_versions(
        self, scheme_ids: list[str]
    ) -> list[list[points_pb2.SchemeVersion] | BaseException]:
        points = self._ctx.clients.points

        async def versions(scheme_id: str) -> list[points_pb2.SchemeVersion]:
            answer = await self._ctx.call(
                points.ListSchemeVersions, points_pb2.ListSchemeVersionsRequest(scheme_id=scheme_id)
            )
            return list(answer.versions)

        return await _each(scheme_ids, versions)

    async def _points_scheme_versions_by_id(
        self, ids: list[str]
    ) -> list[points_pb2.SchemeVersion | BaseException | None]:
        points = self._ctx.clients.points

        async def version(version_id: str) -> points_pb2.SchemeVersion | None:
            answer = await _or_none(self._ctx.call(
                points.GetSchemeVersion, points_pb2.GetSchemeVersionRequest(id=version_id)))
            return answer.version if answer is not None else None

        return await _each(ids, version)

    async def _points_batches(self, ids: list[str]) -> list[points_pb2.Batch | BaseException | None]:
        points = self._ctx.clients.points

        async def batch(batch_id: str) -> points_pb2.Batch | None:
            answer = await _or_none(self._ctx.call(points.GetBatch, points_pb2.GetBatchRequest(id=batch_id)))
            return answer.batch if answer is not None else None

        return await _each(ids, batch)

    async def _points_claims(self, ids: list[str]) -> list[points_pb2.Claim | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(points.BatchGetClaims, points_pb2.BatchGetClaimsRequest(ids=ids))
        return by_id(ids, answer.claims)

    async def _points_goods(self, ids: list[str]) -> list[points_pb2.Goods | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(points.BatchGetGoods, points_pb2.BatchGetGoodsRequest(ids=ids))
        return by_id(ids, answer.goods)

    async def _points_redemptions(self, ids: list[str]) -> list[points_pb2.Redemption | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(
            points.BatchGetRedemptions, points_pb2.BatchGetRedemptionsRequest(ids=ids)
        )
        return by_id(ids, answer.redemptions)

    async def _representative_honours(
        self, ids: list[str]
    ) -> list[points_pb2.RepresentativeHonour | None]:
        points = self._ctx.clients.points
        answer = await self._ctx.call(
            points.BatchGetRepresentativeHonours,
            points_pb2.BatchGetRepresentativeHonoursRequest(ids=ids),
        )
        return by_id(ids, answer.honours)

    async def _list_items(self, ids: list[str]) -> list[lists_pb2.ListItem | None]:
        lists = self._ctx.clients.lists
        answer = await self._ctx.call(lists.BatchGetListItems, lists_pb2.BatchGetListItemsRequest(ids=ids))
        return by_id(ids, answer.items)

    async def _inspection_rounds(self, ids: list[str]) -> list[audit_pb2.InspectionRound | None]:
        audit = self._ctx.clients.audit
        answer = await self._ctx.call(
            audit.BatchGetInspectionRounds, audit_pb2.BatchGetInspectionRoundsRequest(ids=ids)
        )
        return by_id(ids, answer.rounds)

    async def _audit_schedule_entries(self, ids: list[str]) -> list[audit_pb2.AuditScheduleEntry | None]:
        audit = self._ctx.clients.audit
        answer = await self._ctx.call(
            audit.BatchGetAuditScheduleEntries,
            audit_pb2.BatchGetAuditScheduleEntriesRequest(ids=ids),
        )
        return by_id(ids, answer.entries)

    async def _cadre_audit_schedules(self, person_ids: list[str]) -> list[list[audit_pb2.AuditScheduleEntry]]:
        audit = self._ctx.clients.audit
        answer = await self._ctx.call(
            audit.BatchGetCadreAuditSchedules,
            audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=person_ids),
        )
        schedules = {s.cadre_person_id: list(s.entries) for s in answer.schedules}
        return [schedules.get(p, []) for p in person_ids]


def context_getter(connection: HTTPConnection) -> GatewayContext:
    """FastAPI dependency building the context of one GraphQL request."""
    state = connection.app.state
    return GatewayContext(
        clients=state.clients,
        verifier=state.verifier,
        authorization=connection.headers.get("authorization"),
    )
