"""Schemes (积分方案) over gRPC: draft → publicised → adopted → superseded, the rules of any
past day, county templates and where villages depart from them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import grpc
import pytest
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_points.clock import CHINA

pytestmark = pytest.mark.postgres


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), CHINA).astimezone(UTC)


async def fails(call: Any, request: Any, code: grpc.StatusCode, field: str, metadata: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(request, metadata=metadata)
    assert err.value.code() == code, err.value.details()
    assert field in [f for f, _ in rpc_error_details(err.value)], err.value.details()


async def test_a_scheme_goes_from_draft_to_adopted_and_later_versions_supersede_it(pk: Any) -> None:
    village, md = pk.village(), pk.ADMIN
    pk.clock.set(at(date(2025, 1, 5)))
    made = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=village, year=2025, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
        title="东关村2025年家庭积分方案", settings=P.SchemeSettings(comment_days=7),
        items=list(pk.DEFAULT_ITEMS)), metadata=md)
    draft = made.draft
    assert (draft.version, draft.status, len(draft.items)) == (1, P.SCHEME_VERSION_STATUS_DRAFT, 3)
    assert draft.settings.claim_publicity_days == 7 and not made.scheme.HasField("current_version")
    # A draft cannot be adopted; a publicised version waits for its comment period.
    await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=draft.id, resolution=pk.resolution(date(2025, 1, 5))),
        grpc.StatusCode.FAILED_PRECONDITION, "version_id", md)
    edited = await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=draft.id, settings=P.SchemeSettings(comment_days=7),
        items=[*pk.DEFAULT_ITEMS, pk.item("XL-01", 8, category=P.ITEM_CATEGORY_FILIAL_PIETY)],
        change_note="增加孝老爱亲事项"), metadata=md)
    assert [i.code for i in edited.draft.items] == ["HJ-01", "ZY-01", "YF-01", "XL-01"]
    shown = await pk.stub.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
        request_id=pk.rid(), version_id=draft.id), metadata=md)
    assert (shown.version.status, shown.version.comment_ends_on) == (
        P.SCHEME_VERSION_STATUS_PUBLICIZED, "2025-01-12")
    board = await pk.stub.GetPublicityBoard(P.GetPublicityBoardRequest(region_code=village), metadata=md)
    assert [v.id for v in board.schemes_for_comment] == [draft.id]
    await fails(pk.stub.UpdateSchemeDraft, P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=draft.id, items=list(pk.DEFAULT_ITEMS)),
        grpc.StatusCode.FAILED_PRECONDITION, "version_id", md)
    pk.clock.set(at(date(2025, 1, 15)))
    await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=draft.id, resolution=pk.resolution(date(2025, 1, 10))),
        grpc.StatusCode.INVALID_ARGUMENT, "resolution.meeting_date", md)
    few = pk.resolution(date(2025, 1, 15))
    few.attendees = 15
    await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=draft.id, resolution=few),
        grpc.StatusCode.INVALID_ARGUMENT, "resolution.attendees", md)
    adopted = (await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=draft.id, resolution=pk.resolution(date(2025, 1, 15))),
        metadata=md)).version
    assert (adopted.status, adopted.effective_from, adopted.effective_to) == (
        P.SCHEME_VERSION_STATUS_ADOPTED, "2025-01-15", "")
    assert adopted.resolution.attendees == 25 and adopted.adopted_by == "tester"

    # Version 2 lowers the courtyard item and takes effect in May.
    pk.clock.set(at(date(2025, 4, 1)))
    v2 = (await pk.stub.DraftSchemeVersion(P.DraftSchemeVersionRequest(
        request_id=pk.rid(), scheme_id=made.scheme.id, change_note="调整分值"), metadata=md)).draft
    assert v2.version == 2 and [i.code for i in v2.items] == ["HJ-01", "ZY-01", "YF-01", "XL-01"]
    await fails(pk.stub.DraftSchemeVersion, P.DraftSchemeVersionRequest(
        request_id=pk.rid(), scheme_id=made.scheme.id, change_note="again"),
        grpc.StatusCode.FAILED_PRECONDITION, "scheme_id", md)
    await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=v2.id, settings=P.SchemeSettings(comment_days=7),
        items=[pk.item("HJ-01", 3, name="庭院整洁"), *pk.DEFAULT_ITEMS[1:]]), metadata=md)
    await pk.stub.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id), metadata=md)
    pk.clock.set(at(date(2025, 4, 20)))
    await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 4, 20)),
        effective_from="2025-05-01"), metadata=md)
    pk.clock.set(at(date(2025, 6, 18)))
    versions = (await pk.stub.ListSchemeVersions(P.ListSchemeVersionsRequest(
        scheme_id=made.scheme.id), metadata=md)).versions
    assert [(v.version, v.status, v.effective_from, v.effective_to) for v in versions] == [
        (1, P.SCHEME_VERSION_STATUS_SUPERSEDED, "2025-01-15", "2025-04-30"),
        (2, P.SCHEME_VERSION_STATUS_ADOPTED, "2025-05-01", "")]

    async def points_on(day: str) -> tuple[int, int]:
        rules = await pk.stub.GetRulesInForce(P.GetRulesInForceRequest(
            scheme_id=made.scheme.id, on_date=day), metadata=md)
        return rules.version.version, next(i.points for i in rules.items_in_force if i.code == "HJ-01")

    assert await points_on("2025-03-01") == (1, 5)
    assert await points_on("2025-04-30") == (1, 5)
    assert await points_on("2025-05-01") == (2, 3)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points_on("2025-01-14")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    scheme = (await pk.stub.GetScheme(P.GetSchemeRequest(id=made.scheme.id), metadata=md)).scheme
    assert scheme.current_version.version == 2 and scheme.latest_version == 2

    # Awards use the rules of the day the thing happened.
    home = await pk.household(village)
    march = await pk.award(pk.ref(home), made.scheme.id, "HJ-01", occurred_on=date(2025, 3, 1))
    june = await pk.award(pk.ref(home), made.scheme.id, "HJ-01", occurred_on=date(2025, 6, 1))
    assert (march.amount, june.amount) == (5, 3)
    await fails(pk.stub.AwardPoints, P.AwardPointsRequest(
        request_id=pk.rid(), subject=pk.ref(home), scheme_id=made.scheme.id, item_code="HJ-01",
        occurred_on="2025-01-10", reason="x"), grpc.StatusCode.FAILED_PRECONDITION, "occurred_on", md)


async def test_an_item_applies_only_within_its_effective_dates(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, items=(
        pk.item("QY-01", 4, effective_from="2025-03-01", effective_to="2025-03-31"),))
    home = await pk.household(village)
    assert (await pk.award(pk.ref(home), scheme.id, "QY-01", occurred_on=date(2025, 3, 31))).amount == 4
    for day in ("2025-02-28", "2025-04-01"):
        await fails(pk.stub.AwardPoints, P.AwardPointsRequest(
            request_id=pk.rid(), subject=pk.ref(home), scheme_id=scheme.id, item_code="QY-01",
            occurred_on=day, reason="x"), grpc.StatusCode.INVALID_ARGUMENT, "occurred_on", pk.ADMIN)


async def test_villages_copy_a_county_template_and_the_county_sees_their_departures(pk: Any) -> None:
    county_md = auth_metadata(pk.COUNTY, roles=("county_officer",), subject="county")
    template = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=f"{pk.COUNTY}000000", year=2025, is_template=True,
        subject_kind=P.SUBJECT_KIND_PARTY_MEMBER, title="县党员积分模板",
        items=[pk.item("DY-01", 5, category=P.ITEM_CATEGORY_PARTY_DUTY, name="按时参加三会一课"),
               pk.item("DY-02", 10, category=P.ITEM_CATEGORY_PARTY_DUTY, name="带头志愿服务"),
               pk.item("DY-09", 5, sign=P.ITEM_SIGN_NEGATIVE, category=P.ITEM_CATEGORY_PARTY_DUTY,
                       name="无故缺席组织生活")]), metadata=county_md)
    village = pk.village()
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk")
    seen = await pk.stub.GetScheme(P.GetSchemeRequest(id=template.scheme.id), metadata=clerk)
    assert seen.scheme.is_template
    copy = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=village, year=2025, subject_kind=P.SUBJECT_KIND_PARTY_MEMBER,
        title="本村党员积分方案", template_scheme_id=template.scheme.id), metadata=clerk)
    assert copy.scheme.template_scheme_id == template.scheme.id
    assert all(i.template_item_id for i in copy.draft.items) and len(copy.draft.items) == 3
    same = await pk.stub.CompareSchemeWithTemplate(P.CompareSchemeWithTemplateRequest(
        scheme_id=copy.scheme.id), metadata=county_md)
    assert list(same.departures) == []
    await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=copy.draft.id,
        items=[pk.item("DY-01", 5, category=P.ITEM_CATEGORY_PARTY_DUTY, name="按时参加三会一课"),
               pk.item("DY-02", 12, category=P.ITEM_CATEGORY_PARTY_DUTY, name="带头志愿服务",
                       per_month=1),
               pk.item("CUN-1", 3, category=P.ITEM_CATEGORY_VILLAGE_RULES, name="遵守村规民约")]),
        metadata=clerk)
    diff = await pk.stub.CompareSchemeWithTemplate(P.CompareSchemeWithTemplateRequest(
        scheme_id=copy.scheme.id), metadata=county_md)
    assert {(d.code, d.kind, tuple(d.fields)) for d in diff.departures} == {
        ("DY-02", P.DEPARTURE_KIND_CHANGED, ("points", "limits.per_month")),
        ("DY-09", P.DEPARTURE_KIND_REMOVED, ()),
        ("CUN-1", P.DEPARTURE_KIND_ADDED, ())}
    # A template is not publicised or scored; a village clerk cannot issue one.
    await fails(pk.stub.PublicizeSchemeVersion, P.PublicizeSchemeVersionRequest(
        request_id=pk.rid(), version_id=template.draft.id), grpc.StatusCode.FAILED_PRECONDITION,
        "version_id", county_md)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.CreateScheme(P.CreateSchemeRequest(
            request_id=pk.rid(), region_code=f"{village[:9]}000", year=2025, is_template=True,
            subject_kind=P.SUBJECT_KIND_PERSON, title="x", items=[pk.item("A", 1)]), metadata=clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_one_scheme_per_village_year_and_kind(pk: Any) -> None:
    village = pk.village()
    await pk.scheme(village)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.scheme(village)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    other = await pk.scheme(village, kind=P.SUBJECT_KIND_PERSON)
    listed = await pk.stub.ListSchemes(P.ListSchemesRequest(region_code_prefix=village), metadata=pk.ADMIN)
    assert other.id in {s.id for s in listed.schemes} and len(listed.schemes) == 2
    batch = await pk.stub.BatchGetSchemes(P.BatchGetSchemesRequest(ids=[other.id]), metadata=pk.ADMIN)
    assert batch.schemes[0].current_version.effective_from == "2025-01-01"


async def test_a_village_clerk_sees_only_its_own_schemes(pk: Any) -> None:
    mine, theirs = pk.village(), pk.village()
    await pk.scheme(mine)
    other = await pk.scheme(theirs)
    clerk = auth_metadata(mine, roles=("village_clerk",), subject="clerk")
    await fails(pk.stub.GetScheme, P.GetSchemeRequest(id=other.id), grpc.StatusCode.PERMISSION_DENIED,
                "id", clerk)
    listed = await pk.stub.ListSchemes(P.ListSchemesRequest(), metadata=clerk)
    assert {s.region_code for s in listed.schemes} == {mine}
    await fails(pk.stub.DraftSchemeVersion, P.DraftSchemeVersionRequest(
        request_id=pk.rid(), scheme_id=other.id, change_note="x"), grpc.StatusCode.PERMISSION_DENIED,
        "scheme_id", clerk)


async def test_adoption_dates_must_move_forward(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, effective_from=date(2025, 3, 1))
    pk.clock.set(at(date(2025, 5, 1)))
    v2 = (await pk.stub.DraftSchemeVersion(P.DraftSchemeVersionRequest(
        request_id=pk.rid(), scheme_id=scheme.id, change_note="修订"), metadata=pk.ADMIN)).draft
    await pk.stub.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id), metadata=pk.ADMIN)
    pk.clock.advance(timedelta(days=3))
    await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 3)),
        effective_from="2025-05-02"), grpc.StatusCode.INVALID_ARGUMENT, "effective_from", pk.ADMIN)
    await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 3)),
        effective_from="2026-01-01"), grpc.StatusCode.INVALID_ARGUMENT, "effective_from", pk.ADMIN)
