"""Schemes (积分方案), their versions and items (正负积分清单), and county templates (模板)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.auth import Caller
from shanzhi_kit.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Validator
from shanzhi_kit.paging import page_of
from shanzhi_kit.regions import code_problem, is_village_code, scope_prefix
from shanzhi_kit.values import MAX_BATCH, batch_ids, format_date, new_id, parse_date, require_id
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain, rules
from shanzhi_points.api.base import ApiBase
from shanzhi_points.errors import refused, require_scope, unknown
from shanzhi_points.messages import (
    item_message,
    item_rule,
    name_of,
    rule_message,
    scheme_message,
    version_message,
)
from shanzhi_points.repository import (
    IN_FORCE,
    OPEN_VERSION,
    PointsRepository,
)

DRAFT = points_pb2.SCHEME_VERSION_STATUS_DRAFT
PUBLICIZED = points_pb2.SCHEME_VERSION_STATUS_PUBLICIZED
ADOPTED = points_pb2.SCHEME_VERSION_STATUS_ADOPTED
SUPERSEDED = points_pb2.SCHEME_VERSION_STATUS_SUPERSEDED
STATUS = points_pb2.SchemeVersionStatus


def visible(caller: Caller, region_code: str, is_template: bool) -> bool:
    """A caller sees the schemes in its scope, and the templates of the regions above it."""
    if caller.scope.covers(region_code):
        return True
    prefix = caller.scope.prefix
    return is_template and prefix is not None and prefix.startswith(scope_prefix(region_code))


def in_force(versions: Sequence[Row[Any]], day: date) -> Row[Any] | None:
    for v in versions:
        if v.status in IN_FORCE and v.effective_from is not None and v.effective_from <= day and (
                v.effective_to is None or day <= v.effective_to):
            return v
    return None


async def rules_in_force(repo: PointsRepository, asked: Sequence[tuple[Row[Any], date]]
                         ) -> list[points_pb2.RulesInForce]:
    """The rules of each scheme in force on its day (某日施行的规则), in the order asked;
    a day with no version in force is left out. Two queries however many are asked."""
    versions = await repo.versions_of(list({scheme.id for scheme, _ in asked}))
    found = [(scheme, day, in_force(versions.get(scheme.id, []), day)) for scheme, day in asked]
    items = await repo.items_of(list({v.id for _, _, v in found if v is not None}))
    return [points_pb2.RulesInForce(
        scheme_id=scheme.id, on_date=day.isoformat(),
        version=version_message(version, items.get(version.id, [])),
        items_in_force=[item_message(i) for i in items.get(version.id, []) if item_rule(i).in_force(day)])
        for scheme, day, version in found if version is not None]


async def template_comparisons(repo: PointsRepository, village_schemes: Sequence[Row[Any]],
                               day: date | None = None) -> list[points_pb2.SchemeTemplateComparison]:
    """Where each scheme departs from its template's latest version (与模板的差异), in the
    order given: the scheme's latest version, or the one in force on ``day`` (schemes with
    none in force that day are left out). Two queries however many schemes."""
    ids = {i for s in village_schemes for i in (s.id, s.template_scheme_id)}
    versions = await repo.versions_of(list(ids))
    latest = {scheme_id: rows[-1] for scheme_id, rows in versions.items() if rows}
    compared = {s.id: in_force(versions.get(s.id, []), day) if day else latest.get(s.id)
                for s in village_schemes}
    wanted = [v for v in (*compared.values(), *latest.values()) if v is not None]
    items = await repo.items_of(list({v.id for v in wanted}))

    def rules_of(version: Row[Any] | None) -> list[rules.Item]:
        return [item_rule(i) for i in items.get(version.id, [])] if version is not None else []

    out = []
    for scheme in village_schemes:
        version = compared[scheme.id]
        if version is None:
            continue
        diffs = rules.departures(rules_of(latest.get(scheme.template_scheme_id)), rules_of(version))
        out.append(points_pb2.SchemeTemplateComparison(
            scheme_id=scheme.id, template_scheme_id=scheme.template_scheme_id, version=version.version,
            departures=[points_pb2.TemplateDeparture(
                code=d.code, kind=d.kind, fields=list(d.fields),  # type: ignore[arg-type]
                template_item=rule_message(d.template) if d.template else None,
                village_item=rule_message(d.village) if d.village else None) for d in diffs]))
    return out


def settings_values(s: rules.Settings) -> dict[str, Any]:
    return dict(
        claim_publicity_days=s.claim_publicity_days, comment_days=s.comment_days,
        cycle_policy=s.cycle_policy, base_score=s.base_score,
        points_valid_months=s.points_valid_months, red_list_size=s.red_list_size,
        black_list_size=s.black_list_size, black_list_below=s.black_list_below,
        star_thresholds=list(s.star_thresholds),
    )


def settings_of(row: Any) -> dict[str, Any]:
    return {k: getattr(row, k) for k in (
        "claim_publicity_days", "comment_days", "cycle_policy", "base_score", "points_valid_months",
        "red_list_size", "black_list_size", "black_list_below", "star_thresholds")}


def item_values(version_id: str, items: Sequence[rules.Item],
                template_ids: Sequence[str | None] = ()) -> list[dict[str, Any]]:
    template_ids = list(template_ids) or [None] * len(items)
    return [dict(
        id=new_id(), version_id=version_id, position=i, code=it.code, name=it.name,
        category=it.category, sign=it.sign, points=it.points, evidence_required=it.evidence_required,
        limit_per_day=it.limits.per_day, limit_per_week=it.limits.per_week,
        limit_per_month=it.limits.per_month, limit_per_year=it.limits.per_year,
        effective_from=it.effective_from, effective_to=it.effective_to,
        template_item_id=template_ids[i],
    ) for i, it in enumerate(items)]


class SchemesApi(ApiBase):
    # -- reading ------------------------------------------------------------------------

    async def _scheme_messages(self, repo: PointsRepository, rows: Sequence[Row[Any]]
                               ) -> list[points_pb2.Scheme]:
        ids = [r.id for r in rows]
        versions = await repo.versions_of(ids)
        today = self._clock.today()
        current = {i: in_force(versions.get(i, []), today) for i in ids}
        items = await repo.items_of([v.id for v in current.values() if v is not None])
        closed = await repo.closed_schemes(ids)
        out = []
        for r in rows:
            v = current[r.id]
            out.append(scheme_message(
                r, version_message(v, items.get(v.id, [])) if v is not None else None,
                max((x.version for x in versions.get(r.id, [])), default=0), r.id in closed))
        return out

    async def _visible_scheme(self, repo: PointsRepository, scheme_id: str, *,
                              lock: bool = False, field: str = "scheme_id") -> Row[Any]:
        row = await repo.scheme(scheme_id, lock=lock)
        if row is None:
            raise NotFound("scheme", scheme_id, field)
        if not visible(self._caller(), row.region_code, row.is_template):
            require_scope(self._caller().scope, row.region_code, field)
        return row

    async def _version_message(self, repo: PointsRepository, row: Row[Any] | None
                               ) -> points_pb2.SchemeVersion:
        assert row is not None
        items = await repo.items_of([row.id])
        return version_message(row, items.get(row.id, []))

    async def GetScheme(
        self, request: points_pb2.GetSchemeRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetSchemeResponse:
        scheme_id = require_id(request.id)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            row = await self._visible_scheme(repo, scheme_id, field="id")
            return points_pb2.GetSchemeResponse(scheme=(await self._scheme_messages(repo, [row]))[0])

    async def BatchGetSchemes(
        self, request: points_pb2.BatchGetSchemesRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetSchemesResponse:
        ids = batch_ids(request.ids)
        caller = self._caller()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.schemes_by_ids(ids)
            found = [rows[i] for i in ids
                     if i in rows and visible(caller, rows[i].region_code, rows[i].is_template)]
            return points_pb2.BatchGetSchemesResponse(schemes=await self._scheme_messages(repo, found))

    async def ListSchemes(
        self, request: points_pb2.ListSchemesRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListSchemesResponse:
        page = page_of(request.page)
        v = Validator()
        domain.check_year_filter(v, request.year)
        domain.check_filter(v, "subject_kind", request.subject_kind, domain.SUBJECT_KINDS, "a SubjectKind")
        v.raise_if_any()
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListSchemesResponse()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.list_schemes(prefix, request.year, request.subject_kind, page)
            return points_pb2.ListSchemesResponse(
                schemes=await self._scheme_messages(repo, rows[: page.size]),
                page_info=page.info(rows, lambda r: [r.id]))

    async def GetSchemeVersion(
        self, request: points_pb2.GetSchemeVersionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetSchemeVersionResponse:
        version_id = require_id(request.id)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            row = await repo.version(version_id)
            if row is None:
                raise NotFound("scheme version", version_id, "id")
            await self._visible_scheme(repo, row.scheme_id, field="id")
            return points_pb2.GetSchemeVersionResponse(version=await self._version_message(repo, row))

    async def ListSchemeVersions(
        self, request: points_pb2.ListSchemeVersionsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListSchemeVersionsResponse:
        scheme_id = require_id(request.scheme_id, "scheme_id")
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            await self._visible_scheme(repo, scheme_id)
            versions = (await repo.versions_of([scheme_id])).get(scheme_id, [])
            items = await repo.items_of([v.id for v in versions])
        return points_pb2.ListSchemeVersionsResponse(
            versions=[version_message(v, items.get(v.id, [])) for v in versions])

    async def GetRulesInForce(
        self, request: points_pb2.GetRulesInForceRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetRulesInForceResponse:
        scheme_id = require_id(request.scheme_id, "scheme_id")
        day = parse_date(request.on_date, "on_date", required=False) or self._clock.today()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            scheme = await self._visible_scheme(repo, scheme_id)
            found = await rules_in_force(repo, [(scheme, day)])
        if not found:
            raise NotFound("scheme version in force on", day.isoformat(), "on_date")
        return points_pb2.GetRulesInForceResponse(version=found[0].version,
                                                  items_in_force=found[0].items_in_force)

    async def BatchGetRulesInForce(
        self, request: points_pb2.BatchGetRulesInForceRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetRulesInForceResponse:
        if len(request.keys) > MAX_BATCH:
            raise InvalidArgument.field("keys", f"at most {MAX_BATCH} per call")
        v = Validator()
        keys: list[tuple[str, date]] = []
        for i, key in enumerate(request.keys):
            scheme_id = domain.check_uuid(v, f"keys[{i}].scheme_id", key.scheme_id)
            day = v.date_field(f"keys[{i}].on_date", key.on_date, required=False) or self._clock.today()
            keys.append((scheme_id, day))
        v.raise_if_any()
        caller = self._caller()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.schemes_by_ids(list({scheme_id for scheme_id, _ in keys}))
            asked = [(rows[scheme_id], day) for scheme_id, day in keys if scheme_id in rows
                     and visible(caller, rows[scheme_id].region_code, rows[scheme_id].is_template)]
            return points_pb2.BatchGetRulesInForceResponse(rules=await rules_in_force(repo, asked))

    async def CompareSchemeWithTemplate(
        self, request: points_pb2.CompareSchemeWithTemplateRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.CompareSchemeWithTemplateResponse:
        scheme_id = require_id(request.scheme_id, "scheme_id")
        day = parse_date(request.on_date, "on_date", required=False)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            scheme = await self._visible_scheme(repo, scheme_id)
            if not scheme.template_scheme_id:
                raise refused("scheme_id", "the scheme was not copied from a template")
            found = await template_comparisons(repo, [scheme], day)
        if not found:
            assert day is not None
            raise NotFound("scheme version in force on", day.isoformat(), "on_date")
        return points_pb2.CompareSchemeWithTemplateResponse(
            template_scheme_id=found[0].template_scheme_id, departures=found[0].departures,
            version=found[0].version)

    async def BatchCompareSchemesWithTemplate(
        self, request: points_pb2.BatchCompareSchemesWithTemplateRequest,
        context: grpc.aio.ServicerContext,
    ) -> points_pb2.BatchCompareSchemesWithTemplateResponse:
        ids = batch_ids(request.scheme_ids, "scheme_ids")
        day = parse_date(request.on_date, "on_date", required=False)
        caller = self._caller()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.schemes_by_ids(ids)
            found = [rows[i] for i in ids if i in rows and rows[i].template_scheme_id
                     and visible(caller, rows[i].region_code, rows[i].is_template)]
            return points_pb2.BatchCompareSchemesWithTemplateResponse(
                comparisons=await template_comparisons(repo, found, day))

    # -- writing ------------------------------------------------------------------------

    async def CreateScheme(
        self, request: points_pb2.CreateSchemeRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.CreateSchemeResponse:
        caller = self._caller()
        v = Validator()
        code = request.region_code
        problem = code_problem(code)
        if problem:
            v.add("region_code", problem)
        elif request.is_template and is_village_code(code):
            v.add("region_code", "a template belongs to a county or township code, not a village")
        elif not request.is_template and not is_village_code(code):
            v.add("region_code", "must be a village code: township and village digits set")
        v.check(rules.MIN_YEAR <= request.year <= rules.MAX_YEAR, "year",
                f"must be between {rules.MIN_YEAR} and {rules.MAX_YEAR}")
        v.check(request.subject_kind in domain.SUBJECT_KINDS, "subject_kind", "must be a SubjectKind")
        title = request.title.strip()
        v.require("title", title)
        v.check(len(title) <= rules.MAX_TITLE, "title", f"must be at most {rules.MAX_TITLE} characters")
        template_id = ""
        if request.template_scheme_id:
            template_id = domain.check_uuid(v, "template_scheme_id", request.template_scheme_id)
            v.check(not request.items, "items", "leave empty when copying from a template")
            v.check(not request.HasField("settings"), "settings",
                    "leave empty when copying from a template")
            v.check(not request.is_template, "template_scheme_id", "a template is not copied from one")
            settings, items = None, []
        else:
            settings = rules.check_settings(v, "settings", request.settings, request.subject_kind)
            items = rules.check_items(v, "items", request.items, request.year)
        v.raise_if_any()
        if not problem:
            require_scope(caller.scope, code, "region_code")
        caller.require_role(*(domain.TEMPLATE_ROLES if request.is_template else domain.MANAGER_ROLES))

        async def work(session: AsyncSession) -> points_pb2.CreateSchemeResponse:
            repo = PointsRepository(session)
            if await repo.scheme_taken(code, request.year, request.subject_kind):
                raise AlreadyExists.about("year", f"village {code} already has a {request.year} scheme for "
                                          f"{name_of(points_pb2.SubjectKind, request.subject_kind)}")
            scheme_id, version_id, now = new_id(), new_id(), self._clock.now()
            values: dict[str, Any]
            item_rows: list[dict[str, Any]]
            if template_id:
                template = await repo.scheme(template_id)
                if template is None or not template.is_template:
                    raise unknown("template_scheme_id", "no template has this id")
                if not visible(caller, template.region_code, True):
                    # Another county's template: the caller may not see it, nor learn its region.
                    raise PermissionDenied.about("template_scheme_id", "the template is outside the "
                                                 "caller's scope")
                if not code.startswith(scope_prefix(template.region_code)):
                    raise refused("template_scheme_id",
                                  f"the template of {template.region_code} does not cover village {code}")
                if template.subject_kind != request.subject_kind:
                    raise refused("template_scheme_id", "the template scores another kind of subject")
                latest = (await repo.versions_of([template.id]))[template.id][-1]
                source = (await repo.items_of([latest.id])).get(latest.id, [])
                values = settings_of(latest)
                item_rows = item_values(version_id, [item_rule(i) for i in source],
                                        [i.id for i in source])
            else:
                assert settings is not None
                values = settings_values(settings)
                item_rows = item_values(version_id, items)
            row = dict(id=scheme_id, region_code=code, year=request.year,
                       subject_kind=request.subject_kind, title=title,
                       is_template=request.is_template, template_scheme_id=template_id or None,
                       created_at=now, created_by=caller.subject)
            try:
                async with session.begin_nested():
                    await repo.add_scheme(**row)
            except IntegrityError:
                raise AlreadyExists.about("year", f"village {code} already has this scheme") from None
            await repo.add_version(id=version_id, scheme_id=scheme_id, version=1, status=DRAFT,
                                   change_note="", created_at=now, created_by=caller.subject, **values)
            await repo.add_items(item_rows)
            scheme = await repo.scheme(scheme_id)
            assert scheme is not None
            draft = await repo.version(version_id)
            return points_pb2.CreateSchemeResponse(
                scheme=(await self._scheme_messages(repo, [scheme]))[0],
                draft=await self._version_message(repo, draft))

        return await self._write("CreateScheme", request, points_pb2.CreateSchemeResponse, work)

    async def DraftSchemeVersion(
        self, request: points_pb2.DraftSchemeVersionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.DraftSchemeVersionResponse:
        caller = self._caller()
        v = Validator()
        scheme_id = domain.check_uuid(v, "scheme_id", request.scheme_id)
        note = domain.reason_text(v, "change_note", request.change_note)
        v.raise_if_any()

        async def work(session: AsyncSession) -> points_pb2.DraftSchemeVersionResponse:
            repo = PointsRepository(session)
            scheme = await self._writable_scheme(repo, scheme_id, caller)
            versions = (await repo.versions_of([scheme_id]))[scheme_id]
            still_open = [x for x in versions if x.status in OPEN_VERSION]
            if still_open:
                raise refused("scheme_id", f"version {still_open[0].version} is still "
                              f"{name_of(STATUS, still_open[0].status)}: finish it first")
            latest = versions[-1]
            source = (await repo.items_of([latest.id])).get(latest.id, [])
            version_id, now = new_id(), self._clock.now()
            await repo.add_version(id=version_id, scheme_id=scheme.id, version=latest.version + 1,
                                   status=DRAFT, change_note=note, created_at=now,
                                   created_by=caller.subject, **settings_of(latest))
            await repo.add_items(item_values(version_id, [item_rule(i) for i in source],
                                             [i.template_item_id for i in source]))
            draft = await repo.version(version_id)
            return points_pb2.DraftSchemeVersionResponse(draft=await self._version_message(repo, draft))

        return await self._write("DraftSchemeVersion", request,
                                 points_pb2.DraftSchemeVersionResponse, work)

    async def _writable_scheme(self, repo: PointsRepository, scheme_id: str, caller: Caller,
                               field: str = "scheme_id") -> Row[Any]:
        scheme = await repo.scheme(scheme_id, lock=True)
        if scheme is None:
            raise NotFound("scheme", scheme_id, field)
        require_scope(caller.scope, scheme.region_code, field)
        caller.require_role(*(domain.TEMPLATE_ROLES if scheme.is_template else domain.MANAGER_ROLES))
        return scheme

    async def _writable_version(self, repo: PointsRepository, version_id: str, caller: Caller,
                                status: int) -> tuple[Row[Any], Row[Any]]:
        row = await repo.version(version_id)
        if row is None:
            raise NotFound("scheme version", version_id, "version_id")
        scheme = await self._writable_scheme(repo, row.scheme_id, caller, "version_id")
        row = await repo.version(version_id, lock=True)
        assert row is not None
        if row.status != status:
            raise refused("version_id", f"version {row.version} is {name_of(STATUS, row.status)}, "
                          f"not {name_of(STATUS, status)}")
        return scheme, row

    async def UpdateSchemeDraft(
        self, request: points_pb2.UpdateSchemeDraftRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.UpdateSchemeDraftResponse:
        caller = self._caller()
        version_id = require_id(request.version_id, "version_id")

        async def work(session: AsyncSession) -> points_pb2.UpdateSchemeDraftResponse:
            repo = PointsRepository(session)
            scheme, row = await self._writable_version(repo, version_id, caller, DRAFT)
            v = Validator()
            # Without settings the draft keeps its own: an editor of items alone leaves them be.
            settings = (rules.check_settings(v, "settings", request.settings, scheme.subject_kind)
                        if request.HasField("settings") else None)
            items = rules.check_items(v, "items", request.items, scheme.year)
            note = domain.reason_text(v, "change_note", request.change_note, required=False)
            v.raise_if_any()
            old = {i.code: i for i in (await repo.items_of([row.id])).get(row.id, [])}
            await repo.delete_draft_items(row.id)
            await repo.add_items(item_values(row.id, items, [
                old[i.code].template_item_id if i.code in old else None for i in items]))
            await repo.update_version(row.id, change_note=note or row.change_note,
                                      **(settings_values(settings) if settings is not None else {}))
            draft = await repo.version(row.id)
            return points_pb2.UpdateSchemeDraftResponse(draft=await self._version_message(repo, draft))

        return await self._write("UpdateSchemeDraft", request, points_pb2.UpdateSchemeDraftResponse, work)

    async def PublicizeSchemeVersion(
        self, request: points_pb2.PublicizeSchemeVersionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.PublicizeSchemeVersionResponse:
        caller = self._caller()
        version_id = require_id(request.version_id, "version_id")

        async def work(session: AsyncSession) -> points_pb2.PublicizeSchemeVersionResponse:
            repo = PointsRepository(session)
            scheme, row = await self._writable_version(repo, version_id, caller, DRAFT)
            if scheme.is_template:
                raise refused("version_id", "a template is not publicised: villages publicise "
                              "and adopt their copies")
            if not (await repo.items_of([row.id])).get(row.id):
                raise refused("version_id", "the draft has no items")
            now, today = self._clock.now(), self._clock.today()
            ends = today + timedelta(days=row.comment_days)
            await repo.update_version(row.id, status=PUBLICIZED, publicized_at=now,
                                      publicized_by=caller.subject, comment_ends_on=ends)
            await self._outbox.add(session, events_pb2.SchemeVersionPublicizedEvent(
                scheme_id=scheme.id, version_id=row.id, version=row.version,
                region_code=scheme.region_code, comment_ends_on=ends.isoformat()),
                subject=scheme.id, region_code=scheme.region_code)
            updated = await repo.version(row.id)
            return points_pb2.PublicizeSchemeVersionResponse(
                version=await self._version_message(repo, updated))

        return await self._write("PublicizeSchemeVersion", request,
                                 points_pb2.PublicizeSchemeVersionResponse, work)

    @staticmethod
    async def _check_supersedes(repo: PointsRepository, scheme: Row[Any], current: Row[Any],
                                start: date, today: date, field: str) -> None:
        """A version that supersedes an adopted one (方案修订) leaves the past as it was.

        Awards, batch lines and claims are scored under the version in force on the day
        the thing happened, and entries do not record which version that was; so the
        days the superseded version already governs never move to the new one. The new
        version takes effect after the superseded one did, not before the day its
        adoption is recorded (``today``, China time), and not on that day either if
        anything was already scored under the superseded version for it. ``field`` is
        where ``start`` came from: ``effective_from``, or the meeting date by default.
        """
        after = current.effective_from + timedelta(days=1)
        earliest = max(after, today)
        if earliest == today and start <= today and await repo.scored_on(scheme, today):
            earliest = today + timedelta(days=1)
        if start >= earliest:
            return
        if start < after:
            rule = (f"a version takes effect after the one it supersedes, version {current.version}, "
                    f"which took effect on {format_date(current.effective_from)}")
        elif start < today:
            rule = (f"a version that supersedes version {current.version} does not take effect before "
                    f"{format_date(today)}, the day its adoption is recorded, so the rules of past "
                    f"days stay as they were")
        else:
            rule = (f"points are already scored under version {current.version} for "
                    f"{format_date(today)}, so that version stays in force that day")
        if field == "effective_from":
            raise refused(field, f"{rule}: it may take effect on {format_date(earliest)} or later")
        raise refused(field, f"the version would take effect on the meeting day, {format_date(start)}, "
                      f"but {rule}: give effective_from {format_date(earliest)} or later")

    async def AdoptSchemeVersion(
        self, request: points_pb2.AdoptSchemeVersionRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.AdoptSchemeVersionResponse:
        caller = self._caller()
        version_id = require_id(request.version_id, "version_id")

        async def work(session: AsyncSession) -> points_pb2.AdoptSchemeVersionResponse:
            repo = PointsRepository(session)
            scheme, row = await self._writable_version(repo, version_id, caller, PUBLICIZED)
            today = self._clock.today()
            v = Validator()
            resolution = rules.check_resolution(v, "resolution", request.resolution, today,
                                                row.comment_ends_on)
            requested = v.date_field("effective_from", request.effective_from, required=False)
            v.raise_if_any()
            assert resolution is not None
            start = rules.effective_start(requested, resolution.meeting_date, scheme.year)
            if start < resolution.meeting_date:
                raise InvalidArgument.field("effective_from", "must not be before the meeting")
            if start > date(scheme.year, 12, 31):
                raise InvalidArgument.field("effective_from", f"must lie in {scheme.year} at the latest")
            versions = (await repo.versions_of([scheme.id]))[scheme.id]
            current = [x for x in versions if x.status == ADOPTED]
            if current:
                # Scores in progress under the superseded version must finish before the
                # check below, or read the rules again (the accounts' lock and epoch): a
                # version taking effect today governs today's scores, and one taking effect
                # tomorrow may, when "today" turns over while this runs.
                await repo.raise_rules_epoch(scheme.region_code, scheme.subject_kind)
                field = "effective_from" if requested else "resolution.meeting_date"
                await self._check_supersedes(repo, scheme, current[0], start, today, field)
            now = self._clock.now()
            if current:
                await repo.update_version(current[0].id, status=SUPERSEDED, superseded_at=now,
                                          effective_to=start - timedelta(days=1))
            await repo.update_version(
                row.id, status=ADOPTED, meeting_date=resolution.meeting_date,
                representatives_total=resolution.representatives_total,
                attendees=resolution.attendees, votes_for=resolution.votes_for,
                votes_against=resolution.votes_against, votes_abstain=resolution.votes_abstain,
                resolution_number=resolution.number, resolution_note=resolution.note,
                adopted_at=now, adopted_by=caller.subject, effective_from=start)
            await self._outbox.add(session, events_pb2.SchemeVersionAdoptedEvent(
                scheme_id=scheme.id, version_id=row.id, version=row.version,
                region_code=scheme.region_code, effective_from=start.isoformat(),
                superseded_version_id=current[0].id if current else ""),
                subject=scheme.id, region_code=scheme.region_code)
            updated = await repo.version(row.id)
            return points_pb2.AdoptSchemeVersionResponse(version=await self._version_message(repo, updated))

        return await self._write("AdoptSchemeVersion", request, points_pb2.AdoptSchemeVersionResponse,
                                 work)
