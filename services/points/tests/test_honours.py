"""Outstanding villagers' representatives (优秀村民代表): honoured by the meeting's vote,
listed within the caller's scope, announced once; bad input refused with nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
import pytest_asyncio
from shanzhi.common.v1 import event_pb2
from shanzhi.common.v1.paging_pb2 import PageRequest
from shanzhi.points.v1 import events_pb2
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.events import unpack
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_points.tables import messaging, representative_honours
from sqlalchemy import select

pytestmark = pytest.mark.postgres

HONOURED = "shanzhi.points.v1.RepresentativeHonouredEvent"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
REFUSED = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED
EXISTS = grpc.StatusCode.ALREADY_EXISTS


def vote(meeting_date: str = "2025-06-10", total: int = 30, attendees: int = 25,
         votes_for: int = 22, **more: Any) -> P.Resolution:
    return P.Resolution(meeting_date=meeting_date, representatives_total=total, attendees=attendees,
                        votes_for=votes_for, votes_against=attendees - votes_for,
                        number="村代会决议〔2025〕3号", **more)


async def open_account(pk: Any, village: str, kind: int = P.SUBJECT_KIND_REPRESENTATIVE,
                       name: str = "李秀英") -> P.Account:
    return (await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=P.SubjectRef(kind=kind, id=str(uuid.uuid4())),  # type: ignore[arg-type]
        region_code=village, display_name=name), metadata=pk.ADMIN)).account


def honour(pk: Any, account: P.Account, **change: Any) -> P.HonourRepresentativeRequest:
    fields: dict[str, Any] = dict(request_id=pk.rid(), account_id=account.id, year=2025,
                                  resolution=vote(), certificate_number="2025-001")
    fields.update(change)
    return P.HonourRepresentativeRequest(**fields)


async def announced(pk: Any, honour_id: str) -> list[events_pb2.RepresentativeHonouredEvent]:
    async with pk.host.engine.connect() as conn:
        payloads = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.event_type == HONOURED, messaging.outbox.c.key == honour_id))).scalars().all()
    out = []
    for payload in payloads:
        event = unpack(event_pb2.EventEnvelope.FromString(payload), events_pb2.RepresentativeHonouredEvent)
        assert isinstance(event, events_pb2.RepresentativeHonouredEvent)
        out.append(event)
    return out


async def test_an_honour_is_recorded_listed_and_announced_once(pk: Any) -> None:
    village, other = pk.village(), pk.village()
    rep = await open_account(pk, village)
    request = honour(pk, rep, certificate_number=" 2025-001 ")
    first = (await pk.stub.HonourRepresentative(request, metadata=pk.ADMIN)).honour
    again = (await pk.stub.HonourRepresentative(request, metadata=pk.ADMIN)).honour
    assert first == again
    assert (first.account_id, first.subject.kind, first.subject.id, first.region_code) == (
        rep.id, P.SUBJECT_KIND_REPRESENTATIVE, rep.subject.id, village)
    assert (first.display_name, first.year, first.certificate_number, first.created_by) == (
        "李秀英", 2025, "2025-001", "tester")
    assert (first.resolution.meeting_date, first.resolution.attendees, first.resolution.votes_for,
            first.resolution.number) == ("2025-06-10", 25, 22, "村代会决议〔2025〕3号")

    [event] = await announced(pk, first.id)
    assert (event.honour_id, event.person_id, event.region_code, event.year, event.account_id,
            event.certificate_number) == (first.id, rep.subject.id, village, 2025, rep.id, "2025-001")

    got = await pk.stub.GetRepresentativeHonour(P.GetRepresentativeHonourRequest(id=first.id),
                                                metadata=pk.ADMIN)
    assert got.honour == first

    # The same certificate number is free in another village, and in another year.
    elsewhere = await open_account(pk, other, name="王志强")
    second = (await pk.stub.HonourRepresentative(honour(pk, elsewhere), metadata=pk.ADMIN)).honour
    earlier = (await pk.stub.HonourRepresentative(honour(
        pk, rep, year=2024, resolution=vote("2025-01-08")), metadata=pk.ADMIN)).honour

    async def listed(metadata: Any = pk.ADMIN, **kw: Any) -> list[str]:
        ids, token = [], ""
        while True:
            page = await pk.stub.ListRepresentativeHonours(P.ListRepresentativeHonoursRequest(
                page=PageRequest(page_size=1, page_token=token), **kw), metadata=metadata)
            ids += [h.id for h in page.honours]
            token = page.page_info.next_page_token
            if not token:
                return ids

    assert sorted(await listed(region_code_prefix=village, year=2025)) == [first.id]
    assert sorted(await listed(region_code_prefix=village)) == sorted([first.id, earlier.id])
    county = await listed(region_code_prefix=pk.COUNTY, year=2025)
    assert {first.id, second.id} <= set(county) and earlier.id not in county
    # A village clerk sees the village's own honours only.
    clerk = auth_metadata(other, roles=("village_clerk",), subject="clerk")
    assert await listed(clerk) == [second.id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.GetRepresentativeHonour(P.GetRepresentativeHonourRequest(id=first.id), metadata=clerk)
    assert err.value.code() == DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await listed(clerk, region_code_prefix=village)
    assert err.value.code() == DENIED
    # A batch read keeps the order asked and leaves out what the caller may not see.
    unknown = "00000000-0000-4000-8000-000000000000"
    ids = [second.id, unknown, first.id]
    both = await pk.stub.BatchGetRepresentativeHonours(
        P.BatchGetRepresentativeHonoursRequest(ids=ids), metadata=pk.ADMIN)
    assert [h.id for h in both.honours] == [second.id, first.id]
    mine = await pk.stub.BatchGetRepresentativeHonours(
        P.BatchGetRepresentativeHonoursRequest(ids=ids), metadata=clerk)
    assert [h.id for h in mine.honours] == [second.id]

    # One honour per representative and year.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.HonourRepresentative(honour(pk, rep, certificate_number="2025-009"), metadata=pk.ADMIN)
    assert err.value.code() == EXISTS
    assert rpc_error_details(err.value) == [("year", "the representative was already honoured for 2025")]
    assert len(await announced(pk, first.id)) == 1


class Ground:
    """A village with a representative already honoured, another representative, a household
    and a party member; a representative in another village."""

    village: str
    honoured: P.Account
    rep: P.Account
    household: P.Account
    party_member: P.Account
    stranger: P.Account


@pytest_asyncio.fixture(scope="module")
async def ground(pk: Any) -> Ground:
    g = Ground()
    g.village = pk.village()
    g.honoured = await open_account(pk, g.village, name="赵国庆")
    await pk.stub.HonourRepresentative(honour(pk, g.honoured), metadata=pk.ADMIN)
    g.rep = await open_account(pk, g.village)
    home = await pk.household(g.village)
    g.household = await pk.account(pk.ref(home))
    g.party_member = await open_account(pk, g.village, P.SUBJECT_KIND_PARTY_MEMBER, "孙红梅")
    g.stranger = await open_account(pk, pk.village(), name="周海燕")
    return g


def _case(account: str, code: grpc.StatusCode, field: str, *, metadata: Any = None,
          **change: Any) -> tuple[str, grpc.StatusCode, str, Any, dict[str, Any]]:
    return account, code, field, metadata, change


CASES = {
    "a household's account": _case("household", REFUSED, "account_id"),
    "a party member's account": _case("party_member", REFUSED, "account_id"),
    "an unknown account": _case("unknown", INVALID, "account_id"),
    "no account id": _case("rep", INVALID, "account_id", account_id=""),
    "fewer than two thirds present": _case("rep", INVALID, "resolution.attendees",
                                           resolution=vote(attendees=19, votes_for=15)),
    "not more than half for": _case("rep", INVALID, "resolution.votes_for",
                                    resolution=vote(attendees=24, votes_for=12)),
    "no vote at all": _case("rep", INVALID, "resolution.meeting_date", resolution=P.Resolution()),
    "a meeting in the future": _case("rep", INVALID, "resolution.meeting_date",
                                     resolution=vote("2025-06-19")),
    "a meeting before the year": _case("rep", INVALID, "resolution.meeting_date",
                                       resolution=vote("2024-12-30")),
    "a future year": _case("rep", INVALID, "year", year=2026, resolution=vote()),
    "no year": _case("rep", INVALID, "year", year=0),
    "no certificate number": _case("rep", INVALID, "certificate_number", certificate_number="  "),
    "a certificate number too long": _case("rep", INVALID, "certificate_number",
                                           certificate_number="证" * 51),
    "a certificate number the village already issued": _case("rep", EXISTS, "certificate_number"),
    "a village outside the caller's scope": _case(
        "stranger", DENIED, "account_id", certificate_number="2025-777",
        metadata=("village_clerk",)),
}


@pytest.mark.parametrize(("account", "code", "field", "metadata", "change"), list(CASES.values()),
                         ids=list(CASES))
async def test_a_bad_honour_is_refused_naming_the_field_and_nothing_is_written(
        pk: Any, ground: Ground, account: str, code: grpc.StatusCode, field: str, metadata: Any,
        change: dict[str, Any]) -> None:
    target = getattr(ground, account) if account != "unknown" else P.Account(id=str(uuid.uuid4()))
    md = pk.ADMIN if metadata is None else auth_metadata(ground.village, roles=metadata, subject="clerk")
    before = [await pk.count(representative_honours),
              await pk.count(messaging.outbox, messaging.outbox.c.event_type == HONOURED),
              await pk.count(messaging.idempotency_keys)]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.HonourRepresentative(honour(pk, target, **change), metadata=md)
    assert err.value.code() == code, err.value.details()
    assert field in [f for f, _ in rpc_error_details(err.value)], err.value.details()
    assert [await pk.count(representative_honours),
            await pk.count(messaging.outbox, messaging.outbox.c.event_type == HONOURED),
            await pk.count(messaging.idempotency_keys)] == before


async def test_only_managers_honour_representatives(pk: Any, ground: Ground) -> None:
    grid_worker = auth_metadata(ground.village, roles=("grid_worker",), subject="grid")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.HonourRepresentative(honour(pk, ground.rep, certificate_number="2025-900"),
                                           metadata=grid_worker)
    assert err.value.code() == DENIED
    listed = await pk.stub.ListRepresentativeHonours(P.ListRepresentativeHonoursRequest(
        region_code_prefix=ground.village), metadata=pk.ADMIN)
    assert [h.account_id for h in listed.honours] == [ground.honoured.id]


# -- a scheme's ranking (积分方案排名) ------------------------------------------------------

async def test_a_schemes_ranking_counts_what_it_scored_in_its_village_with_stars(pk: Any) -> None:
    village, other_village = pk.village(), pk.village()
    scheme = await pk.scheme(village, star_thresholds=[10, 20])
    other = await pk.scheme(other_village, star_thresholds=[10, 20])
    first, second, third = [await pk.household(village, head=f"户主{i}") for i in range(3)]
    await pk.award(pk.ref(first), scheme.id, quantity=4)
    await pk.award(pk.ref(second), scheme.id, quantity=2)
    mistaken = await pk.award(pk.ref(second), scheme.id, quantity=1)
    await pk.stub.ReverseEntry(P.ReverseEntryRequest(
        request_id=pk.rid(), entry_id=mistaken.id, reason="重复记分"), metadata=pk.ADMIN)
    elsewhere = await pk.household(other_village)
    await pk.award(pk.ref(elsewhere), other.id, quantity=6)

    ranking = await pk.stub.ListRanking(P.ListRankingRequest(scheme_id=scheme.id), metadata=pk.ADMIN)
    assert [(r.account_id, r.rank, r.score, r.stars) for r in ranking.rows] == [
        (first.account_id, 1, 20, 2), (second.account_id, 2, 10, 1), (third.account_id, 3, 0, 0)]
    # The same with the kind and village named, in pages of two.
    paged, token = [], ""
    while True:
        page = await pk.stub.ListRanking(P.ListRankingRequest(
            scheme_id=scheme.id, region_code_prefix=village, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
            page=PageRequest(page_size=2, page_token=token)), metadata=pk.ADMIN)
        paged += list(page.rows)
        token = page.page_info.next_page_token
        if not token:
            break
    assert paged == list(ranking.rows)
    # A period before any award, and before the households' accounts were opened: nobody to
    # rank (an account opened later is not ranked at 0 for it, nor put on its black list).
    early = await pk.stub.ListRanking(P.ListRankingRequest(
        scheme_id=scheme.id, from_date="2025-01-01", to_date="2025-01-31"), metadata=pk.ADMIN)
    assert list(early.rows) == []
    # From the day they opened, those with nothing scored yet share a place at 0.
    opened = await pk.stub.ListRanking(P.ListRankingRequest(
        scheme_id=scheme.id, from_date=pk.TODAY.isoformat(), to_date=pk.TODAY.isoformat()),
        metadata=pk.ADMIN)
    assert (opened.rows[-1].account_id, opened.rows[-1].score) == (third.account_id, 0)
    # Without a scheme the village's ranking is the same, but shows no stars.
    plain = await pk.stub.ListRanking(P.ListRankingRequest(
        region_code_prefix=village, subject_kind=P.SUBJECT_KIND_HOUSEHOLD, from_date="2025-01-01",
        to_date="2025-12-31"), metadata=pk.ADMIN)
    assert [(r.account_id, r.score, r.stars) for r in plain.rows] == [
        (r.account_id, r.score, 0) for r in ranking.rows]


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"subject_kind": P.SUBJECT_KIND_PERSON}, INVALID, "subject_kind"),
    ({"region_code_prefix": "130124"}, INVALID, "region_code_prefix"),
    ({"from_date": "2025-07-01", "to_date": "2025-06-01"}, INVALID, "to_date"),
    ({"scheme_id": str(uuid.uuid4())}, grpc.StatusCode.NOT_FOUND, "scheme_id"),
    ({"scheme_id": "not-an-id"}, INVALID, "scheme_id"),
])
async def test_a_schemes_ranking_refuses_what_does_not_fit_the_scheme(
        pk: Any, change: dict[str, Any], code: grpc.StatusCode, field: str) -> None:
    scheme = await pk.scheme(pk.village())
    request = P.ListRankingRequest(scheme_id=scheme.id)
    for name, value in change.items():
        setattr(request, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ListRanking(request, metadata=pk.ADMIN)
    assert err.value.code() == code
    if code != grpc.StatusCode.NOT_FOUND:
        assert rpc_error_details(err.value)[0][0] == field


async def test_a_schemes_ranking_is_only_for_callers_who_may_see_its_village(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ListRanking(P.ListRankingRequest(scheme_id=scheme.id),
                                  metadata=auth_metadata(f"{village[:9]}999"))
    assert err.value.code() == DENIED
    assert rpc_error_details(err.value)[0][0] == "scheme_id"
