"""Subscriptions (订阅) fed from Kafka: a real Tansu broker, a real uvicorn server, a
graphql-transport-ws client, and the fake service stubs behind the gateway.

Each test subscribes first, waits until the subscription is registered with the
event bridge (which itself is assigned before the server fixture yields), then
produces envelopes the way the services' relays do.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from fastapi import FastAPI
from google.protobuf.message import Message
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from shanzhi.audit.v1 import audit_pb2
from shanzhi.audit.v1 import events_pb2 as audit_events
from shanzhi.common.v1 import event_pb2
from shanzhi.points.v1 import events_pb2 as points_events
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi_gateway.app import create_app, make_server
from shanzhi_gateway.events import TOPICS, KafkaEventBridge, LiveEvent
from shanzhi_gateway.settings import GatewaySettings
from shanzhi_kit.auth import issue_token
from shanzhi_kit.events import envelope
from shanzhi_kit.pytest_plugin import wait_until
from shanzhi_kit.relay import headers_for
from shanzhi_kit.testing import Broker, free_port
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Fakes

COUNTY = "130123"
TOWNSHIP = "130123101"
VILLAGE = "130123101201"  # in the test token's scope, under TOWNSHIP
OTHER_TOWNSHIP_VILLAGE = "130123102201"  # in scope, outside TOWNSHIP
OTHER_COUNTY_VILLAGE = "130124101201"  # outside the token's scope
WITHIN = 15.0

DOMAIN_EVENTS = """
subscription Live($prefix: String!, $types: [String!]) {
  domainEvents(regionCodePrefix: $prefix, types: $types) {
    id type source time subject regionCode actor missedEvents
  }
}
"""
AUDIT_SCHEDULED = """
subscription Scheduled {
  auditScheduled(regionCodePrefix: "130123") { id cadreName regionCode dueDate kind status cadre { name } }
}
"""


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def topics(broker: Broker) -> Broker:
    """The four service topics exist (as they do once the services have published)."""
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap], client_id="gateway-test-admin")
    try:
        for topic in TOPICS:
            with suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    return broker


@pytest.fixture(scope="module")
def producer(topics: Broker) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=[topics.bootstrap], client_id="gateway-test-producer")
    yield p
    p.close(5)


@dataclass
class Live:
    """A running gateway: its websocket URL and its event bridge."""

    url: str
    app: FastAPI

    @property
    def bridge(self) -> KafkaEventBridge:
        bridge = self.app.state.events
        assert isinstance(bridge, KafkaEventBridge)
        return bridge


@asynccontextmanager
async def serving(settings: GatewaySettings, fakes: Fakes) -> AsyncIterator[Live]:
    settings = settings.model_copy(update={"port": free_port()})
    app = create_app(settings, clients=fakes.clients)
    server = make_server(settings, app)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(WITHIN):
            while not server.started:
                assert not task.done(), "the gateway did not start"
                await asyncio.sleep(0.02)
        yield Live(f"ws://127.0.0.1:{settings.port}/graphql", app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WITHIN)


@pytest.fixture
async def live(topics: Broker, fakes: Fakes, settings: GatewaySettings) -> AsyncIterator[Live]:
    """The gateway on a free port, its event bridge assigned to every topic."""
    settings = settings.model_copy(update={"kafka_bootstrap_servers": topics.bootstrap})
    async with serving(settings, fakes) as gateway:
        await asyncio.wait_for(gateway.bridge.wait_assigned(), WITHIN)
        yield gateway
    # The app's shutdown stopped the bridge: thread joined, subscriptions ended.
    assert not gateway.bridge.alive
    assert gateway.bridge.subscriber_count == 0


# -- a graphql-transport-ws client ---------------------------------------------------------


@asynccontextmanager
async def graphql_ws(
    url: str, payload: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    """A websocket speaking graphql-transport-ws, past connection_init / connection_ack."""
    async with connect(
        url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers,
        open_timeout=WITHIN,
    ) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        ack = await receive(ws)
        assert ack["type"] == "connection_ack", ack
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next protocol message, answering pings on the way."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WITHIN))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message


async def subscribe(ws: ClientConnection, query: str, variables: dict[str, Any] | None = None) -> str:
    operation = str(uuid.uuid4())
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": operation, "type": "subscribe", "payload": payload}))
    return operation


async def subscribed(
    live: Live, ws: ClientConnection, query: str, variables: dict[str, Any] | None = None
) -> str:
    """Subscribe and wait until the bridge has the subscriber, so no event is missed."""
    before = live.bridge.subscriber_count
    operation = await subscribe(ws, query, variables)

    async def registered() -> bool:
        return live.bridge.subscriber_count > before

    await wait_until(registered, within=WITHIN, interval=0.02)
    return operation


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- producing ----------------------------------------------------------------------------


async def publish(producer: KafkaProducer, topic: str, value: bytes, key: str, headers: Any = None) -> None:
    def blocking() -> None:
        producer.send(topic, value=value, key=key.encode(), headers=headers or []).get(timeout=10)

    await asyncio.to_thread(blocking)


async def publish_event(
    producer: KafkaProducer,
    topic: str,
    data: Message,
    *,
    region_code: str,
    subject: str,
    source: str,
) -> event_pb2.EventEnvelope:
    env = envelope(data, source=source, subject=subject, region_code=region_code, actor="clerk-7")
    await publish(producer, topic, env.SerializeToString(), subject, headers_for(env))
    return env


def household_created(region_code: str, subject: str) -> points_events.HouseholdCreatedEvent:
    return points_events.HouseholdCreatedEvent(household_id=subject, region_code=region_code)


# -- tests with the broker -----------------------------------------------------------------


@pytest.mark.broker
async def test_domain_event_reaches_a_subscriber_within_scope_and_prefix(
    live: Live, producer: KafkaProducer, token: str
) -> None:
    subject = str(uuid.uuid4())  # one key: one partition, so the events keep their order
    async with graphql_ws(live.url, bearer(token)) as ws:
        operation = await subscribed(live, ws, DOMAIN_EVENTS, {"prefix": TOWNSHIP})

        topic = "shanzhi.points.v1"
        for region in (OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE):  # not delivered
            await publish_event(
                producer,
                topic,
                household_created(region, subject),
                region_code=region,
                subject=subject,
                source="shanzhi.points",
            )
        sent = await publish_event(
            producer,
            topic,
            household_created(VILLAGE, subject),
            region_code=VILLAGE,
            subject=subject,
            source="shanzhi.points",
        )

        message = await receive(ws)
        assert message["type"] == "next", message
        assert message["id"] == operation
        assert "errors" not in message["payload"]
        event = message["payload"]["data"]["domainEvents"]
        assert event == {
            "id": sent.id,
            "type": "shanzhi.points.v1.HouseholdCreatedEvent",
            "source": "shanzhi.points",
            "time": sent.time.ToDatetime().isoformat() + "+00:00",
            "subject": subject,
            "regionCode": VILLAGE,
            "actor": "clerk-7",
            "missedEvents": 0,
        }

        await ws.send(json.dumps({"id": operation, "type": "complete"}))

        async def unsubscribed() -> bool:
            return live.bridge.subscriber_count == 0

        await wait_until(unsubscribed, within=WITHIN, interval=0.02)


@pytest.mark.broker
async def test_domain_events_by_type_and_unreadable_records_skipped(
    live: Live, producer: KafkaProducer, token: str
) -> None:
    subject = str(uuid.uuid4())
    appointed = "shanzhi.talent.v1.PersonAppointedEvent"
    # The token in the upgrade request's header instead of the connection_init payload.
    async with graphql_ws(live.url, headers=bearer(token)) as ws:
        await subscribed(live, ws, DOMAIN_EVENTS, {"prefix": "", "types": [appointed]})

        topic = "shanzhi.talent.v1"
        await publish(producer, topic, b"\xff not an envelope", subject)
        await publish_event(
            producer,
            topic,
            talent_events.PersonRegisteredEvent(),
            region_code=VILLAGE,
            subject=subject,
            source="shanzhi.talent",
        )
        sent = await publish_event(
            producer,
            topic,
            talent_events.PersonAppointedEvent(person_id=subject, region_code=VILLAGE),
            region_code=VILLAGE,
            subject=subject,
            source="shanzhi.talent",
        )

        message = await receive(ws)
        assert message["type"] == "next", message
        event = message["payload"]["data"]["domainEvents"]
        assert (event["id"], event["type"]) == (sent.id, appointed)
        assert live.bridge.unreadable >= 1


@pytest.mark.broker
async def test_audit_scheduled_fetches_the_entry_with_the_subscribers_token(
    live: Live, producer: KafkaProducer, fakes: Fakes, token: str
) -> None:
    person = fakes.world.add_person("王书记")
    entry = fakes.world.add_entry(person.id, None, name="王书记")
    async with graphql_ws(live.url, bearer(token)) as ws:
        operation = await subscribed(live, ws, AUDIT_SCHEDULED)

        # Another type of event in the scope, and an entry outside the scope: neither is
        # delivered, nor fetched.
        await publish_event(
            producer,
            "shanzhi.audit.v1",
            audit_events.InspectionRoundCreatedEvent(round_id=entry.id, region_code=COUNTY + "000000"),
            region_code=COUNTY + "000000",
            subject=entry.id,
            source="shanzhi.audit",
        )
        await publish_event(
            producer,
            "shanzhi.audit.v1",
            audit_events.AuditScheduledEvent(entry_id=str(uuid.uuid4()), region_code=OTHER_COUNTY_VILLAGE),
            region_code=OTHER_COUNTY_VILLAGE,
            subject=entry.id,
            source="shanzhi.audit",
        )
        await publish_event(
            producer,
            "shanzhi.audit.v1",
            audit_events.AuditScheduledEvent(
                entry_id=entry.id,
                cadre_person_id=person.id,
                region_code=VILLAGE,
                kind=audit_pb2.AUDIT_KIND_IN_OFFICE,
                due_date="2027-01-01",
            ),
            region_code=VILLAGE,
            subject=entry.id,
            source="shanzhi.audit",
        )

        message = await receive(ws)
        assert message == {
            "id": operation,
            "type": "next",
            "payload": {
                "data": {
                    "auditScheduled": {
                        "id": entry.id,
                        "cadreName": "王书记",
                        "regionCode": VILLAGE,
                        "dueDate": "2027-01-01",
                        "kind": "IN_OFFICE",
                        "status": "DUE",
                        "cadre": {"name": "王书记"},
                    }
                }
            },
        }
    (call,) = fakes.audit.BatchGetAuditScheduleEntries.calls
    assert list(call.request.ids) == [entry.id]
    assert call.metadata == (("authorization", f"Bearer {token}"),)
    (people,) = fakes.talent.BatchGetPeople.calls
    assert people.metadata == (("authorization", f"Bearer {token}"),)


@pytest.mark.broker
async def test_subscriptions_need_an_authenticated_caller(live: Live, make_token: Callable[..., str]) -> None:
    # No token at all: the connection is accepted, the subscription refused.
    async with graphql_ws(live.url) as ws:
        operation = await subscribe(ws, DOMAIN_EVENTS, {"prefix": ""})
        message = await receive(ws)
        assert message["type"] == "error", message
        assert message["id"] == operation
        assert [e["extensions"]["code"] for e in message["payload"]] == ["UNAUTHENTICATED"]
    assert live.bridge.subscriber_count == 0

    # A token that does not verify: the connection itself is refused.
    forged = make_token() + "x"
    async with connect(live.url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(forged)}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WITHIN)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


@pytest.mark.broker
async def test_a_subscription_ends_when_the_token_expires(
    live: Live, producer: KafkaProducer, settings: GatewaySettings
) -> None:
    assert settings.auth.secret is not None
    short = issue_token(
        settings.auth.secret.get_secret_value(), "officer-2", ["county_officer"], COUNTY, ttl_seconds=2
    )
    expires = jwt.decode(short, options={"verify_signature": False})["exp"]
    subject = str(uuid.uuid4())
    async with graphql_ws(live.url, bearer(short)) as ws:
        operation = await subscribed(live, ws, DOMAIN_EVENTS, {"prefix": ""})
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.1)
        await publish_event(
            producer,
            "shanzhi.points.v1",
            household_created(VILLAGE, subject),
            region_code=VILLAGE,
            subject=subject,
            source="shanzhi.points",
        )
        message = await receive(ws)
        assert message["type"] == "next", message
        assert message["id"] == operation
        assert message["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["UNAUTHENTICATED"]
        assert await receive(ws) == {"id": operation, "type": "complete"}


@pytest.mark.broker
async def test_a_prefix_outside_the_scope_is_refused(live: Live, make_token: Callable[..., str]) -> None:
    async with graphql_ws(live.url, bearer(make_token(region=TOWNSHIP))) as ws:
        await subscribe(ws, DOMAIN_EVENTS, {"prefix": "130124"})
        message = await receive(ws)
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "PERMISSION_DENIED"


# -- tests without the broker --------------------------------------------------------------


async def test_subscriptions_without_kafka_are_refused_clearly(
    fakes: Fakes, settings: GatewaySettings, token: str
) -> None:
    assert settings.kafka_bootstrap_servers == ""
    async with serving(settings, fakes) as gateway, graphql_ws(gateway.url, bearer(token)) as ws:
        assert gateway.app.state.events is None
        await subscribe(ws, AUDIT_SCHEDULED)
        message = await receive(ws)
        assert message["type"] == "error", message
        (error,) = message["payload"]
        assert error["extensions"]["code"] == "UNIMPLEMENTED"
        assert "not enabled" in error["message"]


async def test_an_unreachable_broker_holds_up_neither_start_nor_shutdown(
    fakes: Fakes, settings: GatewaySettings
) -> None:
    settings = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    started = time.monotonic()
    async with serving(settings, fakes) as gateway:
        bridge = gateway.bridge
        assert bridge.alive
        assert not bridge.assigned
    assert not bridge.alive  # the thread gave up connecting and was joined
    assert time.monotonic() - started < 8


def _event(n: int) -> LiveEvent:
    return LiveEvent("shanzhi.points.v1", event_pb2.EventEnvelope(id=f"e{n}", type="t", region_code=VILLAGE))


async def test_a_slow_subscriber_loses_its_oldest_events_and_is_told() -> None:
    bridge = KafkaEventBridge("127.0.0.1:9", queue_size=2)  # never started: events published by hand
    with bridge.subscribe(lambda e: e.envelope.id != "e0") as slow, bridge.subscribe(lambda e: True) as other:
        bridge.publish([_event(n) for n in range(5)])
        first = await slow.next()
        assert first is not None
        assert (first.event.envelope.id, first.missed) == ("e3", 2)
        second = await slow.next()
        assert second is not None
        assert (second.event.envelope.id, second.missed) == ("e4", 0)
        assert (slow.dropped, other.dropped) == (2, 3)

        await bridge.stop()
        assert await slow.next() is None
        # What was queued is still read, then the end.
        third = await other.next()
        assert third is not None
        assert (third.event.envelope.id, third.missed) == ("e3", 3)
        fourth = await other.next()
        assert fourth is not None
        assert (fourth.event.envelope.id, fourth.missed) == ("e4", 0)
        assert await other.next() is None
    assert bridge.subscriber_count == 0
