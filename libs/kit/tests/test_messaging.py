"""The outbox, relay, idempotent writes and the consumer runner on real PostgreSQL and Tansu.

A small table of effects stands in for a service's domain tables.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from kafka import KafkaConsumer
from kafka import errors as Errors
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.future import Future as KafkaFuture
from kafka.protocol.producer import ProduceRequest
from shanzhi.common.v1 import event_pb2, paging_pb2, region_pb2
from shanzhi_kit.auth import SYSTEM, reset_current_caller, set_current_caller
from shanzhi_kit.consumer import EventConsumer
from shanzhi_kit.db import make_engine, make_sessionmaker, new_metadata
from shanzhi_kit.events import Outbox, unpack
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.messaging import MessagingTables
from shanzhi_kit.pytest_plugin import RecordedMetrics, wait_until
from shanzhi_kit.relay import OutboxRelay, Producer, kafka_producer
from shanzhi_kit.testing import Broker, run_database
from sqlalchemy import Column, Integer, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

pytestmark = [pytest.mark.postgres, pytest.mark.broker]

metadata = new_metadata()
effects = Table("effects", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("event_id", String(36), nullable=False), Column("code", String(12)))
messaging = MessagingTables(metadata)


@pytest_asyncio.fixture(scope="module")
async def engine(postgres: None) -> AsyncIterator[AsyncEngine]:
    url = await run_database("shanzhi_test_kit")
    eng = make_engine(url)
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield eng
    await eng.dispose()


def topic() -> str:
    return f"kit-test-{uuid.uuid4().hex[:8]}"


async def write_events(engine: AsyncEngine, outbox: Outbox, n: int) -> list[str]:
    """Commit ``n`` changes, each with its event, with no relay running."""
    ids = []
    sessionmaker = make_sessionmaker(engine)
    token = set_current_caller(SYSTEM)
    try:
        for i in range(n):
            async with sessionmaker() as session, session.begin():
                env = await outbox.add(session, region_pb2.RegionScope(code_prefix=f"13012310{i:04d}"),
                                       subject=f"s{i}", region_code="130123101201")
                ids.append(env.id)
    finally:
        reset_current_caller(token)
    return ids


def consume_all(bootstrap: str, name: str, expect: int, timeout: float = 20.0) -> list[str]:
    consumer = KafkaConsumer(name, bootstrap_servers=[bootstrap], auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=int(timeout * 1000))
    ids: list[str] = []
    try:
        for record in consumer:
            ids.append(event_pb2.EventEnvelope.FromString(record.value).id)
            if len(ids) >= expect:
                # Read a little longer so duplicates would show.
                extra = consumer.poll(timeout_ms=1500)
                ids += [event_pb2.EventEnvelope.FromString(r.value).id
                        for rs in extra.values() for r in rs]
                break
    finally:
        consumer.close()
    return ids


async def test_events_committed_while_the_relay_is_down_are_published_once_it_is_back(
    engine: AsyncEngine, broker: Broker,
) -> None:
    name = topic()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    written = await write_events(engine, outbox, 25)

    # The "relay" that died: nothing was published, every row is still pending.
    async with engine.connect() as conn:
        pending = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
            messaging.outbox.c.topic == name, messaging.outbox.c.published_at.is_(None)))).scalar_one()
    assert pending == 25

    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox,
                        lambda: kafka_producer(broker.bootstrap, "kit-test"), poll_seconds=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))

    async def stamped() -> bool:
        async with engine.connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
                messaging.outbox.c.published_at.is_(None)))).scalar_one()
        return left == 0

    await wait_until(stamped, within=20)
    stop.set()
    await task
    received = await asyncio.to_thread(consume_all, broker.bootstrap, name, 25)
    assert sorted(received) == sorted(written)


async def test_a_publish_that_fails_leaves_the_rows_for_the_next_pass(engine: AsyncEngine) -> None:
    name = topic()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    await write_events(engine, outbox, 3)
    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox,
                        lambda: kafka_producer("127.0.0.1:1", "kit-test-down", max_block_ms=1000,
                                               bootstrap_timeout_ms=1000, request_timeout_ms=1000),
                        send_timeout_seconds=2)
    with pytest.raises(Exception):  # noqa: B017 - the broker is unreachable
        await relay.publish_pending()
    async with engine.connect() as conn:
        pending = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
            messaging.outbox.c.topic == name, messaging.outbox.c.published_at.is_(None)))).scalar_one()
    assert pending == 3
    async with engine.begin() as conn:  # leave nothing for the other tests' relays
        await conn.execute(messaging.outbox.delete().where(messaging.outbox.c.topic == name))


async def topic_rows(engine: AsyncEngine, name: str) -> list[tuple[str, datetime | None]]:
    o = messaging.outbox
    async with engine.connect() as conn:
        return [(r.key, r.published_at) for r in await conn.execute(
            select(o.c.key, o.c.published_at).where(o.c.topic == name).order_by(o.c.seq))]


def _never_called() -> Producer:
    raise AssertionError("pruning needs no broker")


async def test_published_events_are_deleted_once_older_than_kept_and_pending_ones_never(
    postgres: None,
) -> None:
    # An outbox of its own: what other tests leave unpublished would hold the deletes back.
    engine = make_engine(await run_database("shanzhi_test_kit_prune"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    name = topic()
    now = datetime.now(UTC)
    o = messaging.outbox

    def row(key: str, created_days_ago: int, published_days_ago: int | None) -> dict[str, object]:
        return {"event_id": str(uuid.uuid4()), "topic": name, "key": key, "event_type": "t",
                "payload": b"", "created_at": now - timedelta(days=created_days_ago),
                "published_at": None if published_days_ago is None
                else now - timedelta(days=published_days_ago)}

    async with engine.begin() as conn:
        await conn.execute(o.insert(), [
            *(row(f"old-{i}", 40 - i, 40 - i) for i in range(5)),
            row("recent", 3, 2),             # published two days ago: kept for now
            row("stuck", 2, None),           # never published: kept however old
            row("behind", 2, 30),            # published, but after the stuck one: waits for it
        ])
    relay = OutboxRelay(make_sessionmaker(engine), o, _never_called,
                        keep_published=timedelta(days=7), prune_batch=2)
    deleted = await relay.prune_published(now)

    assert deleted == relay.pruned == 5
    assert [key for key, _ in await topic_rows(engine, name)] == ["recent", "stuck", "behind"]
    # Five days on, the recent one has had its week too.
    await relay.prune_published(now + timedelta(days=5, minutes=1))
    assert [key for key, _ in await topic_rows(engine, name)] == ["stuck", "behind"]
    await engine.dispose()


async def test_the_running_relay_deletes_what_it_published_once_kept_long_enough(
    engine: AsyncEngine, broker: Broker,
) -> None:
    name = topic()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    written = await write_events(engine, outbox, 12)
    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox,
                        lambda: kafka_producer(broker.bootstrap, "kit-test"), poll_seconds=0.1,
                        keep_published=timedelta(0))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))

    async def gone() -> bool:
        return not await topic_rows(engine, name)

    await wait_until(gone, within=20)
    stop.set()
    await task
    assert relay.published >= 12 and relay.pruned >= 12
    received = await asyncio.to_thread(consume_all, broker.bootstrap, name, 12)
    assert sorted(received) == sorted(written)


async def apply_effect(session: AsyncSession, env: event_pb2.EventEnvelope) -> None:
    scope = unpack(env, region_pb2.RegionScope)
    await session.execute(effects.insert().values(event_id=env.id, code=scope.code_prefix))


async def effect_count(engine: AsyncEngine, event_id: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(effects).where(
            effects.c.event_id == event_id))).scalar_one())


async def test_a_consumer_killed_before_committing_its_offset_applies_the_event_once(
    engine: AsyncEngine, broker: Broker,
) -> None:
    name = topic()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    [event_id] = await write_events(engine, outbox, 1)
    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox,
                        lambda: kafka_producer(broker.bootstrap, "kit-test"))
    while await relay.publish_pending():
        pass
    await relay.close()
    loop = asyncio.get_running_loop()
    group = f"kit-test-{uuid.uuid4().hex[:8]}"
    handlers = {"shanzhi.common.v1.RegionScope": apply_effect}

    def consumer(crash: bool) -> EventConsumer:
        return EventConsumer(
            name="kit-effects", topics=[name], handlers=handlers,
            sessionmaker=make_sessionmaker(engine), inbox=messaging.inbox,
            bootstrap_servers=broker.bootstrap, group_id=group, loop=loop,
            crash_after_apply=(lambda env: env.id == event_id) if crash else None,
        )

    first = consumer(crash=True)
    first.start()
    await wait_until(lambda: _count_is(engine, event_id, 1), within=30)
    await wait_until(lambda: _dead(first), within=10)

    second = consumer(crash=False)
    second.start()
    # The record comes again (its offset was never committed), and changes nothing.
    await wait_until(lambda: _inbox_seen_again(second), within=30)
    second.stop()
    assert await effect_count(engine, event_id) == 1
    async with engine.connect() as conn:
        rows = (await conn.execute(select(messaging.inbox.c.outcome).where(
            messaging.inbox.c.event_id == event_id))).scalars().all()
    assert rows == ["applied"]


async def test_events_without_a_handler_are_passed_over_without_a_database_write(
    engine: AsyncEngine, broker: Broker,
) -> None:
    name = topic()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    [handled] = await write_events(engine, outbox, 1)
    sessionmaker = make_sessionmaker(engine)
    token = set_current_caller(SYSTEM)
    try:
        async with sessionmaker() as session, session.begin():
            others = [(await outbox.add(session, paging_pb2.PageRequest(page_size=i + 1), subject="x",
                                        region_code="130123101201")).id for i in range(3)]
    finally:
        reset_current_caller(token)
    relay = OutboxRelay(sessionmaker, messaging.outbox, lambda: kafka_producer(broker.bootstrap, "kit-test"))
    while await relay.publish_pending():
        pass
    await relay.close()
    consumer = EventConsumer(
        name="kit-passing", topics=[name], handlers={"shanzhi.common.v1.RegionScope": apply_effect},
        sessionmaker=sessionmaker, inbox=messaging.inbox, bootstrap_servers=broker.bootstrap,
        group_id=f"kit-test-{uuid.uuid4().hex[:8]}", loop=asyncio.get_running_loop())
    consumer.start()
    try:
        await wait_until(lambda: _passed(consumer, applied=1, passed_over=3), within=30)
    finally:
        consumer.stop()
    async with engine.connect() as conn:
        seen = (await conn.execute(select(messaging.inbox.c.event_id).where(
            messaging.inbox.c.consumer == "kit-passing"))).scalars().all()
    assert seen == [handled]
    assert await effect_count(engine, handled) == 1
    assert [await effect_count(engine, other) for other in others] == [0, 0, 0]


async def _passed(consumer: EventConsumer, *, applied: int, passed_over: int) -> bool:
    return consumer.applied == applied and consumer.passed_over == passed_over


async def _count_is(engine: AsyncEngine, event_id: str, n: int) -> bool:
    return await effect_count(engine, event_id) == n


async def _dead(consumer: EventConsumer) -> bool:
    return not consumer.alive


async def _inbox_seen_again(consumer: EventConsumer) -> bool:
    return consumer.duplicates >= 1


async def test_idempotent_writes_apply_once_under_concurrency(engine: AsyncEngine) -> None:
    from shanzhi.common.v1 import paging_pb2

    writer = IdempotentWriter(make_sessionmaker(engine), messaging.idempotency_keys)
    calls = 0

    async def work(session: AsyncSession) -> paging_pb2.PageInfo:
        nonlocal calls
        calls += 1
        await session.execute(effects.insert().values(event_id="idem", code="x"))
        await asyncio.sleep(0.05)
        return paging_pb2.PageInfo(next_page_token=f"call-{calls}")

    class Request:
        request_id = str(uuid.uuid4())

        def SerializeToString(self, deterministic: bool = False) -> bytes:
            return b"same"

    token = set_current_caller(SYSTEM)
    try:
        request = Request()
        replies = await asyncio.gather(
            *(writer.run("M", request, paging_pb2.PageInfo, work)  # type: ignore[arg-type]
              for _ in range(5)))
    finally:
        reset_current_caller(token)
    assert {r.next_page_token for r in replies} == {"call-1"}
    assert await effect_count(engine, "idem") == 1


async def test_a_retry_whose_key_is_forgotten_meanwhile_is_aborted_not_run_unkeyed(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shanzhi.common.v1 import paging_pb2
    from shanzhi_kit.errors import Aborted

    writer = IdempotentWriter(make_sessionmaker(engine), messaging.idempotency_keys)
    request = _Request(str(uuid.uuid4()))
    calls = 0

    async def work(session: AsyncSession) -> paging_pb2.PageInfo:
        nonlocal calls
        calls += 1
        return paging_pb2.PageInfo(next_page_token="first")

    token = set_current_caller(SYSTEM)
    try:
        await writer.run("M", request, paging_pb2.PageInfo, work)  # type: ignore[arg-type]
        claim = writer._claim
        keys = messaging.idempotency_keys

        async def claim_then_forget(session: AsyncSession, *args: str) -> bool:
            claimed = await claim(session, *args)
            # Retention deletes the key between the retry's claim and its lookup.
            async with engine.begin() as conn:
                await conn.execute(keys.delete().where(keys.c.request_id == request.request_id))
            return claimed

        monkeypatch.setattr(writer, "_claim", claim_then_forget)
        with pytest.raises(Aborted, match="retry"):
            await writer.run("M", request, paging_pb2.PageInfo, work)  # type: ignore[arg-type]
    finally:
        reset_current_caller(token)
    assert calls == 1


class _Request:
    """A write request: its id, and a body the fingerprint is taken of."""

    def __init__(self, request_id: str, body: bytes = b"same") -> None:
        self.request_id, self._body = request_id, body

    def SerializeToString(self, deterministic: bool = False) -> bytes:
        return self._body


async def test_writes_with_the_key_last_apply_once_and_retries_get_the_first_answer(
    engine: AsyncEngine,
) -> None:
    from shanzhi.common.v1 import paging_pb2
    from shanzhi_kit.errors import FailedPrecondition, InvalidArgument
    from shanzhi_kit.idempotency import KeyRow

    writer = IdempotentWriter(make_sessionmaker(engine), messaging.idempotency_keys)
    marker = f"last-{uuid.uuid4().hex[:8]}"
    calls = 0

    async def work(session: AsyncSession, key: KeyRow) -> paging_pb2.PageInfo:
        nonlocal calls
        calls += 1
        # Lock what the write changes first, as the writes that use run_key_last do.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:m))"), {"m": marker})
        if await effect_count(engine, marker):
            raise FailedPrecondition("already done")  # what a limit says to a late retry
        reply = paging_pb2.PageInfo(next_page_token=f"call-{calls}")
        await session.execute(effects.insert().values(event_id=marker, code="x"))
        await session.execute(messaging.idempotency_keys.insert(), [key.row(reply)])
        return reply

    token = set_current_caller(SYSTEM)
    try:
        request = _Request(str(uuid.uuid4()))
        replies = await asyncio.gather(
            *(writer.run_key_last("M", request, paging_pb2.PageInfo, work)  # type: ignore[arg-type]
              for _ in range(5)))
        first = {r.next_page_token for r in replies}
        assert len(first) == 1
        later = await writer.run_key_last("M", request, paging_pb2.PageInfo, work)  # type: ignore[arg-type]
        assert {later.next_page_token} == first
        with pytest.raises(InvalidArgument) as reused:
            await writer.run_key_last("M", _Request(request.request_id, b"other"),  # type: ignore[arg-type]
                                      paging_pb2.PageInfo, work)
        assert reused.value.violations[0].field == "request_id"
        # A refusal of a request never seen before stays a refusal.
        with pytest.raises(FailedPrecondition):
            await writer.run_key_last("M", _Request(str(uuid.uuid4())),  # type: ignore[arg-type]
                                      paging_pb2.PageInfo, work)
    finally:
        reset_current_caller(token)
    assert await effect_count(engine, marker) == 1


async def test_a_write_with_the_key_last_that_does_not_write_it_gets_it_written(
    engine: AsyncEngine,
) -> None:
    from shanzhi.common.v1 import paging_pb2
    from shanzhi_kit.idempotency import KeyRow

    writer = IdempotentWriter(make_sessionmaker(engine), messaging.idempotency_keys)
    marker = f"plain-{uuid.uuid4().hex[:8]}"

    async def work(session: AsyncSession, key: KeyRow) -> paging_pb2.PageInfo:
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:m))"), {"m": marker})
        await session.execute(effects.insert().values(event_id=marker, code="x"))
        return paging_pb2.PageInfo(next_page_token=marker)

    token = set_current_caller(SYSTEM)
    try:
        request = _Request(str(uuid.uuid4()))
        for _ in range(3):
            reply = await writer.run_key_last("M", request, paging_pb2.PageInfo, work)  # type: ignore[arg-type]
            assert reply.next_page_token == marker
    finally:
        reset_current_caller(token)
    assert await effect_count(engine, marker) == 1


async def test_driver_statements_read_like_sqlalchemy_and_report_broken_constraints_alike(
    engine: AsyncEngine,
) -> None:
    from shanzhi_kit.db import DriverStatement, driver_execute
    from sqlalchemy import bindparam
    from sqlalchemy.exc import IntegrityError

    marker = f"drv-{uuid.uuid4().hex[:8]}"
    statement = DriverStatement(
        select(effects.c.id, effects.c.code)
        .where(effects.c.event_id == bindparam("event_id"), effects.c.code.in_(["a", "b"]))
        .order_by(effects.c.id))
    assert "IN ('a', 'b')" in statement.sql
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(effects.insert(), [dict(event_id=marker, code=c) for c in "cba"])
        row = await statement.fetchrow(session, {"event_id": marker})
        assert row is not None and row.code == "b" and row._mapping["code"] == "b"
        assert await statement.fetchrow(session, {"event_id": "none"}) is None
        rows = await statement.fetch(session, {"event_id": marker})
        read = (await session.execute(statement.statement, {"event_id": marker})).all()
        assert [(r.id, r.code) for r in rows] == [(r.id, r.code) for r in read]
        assert [r.code for r in rows] == ["b", "a"]
    async with make_sessionmaker(engine)() as session:
        with pytest.raises(IntegrityError):
            async with session.begin():
                await driver_execute(session, "INSERT INTO idempotency_keys (caller, method, request_id,"
                                     " request_hash, created_at) VALUES ($1, $1, $1, $1, now()), "
                                     "($1, $1, $1, $1, now())", [marker])


async def test_trace_context_travels_from_the_request_through_the_event_to_the_consumer(
    engine: AsyncEngine,
) -> None:
    from types import SimpleNamespace

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from shanzhi_kit.events import envelope
    from shanzhi_kit.relay import headers_for

    tracer = TracerProvider().get_tracer("request")
    with tracer.start_as_current_span("AppointPerson") as request_span:
        env = envelope(region_pb2.RegionScope(code_prefix="130123"), source="kit-test",
                       subject="s", region_code="130123101201", actor="tester")
    trace_id = format(request_span.get_span_context().trace_id, "032x")
    assert trace_id in env.traceparent
    assert dict(headers_for(env))["traceparent"] == env.traceparent.encode()

    seen: list[int] = []

    async def handler(session: AsyncSession, received: event_pb2.EventEnvelope) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    # A real SDK tracer for the consumer's span, so the continued trace is visible.
    import shanzhi_kit.consumer as consumer_module

    previous = consumer_module.tracer
    consumer_module.tracer = TracerProvider().get_tracer("consumer")
    try:
        consumer = EventConsumer(
            name="kit-trace", topics=["unused"], handlers={env.type: handler},
            sessionmaker=make_sessionmaker(engine), inbox=messaging.inbox,
            bootstrap_servers="127.0.0.1:1", group_id="unused", loop=asyncio.get_running_loop(),
        )
        record = SimpleNamespace(topic="t", partition=0, offset=0, value=env.SerializeToString())
        await consumer.apply(record)
    finally:
        consumer_module.tracer = previous
    assert seen == [request_span.get_span_context().trace_id]


async def test_a_driver_pool_opens_on_first_use_reuses_connections_and_closes_with_the_service(
    postgres: None,
) -> None:
    from shanzhi_kit.db import DriverPool

    url = await run_database("shanzhi_test_kit_pool")
    engine = make_engine(url)
    try:
        pool = DriverPool.of(engine, max_size=2)
        assert DriverPool.of(engine) is pool
        async with pool.acquire() as first:
            backend = await first.fetchval("SELECT pg_backend_pid()")
            await first.execute("BEGIN")
            await first.execute("CREATE TEMP TABLE left_open (n int)")
        # Released with a transaction open: rolled back, and the connection is kept.
        async with pool.acquire() as again:
            assert await again.fetchval("SELECT pg_backend_pid()") == backend
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
        await DriverPool.close_of(engine)
        assert DriverPool.of(engine) is not pool
    finally:
        await DriverPool.close_of(engine)
        await engine.dispose()


async def test_a_statement_run_on_the_driver_first_belongs_to_the_sessions_transaction(
    engine: AsyncEngine,
) -> None:
    from shanzhi_kit.db import driver_execute

    marker = f"first-{uuid.uuid4().hex[:8]}"

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with make_sessionmaker(engine)() as session, session.begin():
            await driver_execute(session, "INSERT INTO effects (event_id, code) VALUES ($1, 'x')",
                                 [marker])
            raise Undo
    assert await effect_count(engine, marker) == 0
    async with make_sessionmaker(engine)() as session, session.begin():
        await driver_execute(session, "INSERT INTO effects (event_id, code) VALUES ($1, 'x')", [marker])
        await session.execute(effects.insert().values(event_id=marker, code="y"))
    assert await effect_count(engine, marker) == 2


async def test_the_relay_reports_its_backlog_and_what_it_published(
    engine: AsyncEngine, broker: Broker, recorded_metrics: RecordedMetrics,
) -> None:
    sessionmaker = make_sessionmaker(engine)
    relay = OutboxRelay(sessionmaker, messaging.outbox, lambda: kafka_producer(broker.bootstrap, "kit-test"))
    while await relay.publish_pending():  # what earlier tests left
        pass
    assert (await relay.read_stats()).pending == 0
    assert relay.stats.oldest_age_seconds == 0.0

    name = topic()
    await write_events(engine, Outbox(messaging.outbox, source="kit-test", topic=name), 4)
    later = datetime.now(UTC) + timedelta(seconds=90)
    stats = await relay.read_stats(now=later)
    assert stats.pending == 4
    assert 90 <= stats.oldest_age_seconds < 120

    # The running relay reads its backlog before its first pass, then publishes.
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        async def drained() -> bool:
            return (await relay.read_stats()).pending == 0
        await wait_until(drained, within=20)
    finally:
        stop.set()
        await task
    assert recorded_metrics.by("shanzhi.outbox.pending", "outbox")["outbox"].value == 0
    published = recorded_metrics.by("shanzhi.outbox.published", "outbox")["outbox"].value
    assert published == relay.published >= 4
    received = await asyncio.to_thread(consume_all, broker.bootstrap, name, 4)
    assert len(received) == 4


async def test_a_consumer_counts_its_events_by_outcome_and_measures_its_lag(
    engine: AsyncEngine, broker: Broker, recorded_metrics: RecordedMetrics,
) -> None:
    name = topic()
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap])
    try:  # one partition, so that the lag below is known record by record
        await asyncio.to_thread(admin.create_topics, [NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    written = await write_events(engine, outbox, 5)
    sessionmaker = make_sessionmaker(engine)
    relay = OutboxRelay(sessionmaker, messaging.outbox, lambda: kafka_producer(broker.bootstrap, "kit-test"))
    while await relay.publish_pending():
        pass
    await relay.close()

    # Lag as a consumer sees it after taking two of the five records.
    consumer_name = f"kit-metrics-{uuid.uuid4().hex[:6]}"
    runner = EventConsumer(
        name=consumer_name, topics=[name], handlers={"shanzhi.common.v1.RegionScope": apply_effect},
        sessionmaker=sessionmaker, inbox=messaging.inbox, bootstrap_servers=broker.bootstrap,
        group_id=f"kit-test-{uuid.uuid4().hex[:8]}", loop=asyncio.get_running_loop())

    def two_then_lag() -> dict[tuple[str, int], int]:
        kafka = KafkaConsumer(name, bootstrap_servers=[broker.bootstrap], group_id=None,
                              auto_offset_reset="earliest")
        try:
            taken = 0
            for _ in range(50):
                taken += sum(len(r) for r in kafka.poll(timeout_ms=200, max_records=2 - taken).values())
                if taken == 2:
                    return runner.measure_lag(kafka)
            raise AssertionError("the consumer took no records")
        finally:
            kafka.close()

    assert await asyncio.to_thread(two_then_lag) == {(name, 0): 3}
    assert {p.attributes["messaging.destination.name"]: p.value
            for p in recorded_metrics.points("shanzhi.consumer.lag")} == {name: 3}

    # One event applied before: it comes as a duplicate.
    async with sessionmaker() as session, session.begin():
        await session.execute(messaging.inbox.insert().values(
            consumer=consumer_name, event_id=written[0], event_type="shanzhi.common.v1.RegionScope",
            outcome="applied", detail="", received_at=datetime.now(UTC)))
    runner.start()
    try:
        await wait_until(lambda: _took(runner, 5), within=30)
    finally:
        runner.stop()
    outcomes = recorded_metrics.by("shanzhi.consumer.events", "outcome")
    assert {k: p.value for k, p in outcomes.items()} == {"applied": 4, "duplicate": 1}


async def _took(consumer: EventConsumer, n: int) -> bool:
    return consumer.applied + consumer.duplicates == n


async def test_relays_of_two_replicas_keep_each_entitys_events_in_order(
    engine: AsyncEngine, broker: Broker,
) -> None:
    name = topic()
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    sessionmaker = make_sessionmaker(engine)
    leftover = OutboxRelay(sessionmaker, messaging.outbox,
                           lambda: kafka_producer(broker.bootstrap, "kit-test"))
    while await leftover.publish_pending():  # what earlier tests left
        pass
    await leftover.close()
    written: dict[str, list[str]] = {}
    token = set_current_caller(SYSTEM)
    try:
        for i in range(240):
            key = f"entity-{i % 3}"
            async with sessionmaker() as session, session.begin():
                env = await outbox.add(session, region_pb2.RegionScope(code_prefix=f"{i:04d}"),
                                       subject=key, region_code="130123101201")
            written.setdefault(key, []).append(env.id)
    finally:
        reset_current_caller(token)

    relays = [OutboxRelay(sessionmaker, messaging.outbox,
                          lambda n=n: kafka_producer(broker.bootstrap, f"kit-test-replica-{n}"),
                          poll_seconds=0.02, batch_size=8) for n in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]

    async def stamped() -> bool:
        async with engine.connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
                messaging.outbox.c.published_at.is_(None)))).scalar_one()
        return left == 0

    try:
        await wait_until(stamped, within=60)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert sum(relay.published for relay in relays) == 240

    def received_by_key() -> dict[str, list[str]]:
        consumer = KafkaConsumer(name, bootstrap_servers=[broker.bootstrap], group_id=None,
                                 auto_offset_reset="earliest", consumer_timeout_ms=5000)
        seen: dict[str, list[str]] = {}
        try:
            for record in consumer:
                seen.setdefault(record.key.decode(), []).append(
                    event_pb2.EventEnvelope.FromString(record.value).id)
        finally:
            consumer.close()
        return seen

    assert await asyncio.to_thread(received_by_key) == written


# -- the relay after a failed send ---------------------------------------------------


def _fail_requests_carrying(producer: Any, marker: bytes, error: Exception,
                            times: int = 1) -> list[Exception]:
    """Fault injection: the first ``times`` produce requests that carry ``marker`` fail
    with ``error`` before they leave the producer. Returns the errors raised so far."""
    client = producer._sender._client
    original = client.send
    raised: list[Exception] = []

    def send(node_id: int, request: Any, *args: Any, **kwargs: Any) -> Any:
        if len(raised) < times and isinstance(request, ProduceRequest) and any(
                marker in bytes(p.records) for t in request.topic_data for p in t.partition_data):
            raised.append(error)
            return KafkaFuture().failure(error)
        return original(node_id, request, *args, **kwargs)

    client.send = send
    return raised


async def _one_partition_topic(broker: Broker) -> str:
    name = topic()
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap])
    try:
        await asyncio.to_thread(admin.create_topics, [NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    return name


async def _entity_events(engine: AsyncEngine, name: str, n: int) -> list[str]:
    """``n`` events of one entity (so one key, one partition), in the order written."""
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    sessionmaker = make_sessionmaker(engine)
    ids = []
    token = set_current_caller(SYSTEM)
    try:
        for i in range(n):
            async with sessionmaker() as session, session.begin():
                env = await outbox.add(session, region_pb2.RegionScope(code_prefix=f"{i:04d}"),
                                       subject="entity", region_code="130123101201")
                ids.append(env.id)
    finally:
        reset_current_caller(token)
    return ids


async def _publish_what_is_left(engine: AsyncEngine, broker: Broker) -> None:
    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox,
                        lambda: kafka_producer(broker.bootstrap, "kit-test"))
    while await relay.publish_pending():
        pass
    await relay.close()


def _received(bootstrap: str, name: str) -> list[str]:
    consumer = KafkaConsumer(name, bootstrap_servers=[bootstrap], group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        return [event_pb2.EventEnvelope.FromString(r.value).id for r in consumer]
    finally:
        consumer.close()


async def test_after_a_failed_send_no_later_event_of_the_key_reaches_the_broker_first(
    engine: AsyncEngine, broker: Broker,
) -> None:
    await _publish_what_is_left(engine, broker)
    name = await _one_partition_topic(broker)
    written = await _entity_events(engine, name, 6)
    made: list[Any] = []
    raised: list[list[Exception]] = []

    def producer() -> Any:
        # One record a batch, so the third event's batch fails on its own while the
        # later ones wait behind it (one batch in flight a partition); one retry, so it
        # gives up soon. Not idempotent: with idempotence the broker refuses the next
        # batch for its sequence number, and Kafka then bumps the producer's epoch and
        # sends the batches after it, while Tansu fails the producer (the test below).
        made.append(kafka_producer(broker.bootstrap, f"kit-test-order-{len(made)}", batch_size=1,
                                   retries=1, enable_idempotence=False,
                                   max_in_flight_requests_per_connection=1))
        if len(made) == 1:
            # The connection drops under the third event's batch, on its retry too:
            # the producer gives up on it and would carry on with the next batches.
            raised.append(_fail_requests_carrying(
                made[0], written[2].encode(), Errors.KafkaConnectionError("injected"), times=2))
        return made[-1]

    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox, producer, send_timeout_seconds=10)
    with pytest.raises(RuntimeError, match="published 2 of 6"):
        await relay.publish_pending()
    assert len(raised[0]) == 2
    assert [published is not None for _, published in await topic_rows(engine, name)] == [
        True, True, False, False, False, False]
    assert await relay.publish_pending() == 4
    await relay.close()

    received = await asyncio.to_thread(_received, broker.bootstrap, name)
    # Duplicates may come (a consumer drops them by id), but never a later event of the
    # key before an earlier one: the first time each id arrives is the order written.
    assert list(dict.fromkeys(received)) == written


async def test_a_relay_replaces_a_producer_that_failed(engine: AsyncEngine, broker: Broker) -> None:
    await _publish_what_is_left(engine, broker)
    name = await _one_partition_topic(broker)
    written = await _entity_events(engine, name, 3)
    made: list[Any] = []

    def producer() -> Any:
        made.append(kafka_producer(broker.bootstrap, f"kit-test-fatal-{len(made)}"))
        if len(made) == 1:
            # An error the idempotent producer cannot recover from: it fails every send
            # from then on.
            _fail_requests_carrying(made[0], written[0].encode(),
                                    Errors.ClusterAuthorizationFailedError("injected"))
        return made[-1]

    relay = OutboxRelay(make_sessionmaker(engine), messaging.outbox, producer, send_timeout_seconds=10)
    with pytest.raises(RuntimeError, match="published 0 of 3"):
        await relay.publish_pending()
    assert await relay.publish_pending() == 3
    await relay.close()
    assert len(made) == 2
    assert made[0]._closed and made[1]._closed
    assert list(dict.fromkeys(await asyncio.to_thread(_received, broker.bootstrap, name))) == written


# -- a record that keeps failing -----------------------------------------------------


async def test_a_record_that_keeps_failing_is_recorded_as_failed_and_the_partition_moves_on(
    engine: AsyncEngine, broker: Broker, recorded_metrics: RecordedMetrics,
) -> None:
    await _publish_what_is_left(engine, broker)
    name = await _one_partition_topic(broker)
    outbox = Outbox(messaging.outbox, source="kit-test", topic=name)
    sessionmaker = make_sessionmaker(engine)
    token = set_current_caller(SYSTEM)
    try:
        ids = []
        # The first one's code is longer than effects.code holds: PostgreSQL refuses it
        # every time. The second, behind it in the same partition, is fine.
        for code in ("1301231012019999", "130123"):
            async with sessionmaker() as session, session.begin():
                ids.append((await outbox.add(session, region_pb2.RegionScope(code_prefix=code),
                                             subject="entity", region_code="130123101201")).id)
    finally:
        reset_current_caller(token)
    poison, fine = ids
    await _publish_what_is_left(engine, broker)

    consumer_name = f"kit-poison-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(
        name=consumer_name, topics=[name], handlers={"shanzhi.common.v1.RegionScope": apply_effect},
        sessionmaker=sessionmaker, inbox=messaging.inbox, bootstrap_servers=broker.bootstrap,
        group_id=f"kit-test-{uuid.uuid4().hex[:8]}", loop=asyncio.get_running_loop(),
        max_attempts=3, retry_backoff_seconds=0.05)
    consumer.start()
    try:
        await wait_until(lambda: _count_is(engine, fine, 1), within=30)
    finally:
        consumer.stop()
    assert consumer.failed == 1 and consumer.applied == 1
    async with engine.connect() as conn:
        row = (await conn.execute(select(messaging.inbox).where(
            messaging.inbox.c.consumer == consumer_name, messaging.inbox.c.event_id == poison))).one()
    assert row.outcome == "failed" and row.event_type == "shanzhi.common.v1.RegionScope"
    # What failed and where the record is, for an operator and a replay; not the value.
    assert "SQLSTATE 22001" in row.detail and "apply_effect" in row.detail
    assert f"{name}[0]@0 after 3 attempts" in row.detail
    assert "1301231012019999" not in row.detail
    assert await effect_count(engine, poison) == 0
    outcomes = recorded_metrics.by("shanzhi.consumer.events", "outcome")
    assert {k: p.value for k, p in outcomes.items()} == {"failed": 1, "applied": 1}
