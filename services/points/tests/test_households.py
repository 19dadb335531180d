"""Changes of head of household (户主变更) and returns of households that moved out (回迁):
the household, its members, its account and the events change together, once; bad input is
refused with the field named and nothing written."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import events_pb2
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_points.clock import CHINA
from shanzhi_points.tables import household_head_changes, messaging
from sqlalchemy import select

pytestmark = pytest.mark.postgres

INVALID = grpc.StatusCode.INVALID_ARGUMENT
REFUSED = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
HEAD_CHANGED = "shanzhi.points.v1.HouseholdHeadChangedEvent"


def change_request(pk: Any, home: P.Household, **kw: Any) -> P.ChangeHouseholdHeadRequest:
    fields: dict[str, Any] = dict(
        request_id=pk.rid(), household_id=home.id, head_name="王小军",
        changed_on=(pk.TODAY - timedelta(days=3)).isoformat(), reason="原户主去世")
    fields.update(kw)
    return P.ChangeHouseholdHeadRequest(**fields)


async def change(pk: Any, home: P.Household, metadata: Any = None, **kw: Any
                 ) -> P.ChangeHouseholdHeadResponse:
    reply: P.ChangeHouseholdHeadResponse = await pk.stub.ChangeHouseholdHead(
        change_request(pk, home, **kw), metadata=metadata or pk.ADMIN)
    return reply


async def add_member(pk: Any, home: P.Household, name: str, **kw: Any) -> P.HouseholdMember:
    fields: dict[str, Any] = dict(request_id=pk.rid(), household_id=home.id, name=name, relation="子女")
    fields.update(kw)
    reply = await pk.stub.AddHouseholdMember(P.AddHouseholdMemberRequest(**fields), metadata=pk.ADMIN)
    member: P.HouseholdMember = reply.member
    # Members are listed in the order they were recorded: the new one is the last.
    assert reply.household.members[-1].id == member.id
    return member


async def head_change_events(pk: Any, household_id: str) -> list[events_pb2.HouseholdHeadChangedEvent]:
    outbox = messaging.outbox
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.payload).where(
            outbox.c.key == household_id, outbox.c.event_type == HEAD_CHANGED)
            .order_by(outbox.c.seq))).all()
    found = []
    for row in rows:
        env = event_pb2.EventEnvelope.FromString(row.payload)
        assert (env.subject, env.source) == (household_id, "shanzhi.points")
        data = events_pb2.HouseholdHeadChangedEvent()
        assert env.data.Unpack(data)
        found.append(data)
    return found


async def snapshot(pk: Any, home: P.Household) -> tuple[Any, ...]:
    """What a head change would touch: the household, its account, its history and events,
    and the kept answers of head changes."""
    got = await pk.stub.GetHousehold(P.GetHouseholdRequest(id=home.id), metadata=pk.ADMIN)
    account = await pk.account(pk.ref(home))
    keys = messaging.idempotency_keys
    return (got.household, account.display_name,
            await pk.count(household_head_changes, household_head_changes.c.household_id == home.id),
            await pk.count(messaging.outbox, messaging.outbox.c.key == home.id),
            await pk.count(keys, keys.c.method.contains("ChangeHouseholdHead")))


async def test_a_new_head_renames_the_household_and_its_account_once(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village, head="王建国")
    neighbour = await pk.household(village, head="李强")
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)
    await pk.award(pk.ref(neighbour), scheme.id, "HJ-01")
    request = change_request(pk, home, head_name=" 王小军 ", changed_on="2025-06-15", reason="原户主去世")

    first, second = await asyncio.gather(pk.stub.ChangeHouseholdHead(request, metadata=pk.ADMIN),
                                         pk.stub.ChangeHouseholdHead(request, metadata=pk.ADMIN))

    assert first == second
    assert (first.household.head_name, first.household.head_member_id) == ("王小军", "")
    assert first.change.id and first.change.create_time.seconds > 0
    assert (first.change.household_id, first.change.previous_head_name, first.change.previous_member_id,
            first.change.head_name, first.change.member_id, first.change.changed_on, first.change.reason,
            first.change.created_by) == (
        home.id, "王建国", "", "王小军", "", "2025-06-15", "原户主去世", "tester")
    assert list(first.household.head_changes) == [first.change]
    got = await pk.stub.GetHousehold(P.GetHouseholdRequest(id=home.id), metadata=pk.ADMIN)
    assert got.household == first.household
    listed = await pk.stub.ListHouseholds(P.ListHouseholdsRequest(region_code_prefix=village),
                                          metadata=pk.ADMIN)
    assert {h.id: list(h.head_changes) for h in listed.households} == {
        home.id: [first.change], neighbour.id: []}

    shown = f"{home.household_number} 王小军"
    assert (await pk.account(pk.ref(home))).display_name == shown
    assert (await pk.account(pk.ref(neighbour))).display_name == f"{neighbour.household_number} 李强"
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    assert statement.account.display_name == shown and len(statement.entries) == 1
    ranking = await pk.stub.ListRanking(P.ListRankingRequest(scheme_id=scheme.id), metadata=pk.ADMIN)
    assert [(r.display_name, r.score) for r in ranking.rows] == [
        (shown, 10), (f"{neighbour.household_number} 李强", 5)]

    assert await head_change_events(pk, home.id) == [events_pb2.HouseholdHeadChangedEvent(
        household_id=home.id, region_code=village, change_id=first.change.id, head_name="王小军",
        changed_on="2025-06-15")]
    before = await snapshot(pk, home)
    again = await pk.stub.ChangeHouseholdHead(request, metadata=pk.ADMIN)
    assert again == first
    assert await snapshot(pk, home) == before
    request.head_name = "王小红"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ChangeHouseholdHead(request, metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert rpc_error_details(err.value)[0][0] == "request_id"
    assert await snapshot(pk, home) == before


async def test_a_member_becomes_head_and_the_history_keeps_every_change(pk: Any) -> None:
    village = pk.village()
    home = await pk.household(village, head="王建国")
    son = await add_member(pk, home, "王小明", joined_on="2025-03-01", moved_in=True)

    by_member = await change(pk, home, head_name="", member_id=son.id.upper(), changed_on="2025-05-01",
                             reason="原户主迁出")

    assert (by_member.household.head_name, by_member.household.head_member_id) == ("王小明", son.id)
    assert (by_member.change.head_name, by_member.change.member_id) == ("王小明", son.id)
    assert [(m.name, m.relation, m.left_on) for m in by_member.household.members] == [("王小明", "子女", "")]
    assert (await pk.account(pk.ref(home))).display_name == f"{home.household_number} 王小明"

    handed_over = await change(pk, home, head_name="李桂兰", changed_on="2025-06-01", reason="分户")

    assert (handed_over.household.head_name, handed_over.household.head_member_id) == ("李桂兰", "")
    assert [(c.previous_head_name, c.previous_member_id, c.head_name, c.member_id, c.changed_on, c.reason)
            for c in handed_over.household.head_changes] == [
        ("王建国", "", "王小明", son.id, "2025-05-01", "原户主迁出"),
        ("王小明", son.id, "李桂兰", "", "2025-06-01", "分户")]
    assert [(e.head_name, e.member_id) for e in await head_change_events(pk, home.id)] == [
        ("王小明", son.id), ("李桂兰", "")]
    named_and_chosen = await change(pk, home, head_name="王小明", member_id=son.id, reason="户主变更更正")
    assert named_and_chosen.household.head_member_id == son.id


async def test_two_changes_at_once_both_count_in_order(pk: Any) -> None:
    home = await pk.household(pk.village(), head="王建国")

    replies = await asyncio.gather(change(pk, home, head_name="王一"), change(pk, home, head_name="王二"))

    got = (await pk.stub.GetHousehold(P.GetHouseholdRequest(id=home.id), metadata=pk.ADMIN)).household
    first, last = sorted((r.change for r in replies), key=lambda c: c.previous_head_name != "王建国")
    assert (first.previous_head_name, last.previous_head_name) == ("王建国", first.head_name)
    assert got.head_name == last.head_name
    assert (await pk.account(pk.ref(home))).display_name == f"{home.household_number} {last.head_name}"
    assert len(await head_change_events(pk, home.id)) == 2


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"request_id": ""}, INVALID, "request_id"),
    ({"household_id": ""}, INVALID, "household_id"),
    ({"household_id": "nope"}, INVALID, "household_id"),
    ({"household_id": str(uuid.uuid4())}, NOT_FOUND, "household_id"),
    ({"head_name": ""}, INVALID, "head_name"),
    ({"head_name": "  "}, INVALID, "head_name"),
    ({"head_name": "名" * 51}, INVALID, "head_name"),
    ({"head_name": "王建国"}, REFUSED, "head_name"),
    ({"changed_on": ""}, INVALID, "changed_on"),
    ({"changed_on": "2025-02-30"}, INVALID, "changed_on"),
    ({"changed_on": "2025-06-19"}, INVALID, "changed_on"),
    ({"reason": ""}, INVALID, "reason"),
    ({"reason": "因" * 501}, INVALID, "reason"),
    ({"member_id": "nope"}, INVALID, "member_id"),
    ({"member_id": str(uuid.uuid4())}, INVALID, "member_id"),
])
async def test_bad_input_names_the_field_and_writes_nothing(
        pk: Any, fields: dict[str, Any], code: grpc.StatusCode, field: str) -> None:
    home = await pk.household(pk.village(), head="王建国")
    before = await snapshot(pk, home)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await change(pk, home, **fields)
    assert err.value.code() == code
    assert field in [f for f, _ in rpc_error_details(err.value)]
    assert await snapshot(pk, home) == before


async def test_every_wrong_field_is_named_at_once(pk: Any) -> None:
    home = await pk.household(pk.village())
    before = await snapshot(pk, home)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ChangeHouseholdHead(P.ChangeHouseholdHeadRequest(request_id=pk.rid()),
                                          metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert {f for f, _ in rpc_error_details(err.value)} == {
        "household_id", "head_name", "changed_on", "reason"}
    assert await snapshot(pk, home) == before


async def test_the_new_head_must_be_a_current_member_of_the_household(pk: Any) -> None:
    village = pk.village()
    home = await pk.household(village, head="王建国")
    other = await pk.household(village, head="李强")
    son = await add_member(pk, home, "王小明", joined_on="2025-06-10", moved_in=True)
    gone = await add_member(pk, home, "王小华", moved_in=True)
    await pk.stub.RecordMemberLeft(P.RecordMemberLeftRequest(
        request_id=pk.rid(), member_id=gone.id, left_on="2025-06-12", reason="外出务工迁出"),
        metadata=pk.ADMIN)
    neighbour = await add_member(pk, other, "李小龙")
    await change(pk, home, head_name="王建军", changed_on="2025-06-12", reason="户主变更")
    cases: list[tuple[dict[str, Any], grpc.StatusCode, str]] = [
        ({"member_id": neighbour.id, "head_name": ""}, INVALID, "member_id"),
        ({"member_id": gone.id, "head_name": ""}, REFUSED, "member_id"),
        ({"member_id": son.id, "head_name": "王大明"}, REFUSED, "head_name"),
        ({"member_id": son.id, "head_name": "", "changed_on": "2025-06-09"}, REFUSED, "changed_on"),
        ({"head_name": "王小军", "changed_on": "2025-06-11"}, REFUSED, "changed_on"),
    ]
    before = await snapshot(pk, home)
    for fields, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await change(pk, home, **fields)
        assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (code, field), fields
    assert await snapshot(pk, home) == before
    chosen = await change(pk, home, member_id=son.id, head_name="", changed_on="2025-06-12")
    assert chosen.household.head_name == "王小明"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await change(pk, home, member_id=son.id, head_name="")
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (REFUSED, "member_id")


async def test_a_household_that_moved_out_keeps_its_head(pk: Any) -> None:
    home = await pk.household(pk.village(), head="王建国")
    await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
        request_id=pk.rid(), household_id=home.id, moved_out_on="2025-06-10", reason="整户迁往县城"),
        metadata=pk.ADMIN)
    before = await snapshot(pk, home)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await change(pk, home)
    assert err.value.code() == REFUSED
    assert rpc_error_details(err.value)[0][0] == "household_id"
    assert await snapshot(pk, home) == before


async def test_only_managers_within_scope_change_the_head(pk: Any) -> None:
    village, elsewhere = pk.village(), pk.village()
    home = await pk.household(village, head="王建国")
    before = await snapshot(pk, home)
    outsider = auth_metadata(elsewhere, roles=("village_clerk",), subject="clerk-elsewhere")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await change(pk, home, metadata=outsider)
    assert err.value.code() == DENIED
    assert rpc_error_details(err.value)[0][0] == "household_id"
    viewer = auth_metadata(village, roles=("viewer",), subject="viewer")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await change(pk, home, metadata=viewer)
    assert err.value.code() == DENIED
    assert await snapshot(pk, home) == before
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk")
    done = await change(pk, home, metadata=clerk)
    assert (done.household.head_name, done.change.created_by) == ("王小军", "clerk")


async def test_head_changes_run_on_sqlite_too(lite: Any) -> None:
    home = await lite.household(lite.village(), head="王建国")
    await change(lite, home, head_name="王小军", changed_on="2025-06-01")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await change(lite, home, head_name="王小红", changed_on="2025-05-31")
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (REFUSED, "changed_on")
    later = await change(lite, home, head_name="王小红", changed_on="2025-06-02")
    assert [c.head_name for c in later.household.head_changes] == ["王小军", "王小红"]
    assert (await lite.account(lite.ref(home))).display_name == f"{home.household_number} 王小红"


async def test_a_move_out_dated_before_points_scored_waits_for_their_reversal(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    scored = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=pk.TODAY - timedelta(days=1))
    await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=pk.TODAY - timedelta(days=5))

    def move_out(day: int) -> P.MoveHouseholdOutRequest:
        return P.MoveHouseholdOutRequest(request_id=pk.rid(), household_id=home.id, reason="整户迁出",
                                         moved_out_on=(pk.TODAY - timedelta(days=day)).isoformat())

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.MoveHouseholdOut(move_out(3), metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [(field, description)] = rpc_error_details(err.value)
    assert field == "moved_out_on" and (pk.TODAY - timedelta(days=1)).isoformat() in description
    assert (await pk.account(pk.ref(home))).closed_on == ""
    # Once the later points are reversed (冲正), the household moves out from that day.
    await pk.stub.ReverseEntry(P.ReverseEntryRequest(
        request_id=pk.rid(), entry_id=scored.id, reason="迁出后误记"), metadata=pk.ADMIN)
    moved = (await pk.stub.MoveHouseholdOut(move_out(3), metadata=pk.ADMIN)).household
    assert moved.status == P.HOUSEHOLD_STATUS_MOVED_OUT
    assert (await pk.account(pk.ref(home))).closed_on == (pk.TODAY - timedelta(days=3)).isoformat()


async def test_a_new_household_starts_the_year_at_the_schemes_base_score(pk: Any) -> None:
    village = pk.village()
    await pk.scheme(village, base_score=50)
    home = await pk.household(village)
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    [base] = statement.entries
    assert (base.kind, base.year, base.amount, statement.account.balance) == (P.ENTRY_KIND_BASE, 2025, 50, 50)
    # Without a household scheme there is no base to give.
    plain = await pk.household(pk.village())
    assert (await pk.account(pk.ref(plain))).balance == 0


async def test_named_members_fit_the_count_and_the_head_leaves_only_after_a_new_head(pk: Any) -> None:
    home = await pk.household(pk.village())  # 3 members counted, none named yet
    head = await add_member(pk, home, "王建国", relation="户主", moved_in=False)
    wife = await add_member(pk, home, "李桂兰", relation="配偶", moved_in=False)
    await add_member(pk, home, "王小明", moved_in=False)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await add_member(pk, home, "王小华", moved_in=False)
    assert err.value.code() == REFUSED
    assert [f for f, _ in rpc_error_details(err.value)] == ["moved_in"]
    await pk.stub.ChangeHouseholdHead(change_request(pk, home, member_id=head.id, head_name="王建国"),
                                      metadata=pk.ADMIN)

    def leave(member: P.HouseholdMember) -> P.RecordMemberLeftRequest:
        return P.RecordMemberLeftRequest(request_id=pk.rid(), member_id=member.id,
                                         left_on=pk.TODAY.isoformat(), reason="去世")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.RecordMemberLeft(leave(head), metadata=pk.ADMIN)
    assert err.value.code() == REFUSED
    assert [f for f, _ in rpc_error_details(err.value)] == ["member_id"]
    left = (await pk.stub.RecordMemberLeft(leave(wife), metadata=pk.ADMIN)).household
    assert left.member_count == 2


async def test_a_move_out_is_not_dated_before_what_the_roster_records(pk: Any) -> None:
    home = await pk.household(pk.village())
    await add_member(pk, home, "王小明", joined_on=(pk.TODAY - timedelta(days=10)).isoformat(), moved_in=True)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
            request_id=pk.rid(), household_id=home.id, reason="整户迁出",
            moved_out_on=(pk.TODAY - timedelta(days=20)).isoformat()), metadata=pk.ADMIN)
    assert err.value.code() == REFUSED
    [(field, description)] = rpc_error_details(err.value)
    assert field == "moved_out_on" and (pk.TODAY - timedelta(days=10)).isoformat() in description


async def test_a_person_is_a_current_member_of_one_household_at_most(pk: Any) -> None:
    village = pk.village()
    first, second = await pk.household(village), await pk.household(village, head="李国强")
    person = str(uuid.uuid4())
    member = await add_member(pk, first, "王小明", talent_person_id=person, moved_in=True)
    before = await snapshot(pk, second)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await add_member(pk, second, "王小明", talent_person_id=person, moved_in=True)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    [(field, description)] = rpc_error_details(err.value)
    assert field == "talent_person_id" and first.household_number in description
    assert await snapshot(pk, second) == before

    # Once recorded leaving the first household, the person joins the second.
    await pk.stub.RecordMemberLeft(P.RecordMemberLeftRequest(
        request_id=pk.rid(), member_id=member.id, left_on=pk.TODAY.isoformat(), reason="分户"),
        metadata=pk.ADMIN)
    await add_member(pk, second, "王小明", talent_person_id=person, moved_in=True)

    # A household that moves out takes its members with it, free to join elsewhere.
    moved = (await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
        request_id=pk.rid(), household_id=second.id, moved_out_on=pk.TODAY.isoformat(), reason="整户迁出"),
        metadata=pk.ADMIN)).household
    assert [m.left_on for m in moved.members] == [pk.TODAY.isoformat()]
    assert moved.members[0].left_reason == "household moved out (整户迁出)"
    account = await pk.account(pk.ref(second))
    assert account.closed_on == pk.TODAY.isoformat()
    async with pk.host.engine.connect() as conn:
        told = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.key == account.id,
            messaging.outbox.c.event_type == "shanzhi.points.v1.AccountClosedEvent"))).scalars().all()
    closing = events_pb2.AccountClosedEvent()
    assert len(told) == 1 and event_pb2.EventEnvelope.FromString(told[0]).data.Unpack(closing)
    assert (closing.subject_kind, closing.subject_id, closing.closed_on) == (
        P.SUBJECT_KIND_HOUSEHOLD, second.id, pk.TODAY.isoformat())
    await add_member(pk, first, "王小明", talent_person_id=person, moved_in=True)


async def test_one_person_added_to_two_households_at_once_joins_one(pk: Any) -> None:
    village = pk.village()
    homes = [await pk.household(village), await pk.household(village, head="李国强")]
    person = str(uuid.uuid4())
    results = await asyncio.gather(
        *[add_member(pk, home, "赵敏", talent_person_id=person, moved_in=True) for home in homes],
        return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], grpc.aio.AioRpcError)
    assert failures[0].code() == grpc.StatusCode.ALREADY_EXISTS
    assert [f for f, _ in rpc_error_details(failures[0])] == ["talent_person_id"]
    got = await pk.stub.BatchGetHouseholds(P.BatchGetHouseholdsRequest(ids=[h.id for h in homes]),
                                           metadata=pk.ADMIN)
    assert sorted(len(h.members) for h in got.households) == [0, 1]
    assert sorted(h.member_count for h in got.households) == [3, 4]


# -- households moving back (回迁/撤销迁出) ----------------------------------------------

EXISTS = grpc.StatusCode.ALREADY_EXISTS


async def move_out(pk: Any, home: P.Household, on: date, reason: str = "整户迁往县城") -> P.Household:
    reply = await pk.stub.MoveHouseholdOut(P.MoveHouseholdOutRequest(
        request_id=pk.rid(), household_id=home.id, moved_out_on=on.isoformat(), reason=reason),
        metadata=pk.ADMIN)
    household: P.Household = reply.household
    return household


def return_request(pk: Any, home: P.Household, **kw: Any) -> P.ReturnHouseholdRequest:
    fields: dict[str, Any] = dict(request_id=pk.rid(), household_id=home.id,
                                  returned_on=(pk.TODAY - timedelta(days=1)).isoformat(), reason="回迁")
    fields.update(kw)
    return P.ReturnHouseholdRequest(**fields)


async def return_home(pk: Any, home: P.Household, metadata: Any = None, **kw: Any) -> P.Household:
    reply = await pk.stub.ReturnHousehold(return_request(pk, home, **kw), metadata=metadata or pk.ADMIN)
    household: P.Household = reply.household
    return household


async def events_of(pk: Any, key: str, kind: Any) -> list[Any]:
    """The events of a type (``kind``, the message class) written for a key, in order."""
    outbox = messaging.outbox
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.payload).where(
            outbox.c.key == key, outbox.c.event_type == kind.DESCRIPTOR.full_name)
            .order_by(outbox.c.seq))).scalars().all()
    found = []
    for payload in rows:
        data = kind()
        assert event_pb2.EventEnvelope.FromString(payload).data.Unpack(data)
        found.append(data)
    return found


async def return_snapshot(pk: Any, home: P.Household) -> tuple[Any, ...]:
    """What a return would touch: the household with its members, its account (balance,
    closing day), the events of both and the kept answers of returns."""
    account = await pk.account(pk.ref(home))
    keys = messaging.idempotency_keys
    return (*await snapshot(pk, home), account,
            await pk.count(messaging.outbox, messaging.outbox.c.key == account.id),
            await pk.count(keys, keys.c.method.contains("ReturnHousehold")))


async def test_a_household_that_moved_back_is_on_the_roster_again_with_its_members_and_account(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village, head="王建国")
    person = str(uuid.uuid4())
    son = await add_member(pk, home, "王小明", talent_person_id=person, joined_on="2025-03-01",
                           moved_in=True)
    wife = await add_member(pk, home, "李桂兰", relation="配偶")
    grandma = await add_member(pk, home, "张秀英", relation="母亲")
    await pk.stub.RecordMemberLeft(P.RecordMemberLeftRequest(
        request_id=pk.rid(), member_id=grandma.id, left_on="2025-06-01", reason="去世"), metadata=pk.ADMIN)
    await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=pk.TODAY - timedelta(days=8))
    moved_out_on = pk.TODAY - timedelta(days=5)
    moved = await move_out(pk, home, moved_out_on)
    assert {m.left_reason for m in moved.members} == {"household moved out (整户迁出)", "去世"}
    account = await pk.account(pk.ref(home))
    assert (account.closed_on, account.balance) == (moved_out_on.isoformat(), 5)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.award(pk.ref(home), scheme.id, "HJ-01")
    assert err.value.code() == REFUSED
    request = return_request(pk, home, returned_on=(pk.TODAY - timedelta(days=1)).isoformat(),
                             reason=" 回迁 ")

    first, second = await asyncio.gather(pk.stub.ReturnHousehold(request, metadata=pk.ADMIN),
                                         pk.stub.ReturnHousehold(request, metadata=pk.ADMIN))

    assert first == second
    back = first.household
    assert (back.status, back.moved_out_on, back.move_out_reason, back.member_count, back.head_name) == (
        P.HOUSEHOLD_STATUS_ACTIVE, "", "", 3, "王建国")
    assert [(m.id, m.left_on, m.left_reason) for m in back.members] == [
        (son.id, "", ""), (wife.id, "", ""), (grandma.id, "2025-06-01", "去世")]
    got = await pk.stub.GetHousehold(P.GetHouseholdRequest(id=home.id), metadata=pk.ADMIN)
    assert got.household == back
    reopened = await pk.account(pk.ref(home))
    assert (reopened.id, reopened.closed_on, reopened.balance) == (account.id, "", 5)

    assert await events_of(pk, home.id, events_pb2.HouseholdReturnedEvent) == [
        events_pb2.HouseholdReturnedEvent(
            household_id=home.id, region_code=village, returned_on=request.returned_on,
            moved_out_on=moved_out_on.isoformat(), reason="回迁", move_out_reason="整户迁往县城",
            member_ids=[son.id, wife.id])]
    assert await events_of(pk, account.id, events_pb2.AccountReopenedEvent) == [
        events_pb2.AccountReopenedEvent(account_id=account.id, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                                        subject_id=home.id, region_code=village)]
    # The year's base score it already had is not given twice.
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    assert [e.kind for e in statement.entries] == [P.ENTRY_KIND_AWARD]

    # A replay writes nothing; the same key with another request is refused.
    before = await return_snapshot(pk, home)
    assert await pk.stub.ReturnHousehold(request, metadata=pk.ADMIN) == first
    assert await return_snapshot(pk, home) == before
    request.reason = "撤销迁出"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReturnHousehold(request, metadata=pk.ADMIN)
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (INVALID, "request_id")
    assert await return_snapshot(pk, home) == before

    # On the roster again: it earns points, its members are its own again.
    await pk.award(pk.ref(home), scheme.id, "HJ-01")
    assert (await pk.account(pk.ref(home))).balance == 10
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await add_member(pk, await pk.household(village), "王小明", talent_person_id=person, moved_in=True)
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (EXISTS, "talent_person_id")
    again = await return_snapshot(pk, home)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(pk, home)
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (REFUSED, "household_id")
    assert await return_snapshot(pk, home) == again


async def test_a_move_out_recorded_by_mistake_is_undone_the_same_day(pk: Any) -> None:
    home = await pk.household(pk.village())
    member = await add_member(pk, home, "王小明")
    await move_out(pk, home, pk.TODAY)
    back = await return_home(pk, home, returned_on=pk.TODAY.isoformat(), reason="误录迁出，撤销")
    assert (back.status, [(m.id, m.left_on) for m in back.members]) == (
        P.HOUSEHOLD_STATUS_ACTIVE, [(member.id, "")])
    assert (await pk.account(pk.ref(home))).closed_on == ""


async def test_a_later_move_out_is_not_dated_before_the_return(pk: Any) -> None:
    home = await pk.household(pk.village())
    await move_out(pk, home, pk.TODAY - timedelta(days=20))
    await return_home(pk, home, returned_on=(pk.TODAY - timedelta(days=5)).isoformat())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await move_out(pk, home, pk.TODAY - timedelta(days=10))
    assert err.value.code() == REFUSED
    [(field, description)] = rpc_error_details(err.value)
    assert field == "moved_out_on" and (pk.TODAY - timedelta(days=5)).isoformat() in description
    assert (await move_out(pk, home, pk.TODAY)).status == P.HOUSEHOLD_STATUS_MOVED_OUT


async def test_a_household_back_in_a_later_year_starts_it_at_the_base_score(pk: Any) -> None:
    village = pk.village()
    await pk.scheme(village, base_score=50)
    home = await pk.household(village)
    await move_out(pk, home, pk.TODAY)
    await pk.scheme(village, year=2026, effective_from=date(2026, 1, 1), base_score=80)
    pk.clock.set(datetime.combine(date(2026, 1, 10), time(10), CHINA))

    await return_home(pk, home, returned_on="2026-01-08")

    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    assert sorted((e.kind, e.year, e.amount) for e in statement.entries) == [
        (P.ENTRY_KIND_BASE, 2025, 50), (P.ENTRY_KIND_BASE, 2026, 80)]
    assert (statement.account.balance, statement.account.closed_on) == (130, "")


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"request_id": ""}, INVALID, "request_id"),
    ({"household_id": ""}, INVALID, "household_id"),
    ({"household_id": "nope"}, INVALID, "household_id"),
    ({"household_id": str(uuid.uuid4())}, NOT_FOUND, "household_id"),
    ({"returned_on": ""}, INVALID, "returned_on"),
    ({"returned_on": "2025-02-30"}, INVALID, "returned_on"),
    ({"returned_on": "2025-06-19"}, INVALID, "returned_on"),
    ({"returned_on": "2025-06-09"}, REFUSED, "returned_on"),
    ({"reason": ""}, INVALID, "reason"),
    ({"reason": "  "}, INVALID, "reason"),
    ({"reason": "因" * 501}, INVALID, "reason"),
])
async def test_a_bad_return_names_the_field_and_writes_nothing(
        pk: Any, fields: dict[str, Any], code: grpc.StatusCode, field: str) -> None:
    home = await pk.household(pk.village())
    await add_member(pk, home, "王小明")
    await move_out(pk, home, date(2025, 6, 10))
    before = await return_snapshot(pk, home)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(pk, home, **fields)
    assert err.value.code() == code
    assert field in [f for f, _ in rpc_error_details(err.value)]
    if field == "returned_on" and code == REFUSED:
        assert "2025-06-10" in rpc_error_details(err.value)[0][1]
    assert await return_snapshot(pk, home) == before
    assert (await return_home(pk, home, returned_on="2025-06-10")).status == P.HOUSEHOLD_STATUS_ACTIVE


async def test_only_a_household_that_moved_out_returns(pk: Any) -> None:
    home = await pk.household(pk.village())
    before = await return_snapshot(pk, home)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(pk, home)
    assert err.value.code() == REFUSED
    [(field, description)] = rpc_error_details(err.value)
    assert field == "household_id" and "moved out" in description
    assert await return_snapshot(pk, home) == before


async def test_a_member_now_in_another_household_refuses_the_whole_return(pk: Any) -> None:
    village = pk.village()
    home, neighbour = await pk.household(village), await pk.household(village, head="李国强")
    person = str(uuid.uuid4())
    wife = await add_member(pk, home, "李桂兰", relation="配偶")
    son = await add_member(pk, home, "王小明", talent_person_id=person, moved_in=True)
    await move_out(pk, home, pk.TODAY - timedelta(days=5))
    joined = await add_member(pk, neighbour, "王小明", talent_person_id=person, moved_in=True)
    before, theirs = await return_snapshot(pk, home), await snapshot(pk, neighbour)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(pk, home)

    assert err.value.code() == EXISTS
    [(field, description)] = rpc_error_details(err.value)
    assert field == "household_id"
    assert all(part in description for part in ("王小明", son.id, neighbour.household_number, neighbour.id))
    assert await return_snapshot(pk, home) == before
    assert await snapshot(pk, neighbour) == theirs
    # Once recorded leaving the other household, the member comes back with this one.
    await pk.stub.RecordMemberLeft(P.RecordMemberLeftRequest(
        request_id=pk.rid(), member_id=joined.id, left_on=pk.TODAY.isoformat(), reason="回迁原户"),
        metadata=pk.ADMIN)
    back = await return_home(pk, home)
    assert [(m.id, m.left_on) for m in back.members] == [(wife.id, ""), (son.id, "")]


async def test_a_return_and_a_member_joining_elsewhere_at_once_one_wins(pk: Any) -> None:
    village = pk.village()
    home, neighbour = await pk.household(village), await pk.household(village, head="李国强")
    person = str(uuid.uuid4())
    await add_member(pk, home, "赵敏", talent_person_id=person, moved_in=True)
    await move_out(pk, home, pk.TODAY - timedelta(days=5))

    results = await asyncio.gather(
        return_home(pk, home), add_member(pk, neighbour, "赵敏", talent_person_id=person, moved_in=True),
        return_exceptions=True)

    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], grpc.aio.AioRpcError)
    assert failures[0].code() == EXISTS
    got = await pk.stub.BatchGetHouseholds(P.BatchGetHouseholdsRequest(ids=[home.id, neighbour.id]),
                                           metadata=pk.ADMIN)
    current = [h.id for h in got.households for m in h.members if not m.left_on]
    assert len(current) == 1
    returned = got.households[0].status == P.HOUSEHOLD_STATUS_ACTIVE
    assert current == ([home.id] if returned else [neighbour.id])


async def test_only_managers_within_scope_return_a_household(pk: Any) -> None:
    village, elsewhere = pk.village(), pk.village()
    home = await pk.household(village)
    await move_out(pk, home, pk.TODAY - timedelta(days=5))
    before = await return_snapshot(pk, home)
    outsider = auth_metadata(elsewhere, roles=("village_clerk",), subject="clerk-elsewhere")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(pk, home, metadata=outsider)
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (DENIED, "household_id")
    viewer = auth_metadata(village, roles=("viewer",), subject="viewer")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(pk, home, metadata=viewer)
    assert err.value.code() == DENIED
    assert await return_snapshot(pk, home) == before
    clerk = auth_metadata(village, roles=("village_clerk",), subject="clerk")
    assert (await return_home(pk, home, metadata=clerk)).status == P.HOUSEHOLD_STATUS_ACTIVE


async def test_returns_run_on_sqlite_too(lite: Any) -> None:
    village = lite.village()
    home, neighbour = await lite.household(village), await lite.household(village, head="李国强")
    person = str(uuid.uuid4())
    member = await add_member(lite, home, "王小明", talent_person_id=person, moved_in=True)
    await move_out(lite, home, lite.TODAY - timedelta(days=5))
    joined = await add_member(lite, neighbour, "王小明", talent_person_id=person, moved_in=True)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await return_home(lite, home)
    assert (err.value.code(), rpc_error_details(err.value)[0][0]) == (EXISTS, "household_id")
    await lite.stub.RecordMemberLeft(P.RecordMemberLeftRequest(
        request_id=lite.rid(), member_id=joined.id, left_on=lite.TODAY.isoformat(), reason="回迁原户"),
        metadata=lite.ADMIN)
    back = await return_home(lite, home)
    assert (back.status, [(m.id, m.left_on) for m in back.members]) == (
        P.HOUSEHOLD_STATUS_ACTIVE, [(member.id, "")])
    assert (await lite.account(lite.ref(home))).closed_on == ""

