"""Schemes (积分方案) over gRPC: draft → publicised → adopted → superseded, the rules of any
past day, county templates and where villages depart from them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import grpc
import pytest
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details, wait_until
from shanzhi_points.api import ledger as ledger_api
from shanzhi_points.api.ledger import LedgerApi
from shanzhi_points.clock import CHINA
from shanzhi_points.repository import PointsRepository
from shanzhi_points.tables import messaging
from sqlalchemy import text

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
    # On the comment period's last day the board still shows it; after it, no longer.
    pk.clock.set(at(date(2025, 1, 12)))
    board = await pk.stub.GetPublicityBoard(P.GetPublicityBoardRequest(region_code=village), metadata=md)
    assert [v.id for v in board.schemes_for_comment] == [draft.id]
    pk.clock.set(at(date(2025, 1, 15)))
    board = await pk.stub.GetPublicityBoard(P.GetPublicityBoardRequest(region_code=village), metadata=md)
    assert list(board.schemes_for_comment) == []
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
    # Many schemes and days in one call, in the order asked; a day with no version in
    # force, an unknown scheme and one outside the caller's scope are left out.
    elsewhere = await pk.scheme(pk.village())
    days = ["2025-03-01", "2025-01-14", "2025-05-01", ""]
    batch = await pk.stub.BatchGetRulesInForce(P.BatchGetRulesInForceRequest(keys=[
        *(P.RulesInForceKey(scheme_id=made.scheme.id, on_date=d) for d in days),
        P.RulesInForceKey(scheme_id=str(uuid.uuid4())),
        P.RulesInForceKey(scheme_id=elsewhere.id, on_date="2025-03-01")]), metadata=md)
    assert [(r.scheme_id, r.on_date, r.version.version) for r in batch.rules] == [
        (made.scheme.id, "2025-03-01", 1), (made.scheme.id, "2025-05-01", 2),
        (made.scheme.id, "2025-06-18", 2), (elsewhere.id, "2025-03-01", 1)]
    one = await pk.stub.GetRulesInForce(P.GetRulesInForceRequest(
        scheme_id=made.scheme.id, on_date="2025-05-01"), metadata=md)
    assert (batch.rules[1].version, list(batch.rules[1].items_in_force)) == (
        one.version, list(one.items_in_force))
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk")
    mine = await pk.stub.BatchGetRulesInForce(P.BatchGetRulesInForceRequest(keys=[
        P.RulesInForceKey(scheme_id=elsewhere.id), P.RulesInForceKey(scheme_id=made.scheme.id)]),
        metadata=clerk)
    assert [r.scheme_id for r in mine.rules] == [made.scheme.id]
    await fails(pk.stub.BatchGetRulesInForce, P.BatchGetRulesInForceRequest(keys=[
        P.RulesInForceKey(scheme_id=made.scheme.id, on_date="2025-13-01")]),
        grpc.StatusCode.INVALID_ARGUMENT, "keys[0].on_date", md)
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
    # A village of another county may not copy it, nor learn where it comes from.
    elsewhere = "139999101201"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.CreateScheme(P.CreateSchemeRequest(
            request_id=pk.rid(), region_code=elsewhere, year=2025, subject_kind=P.SUBJECT_KIND_PARTY_MEMBER,
            title="外县党员积分方案", template_scheme_id=template.scheme.id),
            metadata=auth_metadata(elsewhere, roles=("village_clerk",), subject="clerk-2"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [f for f, _ in rpc_error_details(err.value)] == ["template_scheme_id"]
    assert pk.COUNTY not in (err.value.details() or "")
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
    # The county's overview: every village at once, in the order asked; the template itself
    # and an unknown id are left out, and a clerk sees only their own village.
    other_village = pk.village()
    other = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=other_village, year=2025,
        subject_kind=P.SUBJECT_KIND_PARTY_MEMBER, title="邻村党员积分方案",
        template_scheme_id=template.scheme.id), metadata=pk.ADMIN)
    asked = [other.scheme.id, template.scheme.id, str(uuid.uuid4()), copy.scheme.id]
    overview = await pk.stub.BatchCompareSchemesWithTemplate(
        P.BatchCompareSchemesWithTemplateRequest(scheme_ids=asked), metadata=county_md)
    assert [(c.scheme_id, c.template_scheme_id, len(c.departures)) for c in overview.comparisons] == [
        (other.scheme.id, template.scheme.id, 0), (copy.scheme.id, template.scheme.id, 3)]
    assert list(overview.comparisons[1].departures) == list(diff.departures)
    own = await pk.stub.BatchCompareSchemesWithTemplate(
        P.BatchCompareSchemesWithTemplateRequest(scheme_ids=asked), metadata=clerk)
    assert [c.scheme_id for c in own.comparisons] == [copy.scheme.id]
    await fails(pk.stub.BatchCompareSchemesWithTemplate, P.BatchCompareSchemesWithTemplateRequest(
        scheme_ids=[copy.scheme.id, "x"]), grpc.StatusCode.INVALID_ARGUMENT, "scheme_ids[1]", county_md)
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


async def revised(pk: Any, scheme: P.Scheme, on: date, points: int = 3) -> P.SchemeVersion:
    """Version 2 of ``scheme``, drafted and publicised on ``on``, with the courtyard item
    (HJ-01) worth ``points``; its comment period ends the next day."""
    pk.clock.set(at(on))
    v2 = (await pk.stub.DraftSchemeVersion(P.DraftSchemeVersionRequest(
        request_id=pk.rid(), scheme_id=scheme.id, change_note="调整分值"), metadata=pk.ADMIN)).draft
    await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=v2.id, settings=P.SchemeSettings(comment_days=1),
        items=[pk.item("HJ-01", points, name="庭院整洁"), *pk.DEFAULT_ITEMS[1:]]), metadata=pk.ADMIN)
    return (await pk.stub.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id), metadata=pk.ADMIN)).version


async def history(pk: Any, scheme: P.Scheme) -> list[tuple[int, int, str, str]]:
    versions = (await pk.stub.ListSchemeVersions(P.ListSchemeVersionsRequest(
        scheme_id=scheme.id), metadata=pk.ADMIN)).versions
    return [(v.version, v.status, v.effective_from, v.effective_to) for v in versions]


async def rules_on(pk: Any, scheme: P.Scheme, day: date) -> P.GetRulesInForceResponse:
    return await pk.stub.GetRulesInForce(P.GetRulesInForceRequest(
        scheme_id=scheme.id, on_date=day.isoformat()), metadata=pk.ADMIN)


def courtyard(rules: P.GetRulesInForceResponse) -> tuple[int, int]:
    """The version in force and what the courtyard item (HJ-01) is worth under it."""
    return rules.version.version, next(i.points for i in rules.items_in_force if i.code == "HJ-01")


async def adoption_events(pk: Any, scheme: P.Scheme) -> int:
    return await pk.count(messaging.outbox, messaging.outbox.c.key == scheme.id,
                          messaging.outbox.c.event_type == "shanzhi.points.v1.SchemeVersionAdoptedEvent")


async def test_a_superseding_version_takes_effect_no_earlier_than_the_day_its_adoption_is_recorded(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, effective_from=date(2025, 3, 1))
    home = await pk.household(village)
    april = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 4, 10))
    v2 = await revised(pk, scheme, date(2025, 5, 1))
    # The meeting adopts version 2 on May 3; the clerk records it on May 10.
    pk.clock.set(at(date(2025, 5, 10)))
    before = await history(pk, scheme)
    assert before == [(1, P.SCHEME_VERSION_STATUS_ADOPTED, "2025-03-01", ""),
                      (2, P.SCHEME_VERSION_STATUS_PUBLICIZED, "", "")]
    past = {day: await rules_on(pk, scheme, day) for day in (date(2025, 4, 10), date(2025, 5, 9))}
    events = await adoption_events(pk, scheme)
    meeting = pk.resolution(date(2025, 5, 3))

    await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=meeting, effective_from="2025-05-05"),
        grpc.StatusCode.FAILED_PRECONDITION, "effective_from", pk.ADMIN)
    # Without effective_from the version would start on the meeting day, also in the past.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
            request_id=pk.rid(), version_id=v2.id, resolution=meeting), metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [(field, description)] = rpc_error_details(err.value)
    assert field == "resolution.meeting_date" and "effective_from 2025-05-10" in description
    # Nothing was written: version 1 is still in force, version 2 still publicised.
    assert await history(pk, scheme) == before
    assert await adoption_events(pk, scheme) == events
    assert courtyard(await rules_on(pk, scheme, date(2025, 5, 5))) == (1, 5)

    adopted = (await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=meeting, effective_from="2025-05-10"),
        metadata=pk.ADMIN)).version
    assert (adopted.status, adopted.effective_from, adopted.resolution.meeting_date) == (
        P.SCHEME_VERSION_STATUS_ADOPTED, "2025-05-10", "2025-05-03")
    assert await history(pk, scheme) == [
        (1, P.SCHEME_VERSION_STATUS_SUPERSEDED, "2025-03-01", "2025-05-09"),
        (2, P.SCHEME_VERSION_STATUS_ADOPTED, "2025-05-10", "")]
    assert await adoption_events(pk, scheme) == events + 1
    # The rules of past days are what they were, and still explain what was posted then;
    # only version 1's status and last day changed.
    for day, rules in past.items():
        now = await rules_on(pk, scheme, day)
        assert (now.version.id, now.version.effective_from, list(now.items_in_force)) == (
            rules.version.id, rules.version.effective_from, list(rules.items_in_force))
        assert (now.version.status, now.version.effective_to) == (
            P.SCHEME_VERSION_STATUS_SUPERSEDED, "2025-05-09")
    assert courtyard(past[date(2025, 4, 10)]) == (1, april.amount) == (1, 5)
    assert courtyard(await rules_on(pk, scheme, date(2025, 5, 10))) == (2, 3)
    late = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 9))
    today = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 10))
    assert (late.amount, today.amount) == (5, 3)


async def test_a_superseding_version_may_take_effect_on_a_later_day(pk: Any) -> None:
    scheme = await pk.scheme(pk.village(), effective_from=date(2025, 3, 1))
    v2 = await revised(pk, scheme, date(2025, 5, 1))
    pk.clock.set(at(date(2025, 5, 10)))
    adopted = (await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 3)),
        effective_from="2025-06-01"), metadata=pk.ADMIN)).version
    assert adopted.effective_from == "2025-06-01"
    assert await history(pk, scheme) == [
        (1, P.SCHEME_VERSION_STATUS_SUPERSEDED, "2025-03-01", "2025-05-31"),
        (2, P.SCHEME_VERSION_STATUS_ADOPTED, "2025-06-01", "")]
    assert courtyard(await rules_on(pk, scheme, date(2025, 5, 31))) == (1, 5)
    assert courtyard(await rules_on(pk, scheme, date(2025, 6, 1))) == (2, 3)


async def test_a_superseding_version_starts_the_next_day_once_today_is_scored_under_the_old_one(
        pk: Any) -> None:
    awarded, claimed = pk.village(), pk.village()
    schemes = {v: await pk.scheme(v, effective_from=date(2025, 3, 1)) for v in (awarded, claimed)}
    homes = {v: await pk.household(v) for v in (awarded, claimed)}
    drafts = {v: await revised(pk, schemes[v], date(2025, 5, 1)) for v in (awarded, claimed)}
    pk.clock.set(at(date(2025, 5, 10)))
    # An award posted today in one village, a claim for today awaiting review in the other:
    # both use version 1, so today stays under version 1.
    posted = await pk.award(pk.ref(homes[awarded]), schemes[awarded].id, "HJ-01",
                            occurred_on=date(2025, 5, 10))
    assert posted.amount == 5
    claim = (await pk.stub.SubmitClaim(P.SubmitClaimRequest(
        request_id=pk.rid(), subject=pk.ref(homes[claimed]), scheme_id=schemes[claimed].id,
        item_code="HJ-01", occurred_on="2025-05-10", source=P.CLAIM_SOURCE_RECORDED,
        evidence=P.Evidence(description="网格员现场查看")), metadata=pk.ADMIN)).claim
    assert (claim.status, claim.points) == (P.CLAIM_STATUS_PENDING_REVIEW, 5)
    for village in (awarded, claimed):
        scheme, v2 = schemes[village], drafts[village]
        before = await history(pk, scheme)
        for effective_from, field in (("2025-05-10", "effective_from"),
                                      ("", "resolution.meeting_date")):
            await fails(pk.stub.AdoptSchemeVersion, P.AdoptSchemeVersionRequest(
                request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 10)),
                effective_from=effective_from), grpc.StatusCode.FAILED_PRECONDITION, field, pk.ADMIN)
        assert await history(pk, scheme) == before
        await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
            request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 10)),
            effective_from="2025-05-11"), metadata=pk.ADMIN)
        assert courtyard(await rules_on(pk, scheme, date(2025, 5, 10))) == (1, 5)
        assert courtyard(await rules_on(pk, scheme, date(2025, 5, 11))) == (2, 3)


async def test_the_first_version_may_still_take_effect_from_a_past_day(pk: Any) -> None:
    village = pk.village()
    home = await pk.household(village)
    pk.clock.set(at(date(2025, 1, 5)))
    made = {}
    for kind in (P.SUBJECT_KIND_HOUSEHOLD, P.SUBJECT_KIND_PERSON):
        made[kind] = await pk.stub.CreateScheme(P.CreateSchemeRequest(
            request_id=pk.rid(), region_code=village, year=2025, subject_kind=kind,
            title="2025年积分方案", settings=P.SchemeSettings(comment_days=7),
            items=list(pk.DEFAULT_ITEMS)), metadata=pk.ADMIN)
        await pk.stub.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
            request_id=pk.rid(), version_id=made[kind].draft.id), metadata=pk.ADMIN)
    household = made[P.SUBJECT_KIND_HOUSEHOLD]
    # The meeting was on January 15; the clerk records it on February 20. Until then no
    # version is in force, so nothing can be scored for those days.
    pk.clock.set(at(date(2025, 2, 20)))
    await fails(pk.stub.AwardPoints, P.AwardPointsRequest(
        request_id=pk.rid(), subject=pk.ref(home), scheme_id=household.scheme.id, item_code="HJ-01",
        occurred_on="2025-01-20", reason="x"), grpc.StatusCode.FAILED_PRECONDITION, "occurred_on",
        pk.ADMIN)
    await fails(pk.stub.SubmitClaim, P.SubmitClaimRequest(
        request_id=pk.rid(), subject=pk.ref(home), scheme_id=household.scheme.id, item_code="HJ-01",
        occurred_on="2025-01-20", source=P.CLAIM_SOURCE_RECORDED,
        evidence=P.Evidence(description="x")), grpc.StatusCode.FAILED_PRECONDITION, "occurred_on",
        pk.ADMIN)
    await fails(pk.stub.ScoreBatch, P.ScoreBatchRequest(
        request_id=pk.rid(), batch_key="2025-01 人居环境", scheme_id=household.scheme.id, title="x",
        lines=[P.BatchLine(subject=pk.ref(home), item_code="HJ-01", occurred_on="2025-01-20")]),
        grpc.StatusCode.FAILED_PRECONDITION, "lines[0].occurred_on", pk.ADMIN)
    adopted = (await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=household.draft.id, resolution=pk.resolution(date(2025, 1, 15)),
        effective_from="2025-01-20"), metadata=pk.ADMIN)).version
    assert (adopted.status, adopted.effective_from) == (P.SCHEME_VERSION_STATUS_ADOPTED, "2025-01-20")
    by_default = (await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=made[P.SUBJECT_KIND_PERSON].draft.id,
        resolution=pk.resolution(date(2025, 1, 15))), metadata=pk.ADMIN)).version
    assert by_default.effective_from == "2025-01-15"
    assert courtyard(await rules_on(pk, household.scheme, date(2025, 1, 20))) == (1, 5)
    entry = await pk.award(pk.ref(home), household.scheme.id, "HJ-01", occurred_on=date(2025, 1, 20))
    assert entry.amount == 5


async def test_the_county_compares_a_villages_rules_in_force_as_well_as_its_latest_draft(
        pk: Any) -> None:
    county_md = auth_metadata(pk.COUNTY, roles=("county_officer",), subject="county")
    template = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=f"{pk.COUNTY}000000", year=2025, is_template=True,
        subject_kind=P.SUBJECT_KIND_HOUSEHOLD, title="县家庭积分模板", items=list(pk.DEFAULT_ITEMS),
        settings=P.SchemeSettings(comment_days=1)), metadata=county_md)
    village = pk.village()
    pk.clock.set(at(date(2025, 1, 5)))
    copy = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=village, year=2025, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
        title="本村家庭积分方案", template_scheme_id=template.scheme.id), metadata=pk.ADMIN)
    await pk.stub.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
        request_id=pk.rid(), version_id=copy.draft.id), metadata=pk.ADMIN)
    pk.clock.set(at(date(2025, 1, 10)))
    await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=copy.draft.id, resolution=pk.resolution(date(2025, 1, 10))),
        metadata=pk.ADMIN)
    pk.clock.set(at(pk.TODAY))
    draft = (await pk.stub.DraftSchemeVersion(P.DraftSchemeVersionRequest(
        request_id=pk.rid(), scheme_id=copy.scheme.id, change_note="庭院整洁加分提高"),
        metadata=pk.ADMIN)).draft
    await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=draft.id,
        items=[pk.item("HJ-01", 8, name="庭院整洁"), *pk.DEFAULT_ITEMS[1:]]), metadata=pk.ADMIN)

    def compare(on_date: str = "") -> Any:
        return pk.stub.CompareSchemeWithTemplate(P.CompareSchemeWithTemplateRequest(
            scheme_id=copy.scheme.id, on_date=on_date), metadata=county_md)

    latest = await compare()
    assert latest.version == 2
    assert [(d.code, list(d.fields)) for d in latest.departures] == [("HJ-01", ["points"])]
    in_force = await compare(pk.TODAY.isoformat())
    assert (in_force.version, list(in_force.departures)) == (1, [])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compare("2025-01-09")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    batch = await pk.stub.BatchCompareSchemesWithTemplate(P.BatchCompareSchemesWithTemplateRequest(
        scheme_ids=[copy.scheme.id], on_date=pk.TODAY.isoformat()), metadata=county_md)
    assert [(c.scheme_id, c.version, len(c.departures)) for c in batch.comparisons] == [
        (copy.scheme.id, 1, 0)]
    before = await pk.stub.BatchCompareSchemesWithTemplate(P.BatchCompareSchemesWithTemplateRequest(
        scheme_ids=[copy.scheme.id], on_date="2025-01-09"), metadata=county_md)
    assert list(before.comparisons) == []
    await fails(pk.stub.CompareSchemeWithTemplate, P.CompareSchemeWithTemplateRequest(
        scheme_id=copy.scheme.id, on_date="2025-02-30"), grpc.StatusCode.INVALID_ARGUMENT, "on_date",
        county_md)


# -- an adoption taking effect today, against scores of today in progress ------------------


async def _waits_on_a_lock(pk: Any) -> bool:
    # A transaction of its own each time: pg_stat_activity holds still within one.
    async with pk.host.engine.connect() as watcher:
        return (await watcher.execute(text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"))).scalar_one() >= 1


@pytest.mark.parametrize("path", ["unlocked award", "locked award", "batch"])
async def test_a_score_waiting_on_a_same_day_adoption_is_scored_under_the_new_version(
        pk: Any, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, effective_from=date(2025, 3, 1))
    home = await pk.household(village)
    v2 = await revised(pk, scheme, date(2025, 5, 1))  # the courtyard item: 5 points, then 3
    pk.clock.set(at(date(2025, 5, 10)))
    if path == "locked award":
        async def never(*args: Any) -> None:
            return None
        monkeypatch.setattr(LedgerApi, "_award_unlocked", never)
    # The adoption stops once it holds the scheme's accounts, until the score waits on them.
    holding, release = asyncio.Event(), asyncio.Event()
    take_accounts = PointsRepository.raise_rules_epoch

    async def held(self: PointsRepository, *args: Any) -> None:
        await take_accounts(self, *args)
        holding.set()
        await release.wait()
    monkeypatch.setattr(PointsRepository, "raise_rules_epoch", held)

    adopting = asyncio.ensure_future(pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 10)),
        effective_from="2025-05-10"), metadata=pk.ADMIN))
    await asyncio.wait_for(holding.wait(), 10)
    batch = P.ScoreBatchRequest(request_id=pk.rid(), batch_key=f"b-{uuid.uuid4().hex[:8]}",
                                scheme_id=scheme.id, title="5月检查", lines=[P.BatchLine(
                                    subject=pk.ref(home), item_code="HJ-01", occurred_on="2025-05-10")])
    scoring = asyncio.ensure_future(
        pk.stub.ScoreBatch(batch, metadata=pk.ADMIN) if path == "batch"
        else pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 10)))
    await wait_until(lambda: _waits_on_a_lock(pk), within=10)
    release.set()
    assert (await adopting).version.effective_from == "2025-05-10"
    if path == "batch":
        # Its lines were checked under version 1: refused for a retry, which scores under 2.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await scoring
        assert err.value.code() == grpc.StatusCode.ABORTED
        await pk.stub.ScoreBatch(batch, metadata=pk.ADMIN)
    else:
        await scoring
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    assert [(e.entry_date, e.amount) for e in statement.entries] == [("2025-05-10", 3)]
    assert courtyard(await rules_on(pk, scheme, date(2025, 5, 10))) == (2, 3)


async def test_an_award_read_before_a_same_day_adoption_and_written_after_it_is_read_again(
        pk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, effective_from=date(2025, 3, 1))
    home = await pk.household(village)
    v2 = await revised(pk, scheme, date(2025, 5, 1))
    pk.clock.set(at(date(2025, 5, 10)))
    # The award stops between its read (version 1 in force) and its guarded write.
    read, release = asyncio.Event(), asyncio.Event()
    statement = ledger_api.read_for_scoring()

    class Paused:
        async def fetchrow_on(self, raw: Any, params: dict[str, Any]) -> Any:
            row = await statement.fetchrow_on(raw, params)
            if not read.is_set():
                read.set()
                await release.wait()
            return row
    monkeypatch.setattr(ledger_api, "read_for_scoring", lambda: Paused())
    awarding = asyncio.ensure_future(
        pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 10)))
    await asyncio.wait_for(read.wait(), 10)
    await pk.stub.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=pk.rid(), version_id=v2.id, resolution=pk.resolution(date(2025, 5, 10)),
        effective_from="2025-05-10"), metadata=pk.ADMIN)
    release.set()
    assert (await awarding).amount == 3


async def test_a_draft_edited_without_settings_keeps_its_settings(pk: Any) -> None:
    village, md = pk.village(), pk.ADMIN
    made = await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=village, year=pk.TODAY.year, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
        title="东关村家庭积分方案", items=list(pk.DEFAULT_ITEMS), settings=P.SchemeSettings(
            comment_days=9, claim_publicity_days=5, base_score=60, cycle_policy=P.CYCLE_POLICY_CARRY_OVER,
            star_thresholds=[80, 120])), metadata=md)
    kept = made.draft.settings
    edited = await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=made.draft.id, items=[*pk.DEFAULT_ITEMS, pk.item("XL-01", 8)],
        change_note="增加事项"), metadata=md)
    assert edited.draft.settings == kept
    assert [i.code for i in edited.draft.items] == ["HJ-01", "ZY-01", "YF-01", "XL-01"]
    # Settings given replace them all: what is left out takes the kind's default.
    edited = await pk.stub.UpdateSchemeDraft(P.UpdateSchemeDraftRequest(
        request_id=pk.rid(), version_id=made.draft.id, items=list(pk.DEFAULT_ITEMS),
        settings=P.SchemeSettings(comment_days=9)), metadata=md)
    assert edited.draft.settings.comment_days == 9
    assert edited.draft.settings.base_score != 60 and list(edited.draft.settings.star_thresholds) != [80, 120]
