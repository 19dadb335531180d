"""ListsService over real gRPC, on real PostgreSQL, with the outbox relay to a real broker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.common.v1 import event_pb2
from shanzhi.lists.v1 import events_pb2, lists_pb2, lists_pb2_grpc
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details, wait_until
from shanzhi_kit.server import ServiceHost
from shanzhi_lists.tables import list_items, messaging
from sqlalchemy import func, select

pytestmark = pytest.mark.postgres

COUNTY = "130123"
COUNTY_CODE = f"{COUNTY}000000"


def township(n: int) -> str:
    """The 12-digit code of township ``n`` (乡镇级)."""
    return f"{COUNTY}{n:03d}000"


def village(n: int, t: int = 101) -> str:
    """The 12-digit code of village ``n`` of township ``t`` (村级)."""
    return f"{COUNTY}{t:03d}{n:03d}"


ADMIN = auth_metadata(COUNTY)
Stub = lists_pb2_grpc.ListsServiceStub
SERVICE_KIND = lists_pb2.LIST_KIND_PUBLIC_SERVICE
NEGATIVE_KIND = lists_pb2.LIST_KIND_NEGATIVE


def rid() -> str:
    return str(uuid.uuid4())


def code() -> str:
    return f"FW-{uuid.uuid4().hex[:10].upper()}"


def create_request(region: str = village(1), **kw: Any) -> lists_pb2.CreateListItemRequest:
    fields: dict[str, Any] = dict(
        request_id=rid(), region_code=region, kind=SERVICE_KIND, code=code(),
        title="低保申请帮办代办", legal_basis="《社会救助暂行办法》", responsible_body="村便民服务站",
        steps=["受理申请", "入户核查", "村民代表评议", "上报乡镇"], time_limit_days=15,
        supervisor="乡镇民政办")
    fields.update(kw)
    return lists_pb2.CreateListItemRequest(**fields)


async def create(stub: Stub, region: str = village(1), **kw: Any) -> lists_pb2.ListItem:
    return (await stub.CreateListItem(create_request(region, **kw), metadata=ADMIN)).item


async def count(host: ServiceHost, table: Any, *where: Any) -> int:
    async with host.engine.connect() as conn:
        query = select(func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int((await conn.execute(query)).scalar_one())


async def written(host: ServiceHost) -> tuple[int, int]:
    """Rows in the list_items table and in the outbox."""
    return await count(host, list_items), await count(host, messaging.outbox)


async def list_all(stub: Stub, metadata: Any, page_size: int = 2, **kw: Any) -> tuple[list[str], int]:
    """Every item id over all pages, and the number of pages."""
    seen: list[str] = []
    token, pages = "", 0
    while True:
        reply = await stub.ListListItems(
            lists_pb2.ListListItemsRequest(page={"page_size": page_size, "page_token": token}, **kw),
            metadata=metadata)
        pages += 1
        assert len(reply.items) <= page_size
        seen += [i.id for i in reply.items]
        token = reply.page_info.next_page_token
        if not token:
            return seen, pages


async def test_health_is_serving_once_the_database_answers(lists_host: ServiceHost) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{lists_host.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(
            service="shanzhi.lists.v1.ListsService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_create_then_read_one_and_in_batch(lists: Stub) -> None:
    a = await create(lists, steps=[" 受理 ", "审核", "办结"], title=" 代办 ")
    b = await create(lists, kind=NEGATIVE_KIND, steps=[], time_limit_days=0, legal_basis="",
                     responsible_body="", supervisor="")
    assert list(a.steps) == ["受理", "审核", "办结"] and a.title == "代办"
    assert (a.kind, a.time_limit_days, a.supervisor) == (SERVICE_KIND, 15, "乡镇民政办")
    assert a.created_by == "tester" and a.create_time.seconds > 0
    got = (await lists.GetListItem(lists_pb2.GetListItemRequest(id=a.id), metadata=ADMIN)).item
    assert got == a
    got_b = (await lists.GetListItem(lists_pb2.GetListItemRequest(id=b.id), metadata=ADMIN)).item
    assert got_b == b and list(got_b.steps) == []
    batch = await lists.BatchGetListItems(
        lists_pb2.BatchGetListItemsRequest(ids=[b.id, str(uuid.uuid4()), a.id.upper(), b.id]),
        metadata=ADMIN)
    assert list(batch.items) == [b, a]


async def test_county_township_and_village_levels_own_items(lists: Stub) -> None:
    for region in [COUNTY_CODE, township(101), village(2)]:
        made = await create(lists, region=region)
        assert made.region_code == region


async def test_list_pages_and_filters_by_region_prefix_and_kind(lists: Stub) -> None:
    t = 201
    services = {(await create(lists, region=village(1, t))).id for _ in range(3)}
    services.add((await create(lists, region=township(t))).id)
    negatives = {(await create(lists, region=village(2, t), kind=NEGATIVE_KIND)).id
                 for _ in range(2)}
    elsewhere = await create(lists, region=village(1, 202))

    seen, pages = await list_all(lists, ADMIN, region_code_prefix=f"{COUNTY}{t:03d}")
    assert len(seen) == 6 and set(seen) == services | negatives and pages == 3
    seen, _ = await list_all(lists, ADMIN, region_code_prefix=f"{COUNTY}{t:03d}", kind=SERVICE_KIND)
    assert len(seen) == 4 and set(seen) == services
    seen, _ = await list_all(lists, ADMIN, region_code_prefix=village(2, t), kind=NEGATIVE_KIND)
    assert set(seen) == negatives
    seen, _ = await list_all(lists, ADMIN, page_size=500, region_code_prefix=COUNTY)
    assert services | negatives | {elsewhere.id} <= set(seen)
    for bad, field in [({"kind": 42}, "kind"), ({"region_code_prefix": "13x"}, "region_code_prefix"),
                       ({"page": {"page_token": "nope"}}, "page.page_token")]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await lists.ListListItems(lists_pb2.ListListItemsRequest(**bad), metadata=ADMIN)  # type: ignore[arg-type]
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error_details(err.value)[0][0] == field


async def test_retry_with_the_same_request_id_creates_once(
    lists: Stub, lists_host: ServiceHost,
) -> None:
    req = create_request(village(3))
    before = await written(lists_host)
    first, second = await asyncio.gather(lists.CreateListItem(req, metadata=ADMIN),
                                         lists.CreateListItem(req, metadata=ADMIN))
    assert first.item == second.item
    assert await written(lists_host) == (before[0] + 1, before[1] + 1)
    again = await lists.CreateListItem(req, metadata=ADMIN)
    assert again.item == first.item
    req.steps.append("归档")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await lists.CreateListItem(req, metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "request_id"
    assert await written(lists_host) == (before[0] + 1, before[1] + 1)


async def test_an_item_code_names_one_item_per_region_and_list(
    lists: Stub, lists_host: ServiceHost,
) -> None:
    taken = await create(lists, region=village(4))
    before = await written(lists_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(lists, region=village(4), code=taken.code, title="另一个事项")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert await written(lists_host) == before
    other_list = await create(lists, region=village(4), code=taken.code, kind=NEGATIVE_KIND)
    other_region = await create(lists, region=village(5), code=taken.code)
    assert other_list.code == other_region.code == taken.code


async def test_concurrent_creations_of_one_item_code_exactly_one_wins(
    lists: Stub, lists_host: ServiceHost,
) -> None:
    region, shared = village(6), code()
    before = await count(lists_host, messaging.outbox)
    results = await asyncio.gather(
        *(create(lists, region=region, code=shared, title=f"事项{i}") for i in range(6)),
        return_exceptions=True)
    wins = [r for r in results if isinstance(r, lists_pb2.ListItem)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(wins) == 1 and len(losses) == 5
    assert {e.code() for e in losses} == {grpc.StatusCode.ALREADY_EXISTS}
    assert await count(lists_host, list_items, list_items.c.region_code == region) == 1
    assert await count(lists_host, messaging.outbox) == before + 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"region_code": "13012X101201"}, "region_code"),
        ({"region_code": "1301231012"}, "region_code"),
        ({"region_code": f"{COUNTY}000201"}, "region_code"),
        ({"kind": lists_pb2.LIST_KIND_UNSPECIFIED}, "kind"),
        ({"code": ""}, "code"),
        ({"code": "FW 001"}, "code"),
        ({"code": "A" * 41}, "code"),
        ({"title": ""}, "title"),
        ({"title": "题" * 201}, "title"),
        ({"steps": ["受理", ""]}, "steps[1]"),
        ({"steps": ["步"] * 51}, "steps"),
        ({"time_limit_days": -1}, "time_limit_days"),
        ({"time_limit_days": 3651}, "time_limit_days"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    lists: Stub, lists_host: ServiceHost, change: dict[str, Any], field: str,
) -> None:
    before = await written(lists_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await lists.CreateListItem(create_request(village(7), **change), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in rpc_error_details(err.value)]
    assert await written(lists_host) == before


async def test_every_missing_field_is_named_at_once(lists: Stub, lists_host: ServiceHost) -> None:
    before = await written(lists_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await lists.CreateListItem(lists_pb2.CreateListItemRequest(request_id=rid()), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in rpc_error_details(err.value)} == {"region_code", "kind", "code", "title"}
    assert await written(lists_host) == before


async def test_unknown_and_malformed_ids(lists: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await lists.GetListItem(lists_pb2.GetListItemRequest(id=str(uuid.uuid4())), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert [f for f, _ in rpc_error_details(err.value)] == ["id"]
    for bad in ["nope", ""]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await lists.GetListItem(lists_pb2.GetListItemRequest(id=bad), metadata=ADMIN)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error_details(err.value)[0][0] == "id"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await lists.BatchGetListItems(
            lists_pb2.BatchGetListItemsRequest(ids=[str(uuid.uuid4()), "nope"]), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "ids[1]"


async def test_scope_bounds_reads_and_writes(lists: Stub, lists_host: ServiceHost) -> None:
    t = 301
    county_item = await create(lists, region=COUNTY_CODE)
    township_item = await create(lists, region=township(t))
    village_item = await create(lists, region=village(1, t))
    other_township_item = await create(lists, region=village(1, 302))
    officer = auth_metadata(f"{COUNTY}{t:03d}", roles=("township_officer",), subject="officer")

    for outside in (county_item, other_township_item):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await lists.GetListItem(lists_pb2.GetListItemRequest(id=outside.id), metadata=officer)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ids = [county_item.id, township_item.id, other_township_item.id, village_item.id]
    batch = await lists.BatchGetListItems(lists_pb2.BatchGetListItemsRequest(ids=ids),
                                          metadata=officer)
    assert [i.id for i in batch.items] == [township_item.id, village_item.id]
    seen, _ = await list_all(lists, officer, page_size=500, region_code_prefix=COUNTY)
    assert set(seen) == {township_item.id, village_item.id}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await lists.ListListItems(
            lists_pb2.ListListItemsRequest(region_code_prefix=f"{COUNTY}302"), metadata=officer)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    before = await written(lists_host)
    for region in (COUNTY_CODE, village(1, 302)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await lists.CreateListItem(create_request(region), metadata=officer)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await written(lists_host) == before
    made = (await lists.CreateListItem(create_request(village(2, t)), metadata=officer)).item
    assert made.created_by == "officer"

    no_scope = auth_metadata("", subject="nobody")
    listed = await lists.ListListItems(lists_pb2.ListListItemsRequest(), metadata=no_scope)
    assert list(listed.items) == []
    batch = await lists.BatchGetListItems(lists_pb2.BatchGetListItemsRequest(ids=ids),
                                          metadata=no_scope)
    assert list(batch.items) == []


async def test_calls_without_a_valid_token_are_refused(lists: Stub) -> None:
    for metadata in [(), (("authorization", "Bearer not-a-jwt"),)]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await lists.ListListItems(lists_pb2.ListListItemsRequest(), metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_creation_writes_its_event_in_the_outbox(lists: Stub, lists_host: ServiceHost) -> None:
    made = await create(lists, region=village(8), kind=lists_pb2.LIST_KIND_DISCLOSURE)
    async with lists_host.engine.connect() as conn:
        rows = (await conn.execute(
            select(messaging.outbox.c.event_type, messaging.outbox.c.topic,
                   messaging.outbox.c.payload)
            .where(messaging.outbox.c.key == made.id))).all()
    assert [(r.event_type, r.topic) for r in rows] == [
        ("shanzhi.lists.v1.ListItemCreatedEvent", "shanzhi.lists.v1")]
    env = event_pb2.EventEnvelope.FromString(rows[0].payload)
    assert (env.source, env.subject, env.region_code, env.actor) == (
        "shanzhi.lists", made.id, village(8), "tester")
    data = events_pb2.ListItemCreatedEvent()
    assert env.data.Unpack(data)
    assert data == events_pb2.ListItemCreatedEvent(
        item_id=made.id, region_code=village(8), kind=lists_pb2.LIST_KIND_DISCLOSURE, code=made.code)


async def test_outbox_rows_are_published(lists_host: ServiceHost, lists: Stub) -> None:
    await create(lists, region=village(9))

    async def all_published() -> bool:
        left = await count(lists_host, messaging.outbox, messaging.outbox.c.published_at.is_(None))
        return left == 0

    await wait_until(all_published, within=20)
