"""The points supermarket's goods (积分超市商品) over gRPC on PostgreSQL: every goods write
tells the points topic once, in its own transaction, keyed by the goods' id; a refused
write and a retried one tell nothing."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_points.domain import MAX_STOCK
from shanzhi_points.tables import messaging
from sqlalchemy import select

P = points_pb2
ROOT = Path(__file__).resolve().parents[3]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
REFUSED = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED
GOODS_EVENTS: dict[str, type[Message]] = {
    t.DESCRIPTOR.full_name: t
    for t in (events_pb2.GoodsAddedEvent, events_pb2.GoodsChangedEvent, events_pb2.GoodsRestockedEvent)
}


async def goods_events(pk: Any, village: str) -> list[tuple[str, Message]]:
    """The goods events of a village in the outbox, oldest first: (record key, data)."""
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(
            select(messaging.outbox.c.key, messaging.outbox.c.event_type, messaging.outbox.c.payload)
            .where(messaging.outbox.c.event_type.in_(list(GOODS_EVENTS)))
            .order_by(messaging.outbox.c.seq))).all()
    out: list[tuple[str, Message]] = []
    for key, event_type, payload in rows:
        env = event_pb2.EventEnvelope.FromString(payload)
        if env.region_code != village:
            continue
        assert (env.type, env.subject, env.source) == (event_type, key, "shanzhi.points")
        data = GOODS_EVENTS[event_type]()
        assert env.data.Unpack(data)
        out.append((key, data))
    return out


async def add(pk: Any, village: str, *, request_id: str = "", name: str = "洗衣粉", price: int = 5,
              stock: int = 10) -> P.Goods:
    reply = await pk.stub.AddGoods(P.AddGoodsRequest(
        request_id=request_id or pk.rid(), region_code=village, name=name, price=price, stock=stock),
        metadata=pk.ADMIN)
    return reply.goods


@pytest.mark.postgres
async def test_adding_goods_tells_their_whole_state_once(pk: Any) -> None:
    village = pk.village()
    request_id = pk.rid()
    soap = await add(pk, village, request_id=request_id, name="洗衣粉", price=12, stock=30)
    assert await goods_events(pk, village) == [(soap.id, events_pb2.GoodsAddedEvent(
        goods_id=soap.id, region_code=village, name="洗衣粉", price=12, stock=30, active=True))]
    # A retry gets the first answer and tells nothing more.
    assert await add(pk, village, request_id=request_id, name="洗衣粉", price=12, stock=30) == soap
    # Goods put up with no stock yet are told too, with stock 0.
    salt = await add(pk, village, name="食盐", price=2, stock=0)
    assert await goods_events(pk, village) == [
        (soap.id, events_pb2.GoodsAddedEvent(goods_id=soap.id, region_code=village, name="洗衣粉",
                                             price=12, stock=30, active=True)),
        (salt.id, events_pb2.GoodsAddedEvent(goods_id=salt.id, region_code=village, name="食盐",
                                             price=2, stock=0, active=True))]


@pytest.mark.postgres
async def test_updating_goods_tells_what_changed_and_the_state_after(pk: Any) -> None:
    village = pk.village()
    oil = await add(pk, village, name="花生油", price=40, stock=6)

    async def update(request_id: str = "", **fields: Any) -> P.Goods:
        values: dict[str, Any] = dict(name=oil.name, price=oil.price, active=True)
        values.update(fields)
        return (await pk.stub.UpdateGoods(P.UpdateGoodsRequest(
            request_id=request_id or pk.rid(), goods_id=oil.id, **values), metadata=pk.ADMIN)).goods

    # Taken off the shelf (下架) at a new price.
    request_id = pk.rid()
    off = await update(request_id, price=45, active=False)
    assert (off.price, off.active, off.stock) == (45, False, 6)
    # A retry gets the first answer and tells nothing more.
    assert await update(request_id, price=45, active=False) == off
    # Put back (上架) under a new name; then set as it is.
    await update(name="鲁花花生油", price=45, active=True)
    await update(name="鲁花花生油", price=45, active=True)
    changed = [data for _, data in await goods_events(pk, village)][1:]
    assert changed == [
        events_pb2.GoodsChangedEvent(goods_id=oil.id, region_code=village, changed_fields=["price", "active"],
                                     name="花生油", price=45, active=False, stock=6),
        events_pb2.GoodsChangedEvent(goods_id=oil.id, region_code=village, changed_fields=["name", "active"],
                                     name="鲁花花生油", price=45, active=True, stock=6),
        events_pb2.GoodsChangedEvent(goods_id=oil.id, region_code=village, changed_fields=[],
                                     name="鲁花花生油", price=45, active=True, stock=6)]
    assert {key for key, _ in await goods_events(pk, village)} == {oil.id}


@pytest.mark.postgres
async def test_restocking_tells_the_units_added_and_the_stock_after(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2)
    tea = await add(pk, village, name="茶叶", price=3, stock=4)
    # A reservation holds one unit: the restock's stock after counts from what is left.
    await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(home), goods_id=tea.id, quantity=1), metadata=pk.ADMIN)
    request = P.RestockGoodsRequest(request_id=pk.rid(), goods_id=tea.id, quantity=5, note="镇供销社")
    first = (await pk.stub.RestockGoods(request, metadata=pk.ADMIN)).goods
    assert first.stock == 8
    again = (await pk.stub.RestockGoods(request, metadata=pk.ADMIN)).goods
    assert again == first
    await pk.stub.RestockGoods(P.RestockGoodsRequest(request_id=pk.rid(), goods_id=tea.id, quantity=2),
                               metadata=pk.ADMIN)
    assert [(key, data) for key, data in await goods_events(pk, village)][1:] == [
        (tea.id, events_pb2.GoodsRestockedEvent(goods_id=tea.id, region_code=village, quantity=5,
                                                stock_after=8)),
        (tea.id, events_pb2.GoodsRestockedEvent(goods_id=tea.id, region_code=village, quantity=2,
                                                stock_after=10))]


@pytest.mark.postgres
async def test_refused_goods_writes_tell_nothing(pk: Any) -> None:
    village, other = pk.village(), pk.village()
    soap = await add(pk, village, price=5, stock=MAX_STOCK - 1)
    told = await goods_events(pk, village)
    assert len(told) == 1
    clerk = auth_metadata(other, roles=("village_clerk",), subject="other-clerk")
    refusals: list[tuple[Any, Message, Any, grpc.StatusCode, str]] = [
        (pk.stub.AddGoods, P.AddGoodsRequest(request_id=pk.rid(), region_code=village, name="酱油",
                                             price=0, stock=1), pk.ADMIN, INVALID, "price"),
        (pk.stub.AddGoods, P.AddGoodsRequest(request_id=pk.rid(), region_code=village, name="",
                                             price=3, stock=1), pk.ADMIN, INVALID, "name"),
        (pk.stub.AddGoods, P.AddGoodsRequest(request_id=pk.rid(), region_code=village, name="酱油",
                                             price=3, stock=1), clerk, DENIED, "region_code"),
        (pk.stub.UpdateGoods, P.UpdateGoodsRequest(request_id=pk.rid(), goods_id=soap.id, name="",
                                                   price=5, active=False), pk.ADMIN, INVALID, "name"),
        (pk.stub.UpdateGoods, P.UpdateGoodsRequest(request_id=pk.rid(), goods_id=soap.id, name="洗衣粉",
                                                   price=-1), pk.ADMIN, INVALID, "price"),
        (pk.stub.UpdateGoods, P.UpdateGoodsRequest(request_id=pk.rid(), goods_id=str(uuid.uuid4()),
                                                   name="洗衣粉", price=5), pk.ADMIN,
         grpc.StatusCode.NOT_FOUND, ""),
        (pk.stub.UpdateGoods, P.UpdateGoodsRequest(request_id=pk.rid(), goods_id=soap.id, name="洗衣粉",
                                                   price=5, active=False), clerk, DENIED, "goods_id"),
        (pk.stub.RestockGoods, P.RestockGoodsRequest(request_id=pk.rid(), goods_id=soap.id, quantity=0),
         pk.ADMIN, INVALID, "quantity"),
        # Refused inside the write's transaction, after the goods row was locked.
        (pk.stub.RestockGoods, P.RestockGoodsRequest(request_id=pk.rid(), goods_id=soap.id, quantity=2),
         pk.ADMIN, REFUSED, "quantity"),
        (pk.stub.RestockGoods, P.RestockGoodsRequest(request_id=pk.rid(), goods_id=soap.id, quantity=1),
         clerk, DENIED, "goods_id"),
    ]
    for method, request, metadata, code, field in refusals:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await method(request, metadata=metadata)
        assert err.value.code() == code, (request, err.value.details())
        if field:
            assert [f for f, _ in rpc_error_details(err.value)] == [field], request
    # A request id used again for a different request is refused, and tells nothing either.
    used = P.RestockGoodsRequest(request_id=pk.rid(), goods_id=soap.id, quantity=1)
    await pk.stub.RestockGoods(used, metadata=pk.ADMIN)
    used.note = "再补"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.RestockGoods(used, metadata=pk.ADMIN)
    assert err.value.code() == INVALID
    assert [f for f, _ in rpc_error_details(err.value)] == ["request_id"]
    assert await goods_events(pk, village) == [*told, (soap.id, events_pb2.GoodsRestockedEvent(
        goods_id=soap.id, region_code=village, quantity=1, stock_after=MAX_STOCK))]
    assert await goods_events(pk, other) == []


def test_the_event_catalogue_documents_the_goods_events() -> None:
    """docs/asyncapi.yaml names every goods event of events.proto and lists it on the points
    channel (read as text: the catalogue's layout is one message a block)."""
    proto = (ROOT / "proto/shanzhi/points/v1/events.proto").read_text()
    declared = {f"shanzhi.points.v1.{m}" for m in re.findall(r"^message (Goods\w+Event) \{", proto, re.M)}
    assert declared == set(GOODS_EVENTS)
    catalogue = (ROOT / "docs/asyncapi.yaml").read_text()
    documented = dict(re.findall(r"^    (\w+):\n      name: (shanzhi\.points\.v1\.Goods\w+Event)$",
                                 catalogue, re.M))
    assert set(documented.values()) == declared
    channel = catalogue.split("\n  points:\n", 1)[1].split("\n  lists:\n", 1)[0]
    for key in documented:
        assert f"{{$ref: '#/components/messages/{key}'}}" in channel, key
