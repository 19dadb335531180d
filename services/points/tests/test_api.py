"""PointsService over real gRPC, on real PostgreSQL, with the outbox relay to a real broker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.common.v1 import event_pb2
from shanzhi.common.v1.paging_pb2 import PageRequest
from shanzhi.points.v1 import events_pb2, points_pb2, points_pb2_grpc
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details, wait_until
from shanzhi_kit.server import ServiceHost
from shanzhi_points.tables import households, messaging
from sqlalchemy import func, select

pytestmark = pytest.mark.postgres

COUNTY = "130123"
TOWNSHIP = f"{COUNTY}101"


def village(n: int) -> str:
    return f"{TOWNSHIP}{n:03d}"


ADMIN = auth_metadata(COUNTY)
Stub = points_pb2_grpc.PointsServiceStub


def rid() -> str:
    return str(uuid.uuid4())


def number() -> str:
    return f"H-{uuid.uuid4().hex[:10]}"


def create_request(region: str = village(1), **kw: Any) -> points_pb2.CreateHouseholdRequest:
    fields: dict[str, Any] = dict(request_id=rid(), region_code=region, household_number=number(),
                                  head_name="王建国", member_count=4, villager_group="第三组")
    fields.update(kw)
    return points_pb2.CreateHouseholdRequest(**fields)


async def create(stub: Stub, region: str = village(1), **kw: Any) -> points_pb2.Household:
    return (await stub.CreateHousehold(create_request(region, **kw), metadata=ADMIN)).household


async def count(host: ServiceHost, table: Any, *where: Any) -> int:
    async with host.engine.connect() as conn:
        query = select(func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int((await conn.execute(query)).scalar_one())


#: Events a household's creation writes: HouseholdCreatedEvent and its AccountOpenedEvent.
CREATION_EVENTS = 2


async def written(host: ServiceHost) -> tuple[int, int]:
    """Rows in the households table and in the outbox."""
    return await count(host, households), await count(host, messaging.outbox)


async def test_health_is_serving_once_the_database_answers(points_host: ServiceHost) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{points_host.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(
            service="shanzhi.points.v1.PointsService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_create_then_read_one_and_in_batch(points: Stub) -> None:
    a = await create(points, head_name="王芳", member_count=3, villager_group=" 第一组 ")
    b = await create(points, head_name="李强", villager_group="")
    assert a.head_name == "王芳" and a.member_count == 3 and a.villager_group == "第一组"
    assert a.created_by == "tester" and a.create_time.seconds > 0 and a.region_code == village(1)
    got = (await points.GetHousehold(points_pb2.GetHouseholdRequest(id=a.id), metadata=ADMIN)).household
    assert got == a
    batch = await points.BatchGetHouseholds(
        points_pb2.BatchGetHouseholdsRequest(ids=[b.id, str(uuid.uuid4()), a.id.upper(), b.id]),
        metadata=ADMIN)
    assert [h.id for h in batch.households] == [b.id, a.id]
    assert list(batch.households) == [b, a]


async def test_list_pages_and_filters_by_region_prefix(points: Stub) -> None:
    made = {(await create(points, region=village(10))).id for _ in range(5)}
    neighbour = await create(points, region=village(11))
    seen: list[str] = []
    token, pages = "", 0
    while True:
        reply = await points.ListHouseholds(
            points_pb2.ListHouseholdsRequest(region_code_prefix=village(10),
                                             page=PageRequest(page_size=2, page_token=token)),
            metadata=ADMIN)
        pages += 1
        assert len(reply.households) <= 2
        seen += [h.id for h in reply.households]
        token = reply.page_info.next_page_token
        if not token:
            break
    assert set(seen) == made and len(seen) == 5 and pages == 3
    township = await points.ListHouseholds(
        points_pb2.ListHouseholdsRequest(region_code_prefix=TOWNSHIP, page=PageRequest(page_size=500)),
        metadata=ADMIN)
    township_ids = {h.id for h in township.households}
    assert made | {neighbour.id} <= township_ids
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.ListHouseholds(
            points_pb2.ListHouseholdsRequest(page=PageRequest(page_token="not-a-token")), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "page.page_token"


async def test_retry_with_the_same_request_id_creates_once(
    points: Stub, points_host: ServiceHost,
) -> None:
    req = create_request(village(2))
    before = await written(points_host)
    first, second = await asyncio.gather(points.CreateHousehold(req, metadata=ADMIN),
                                         points.CreateHousehold(req, metadata=ADMIN))
    assert first.household == second.household
    assert await written(points_host) == (before[0] + 1, before[1] + CREATION_EVENTS)
    again = await points.CreateHousehold(req, metadata=ADMIN)
    assert again.household == first.household
    req.head_name = "另一个户主"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.CreateHousehold(req, metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "request_id"
    assert await written(points_host) == (before[0] + 1, before[1] + CREATION_EVENTS)


async def test_a_household_number_names_one_household_per_village(
    points: Stub, points_host: ServiceHost,
) -> None:
    taken = await create(points, region=village(12))
    before = await written(points_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(points, region=village(12), household_number=taken.household_number)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(points, region=village(12), household_number=f" {taken.household_number} ")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert await written(points_host) == before
    elsewhere = await create(points, region=village(13), household_number=taken.household_number)
    assert elsewhere.household_number == taken.household_number


async def test_concurrent_creations_of_one_household_number_exactly_one_wins(
    points: Stub, points_host: ServiceHost,
) -> None:
    region, shared = village(14), number()
    before = await count(points_host, messaging.outbox)
    results = await asyncio.gather(
        *(create(points, region=region, household_number=shared, head_name=f"户主{i}")
          for i in range(6)),
        return_exceptions=True)
    wins = [r for r in results if isinstance(r, points_pb2.Household)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(wins) == 1 and len(losses) == 5
    assert {e.code() for e in losses} == {grpc.StatusCode.ALREADY_EXISTS}
    assert await count(points_host, households, households.c.region_code == region) == 1
    assert await count(points_host, messaging.outbox) == before + CREATION_EVENTS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"region_code": "13012X101201"}, "region_code"),
        ({"region_code": "1301231012"}, "region_code"),
        ({"region_code": TOWNSHIP + "000"}, "region_code"),
        ({"household_number": ""}, "household_number"),
        ({"household_number": "1" * 31}, "household_number"),
        ({"head_name": ""}, "head_name"),
        ({"head_name": "  "}, "head_name"),
        ({"member_count": 0}, "member_count"),
        ({"member_count": 100}, "member_count"),
        ({"villager_group": "组" * 31}, "villager_group"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    points: Stub, points_host: ServiceHost, change: dict[str, Any], field: str,
) -> None:
    before = await written(points_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.CreateHousehold(create_request(village(3), **change), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in rpc_error_details(err.value)]
    assert await written(points_host) == before


async def test_every_missing_field_is_named_at_once(points: Stub, points_host: ServiceHost) -> None:
    before = await written(points_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.CreateHousehold(points_pb2.CreateHouseholdRequest(request_id=rid()),
                                     metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in rpc_error_details(err.value)} == {
        "region_code", "household_number", "head_name", "member_count"}
    assert await written(points_host) == before


async def test_unknown_and_malformed_ids(points: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.GetHousehold(points_pb2.GetHouseholdRequest(id=str(uuid.uuid4())), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for bad in ["nope", ""]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await points.GetHousehold(points_pb2.GetHouseholdRequest(id=bad), metadata=ADMIN)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error_details(err.value)[0][0] == "id"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.BatchGetHouseholds(
            points_pb2.BatchGetHouseholdsRequest(ids=[str(uuid.uuid4()), "nope"]), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "ids[1]"


async def test_scope_bounds_reads_and_writes(points: Stub, points_host: ServiceHost) -> None:
    mine = await create(points, region=village(4))
    theirs = await create(points, region=village(5))
    clerk5 = auth_metadata(village(5), roles=("village_clerk",), subject="clerk5")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.GetHousehold(points_pb2.GetHouseholdRequest(id=mine.id), metadata=clerk5)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    batch = await points.BatchGetHouseholds(
        points_pb2.BatchGetHouseholdsRequest(ids=[mine.id, theirs.id]), metadata=clerk5)
    assert [h.id for h in batch.households] == [theirs.id]
    before = await written(points_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.CreateHousehold(create_request(village(4)), metadata=clerk5)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await written(points_host) == before
    listed = await points.ListHouseholds(points_pb2.ListHouseholdsRequest(), metadata=clerk5)
    assert theirs.id in {h.id for h in listed.households}
    assert all(h.region_code == village(5) for h in listed.households)
    widened = await points.ListHouseholds(
        points_pb2.ListHouseholdsRequest(region_code_prefix=COUNTY), metadata=clerk5)
    assert all(h.region_code == village(5) for h in widened.households)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.ListHouseholds(
            points_pb2.ListHouseholdsRequest(region_code_prefix=village(4)), metadata=clerk5)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    no_scope = auth_metadata("", subject="nobody")
    listed = await points.ListHouseholds(points_pb2.ListHouseholdsRequest(), metadata=no_scope)
    assert list(listed.households) == []
    batch = await points.BatchGetHouseholds(
        points_pb2.BatchGetHouseholdsRequest(ids=[mine.id]), metadata=no_scope)
    assert list(batch.households) == []


async def test_calls_without_a_valid_token_are_refused(points: Stub) -> None:
    for metadata in [(), (("authorization", "Bearer not-a-jwt"),)]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await points.ListHouseholds(points_pb2.ListHouseholdsRequest(), metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_creation_writes_its_event_in_the_outbox(points: Stub, points_host: ServiceHost) -> None:
    made = await create(points, region=village(6))
    async with points_host.engine.connect() as conn:
        rows = (await conn.execute(
            select(messaging.outbox.c.event_type, messaging.outbox.c.topic,
                   messaging.outbox.c.payload)
            .where(messaging.outbox.c.key == made.id))).all()
    assert [(r.event_type, r.topic) for r in rows] == [
        ("shanzhi.points.v1.HouseholdCreatedEvent", "shanzhi.points.v1")]
    env = event_pb2.EventEnvelope.FromString(rows[0].payload)
    assert (env.source, env.subject, env.region_code, env.actor) == (
        "shanzhi.points", made.id, village(6), "tester")
    data = events_pb2.HouseholdCreatedEvent()
    assert env.data.Unpack(data)
    assert data == events_pb2.HouseholdCreatedEvent(
        household_id=made.id, region_code=village(6), household_number=made.household_number)


async def test_outbox_rows_are_published(points_host: ServiceHost, points: Stub) -> None:
    await create(points, region=village(9))

    async def all_published() -> bool:
        left = await count(points_host, messaging.outbox, messaging.outbox.c.published_at.is_(None))
        return left == 0

    await wait_until(all_published, within=20)


async def test_members_join_and_leave_and_a_household_moves_out(points: Stub) -> None:
    home = await create(points, region=village(15), member_count=2)
    assert home.status == points_pb2.HOUSEHOLD_STATUS_ACTIVE and home.account_id
    added = await points.AddHouseholdMember(points_pb2.AddHouseholdMemberRequest(
        request_id=rid(), household_id=home.id, name="王小明", relation="子女", joined_on="2025-03-01",
        moved_in=True), metadata=ADMIN)
    assert added.household.member_count == 3 and added.member.name == "王小明"
    known = await points.AddHouseholdMember(points_pb2.AddHouseholdMemberRequest(
        request_id=rid(), household_id=home.id, name="李桂兰", relation="配偶"), metadata=ADMIN)
    assert known.household.member_count == 3 and len(known.household.members) == 2
    left = await points.RecordMemberLeft(points_pb2.RecordMemberLeftRequest(
        request_id=rid(), member_id=added.member.id, left_on="2025-06-01", reason="外出务工迁出"),
        metadata=ADMIN)
    assert left.household.member_count == 2
    assert [(m.name, m.left_on) for m in left.household.members] == [
        ("王小明", "2025-06-01"), ("李桂兰", "")]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.RecordMemberLeft(points_pb2.RecordMemberLeftRequest(
            request_id=rid(), member_id=added.member.id, left_on="2025-06-02", reason="again"),
            metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0][0] == "member_id"
    moved = await points.MoveHouseholdOut(points_pb2.MoveHouseholdOutRequest(
        request_id=rid(), household_id=home.id, moved_out_on="2025-06-10", reason="整户迁出"),
        metadata=ADMIN)
    assert (moved.household.status, moved.household.moved_out_on) == (
        points_pb2.HOUSEHOLD_STATUS_MOVED_OUT, "2025-06-10")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.AddHouseholdMember(points_pb2.AddHouseholdMemberRequest(
            request_id=rid(), household_id=home.id, name="张三", relation="其他"), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    got = await points.GetHousehold(points_pb2.GetHouseholdRequest(id=home.id), metadata=ADMIN)
    assert got.household == moved.household


async def test_a_viewer_cannot_change_the_roster(points: Stub) -> None:
    viewer = auth_metadata(village(16), roles=("viewer",), subject="viewer")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await points.CreateHousehold(create_request(village(16)), metadata=viewer)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
