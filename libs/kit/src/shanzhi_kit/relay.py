"""The outbox relay: publishes committed outbox rows to Kafka.

Each pass locks a batch of unpublished rows in order, sends them with an
idempotent producer (``acks=all``), waits for the broker's acknowledgements and
only then stamps ``published_at`` in the same transaction. Every replica of a
service runs a relay, but one pass runs at a time: a pass first takes a
transaction-level advisory lock on PostgreSQL, and a relay that cannot get it
leaves the pass to the one that has it. Two relays sending neighbouring batches
at once could otherwise land a later event of an entity on the broker before an
earlier one; this way events reach each partition in the order they were written.

A relay that dies after the commit of the change but before the publish leaves
the rows unpublished, and the next pass sends them: nothing is lost. A relay that
dies after the publish but before the stamp sends them again; consumers drop the
duplicate by event id.

A send that fails must not let a later row of its key reach the broker first: the
next pass sends the failed row again, and consumers would apply it after the later
one. So the first failed send of a pass stops the producer at once (from its
callback, before the producer moves on to the partition's next batch: the
idempotent producer has one batch a partition in flight), the pass stamps only the
rows before the first one not delivered, and the next pass sends the rest again
with a fresh producer. Rows delivered after the failed one (other partitions) are
sent again too; consumers drop them by id. A pass still waiting after
``send_timeout_seconds`` is stopped the same way.

Published rows are deleted once they are older than the service's
``outbox_keep_days``, a few thousand at a time, so the outbox holds days of
events rather than every event ever written. Rows not yet published are never
deleted.

kafka-python is synchronous, so the producer's flush runs in a worker thread and
never blocks the event loop.

With metrics on (:mod:`shanzhi_kit.metrics`) the relay counts what it publishes and
reads its backlog (how many rows wait, how old the oldest is) every
``OUTBOX_STATS_SECONDS``, for the gauges an operator alerts on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from kafka import KafkaProducer
from shanzhi.common.v1 import event_pb2
from sqlalchemy import Table, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_kit import metrics
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.values import aware

log = logging.getLogger(__name__)


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


def kafka_producer(bootstrap_servers: str, client_id: str, **overrides: Any) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica (``acks=all``).

    Idempotence keeps retried batches free of duplicates and in order: kafka-python
    then sends one batch a partition at a time. Retries are bounded by time, not by
    count (``retries`` left at its default, as kafka-python advises), so a leader
    election is ridden out; a batch still undelivered after ``delivery_timeout_ms``
    fails, before the relay's own ``send_timeout_seconds`` runs out.
    """
    config: dict[str, Any] = dict(
        bootstrap_servers=[s.strip() for s in bootstrap_servers.split(",")],
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        delivery_timeout_ms=25000,
        request_timeout_ms=15000,
        # Give up on an unreachable broker soon, so the relay backs off and a
        # shutdown is not held up by a producer still trying to connect.
        bootstrap_timeout_ms=5000,
        max_block_ms=10000,
    )
    config.update(overrides)
    return KafkaProducer(**config)


def stop_producer(producer: Producer) -> None:
    """Stop ``producer`` at once: records it has not yet handed to a broker fail and are
    never sent. Safe from its I/O thread, in a send's callback.

    kafka-python's ``close(0)`` flushes first, and raises while records are pending, so
    it cannot do this; forcing its sender closed does (what Java's ``close(0)`` does).
    """
    sender = getattr(producer, "_sender", None)
    if isinstance(producer, KafkaProducer) and sender is not None:
        sender.force_close()
    else:
        stop = getattr(producer, "stop", None)
        if callable(stop):
            stop()


def headers_for(envelope: event_pb2.EventEnvelope) -> list[tuple[str, bytes]]:
    """Kafka headers: CloudEvents ids for routing without parsing, and trace context."""
    headers = [
        ("ce_id", envelope.id.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_source", envelope.source.encode()),
        ("content-type", b"application/protobuf"),
    ]
    if envelope.traceparent:
        headers.append(("traceparent", envelope.traceparent.encode()))
    if envelope.tracestate:
        headers.append(("tracestate", envelope.tracestate.encode()))
    return headers


class OutboxRelay:
    """Moves outbox rows to Kafka until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Table,
        producer_factory: Callable[[], Producer],
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 500,
        send_timeout_seconds: float = 30.0,
        keep_published: timedelta | None = None,
        prune_every_seconds: float = 60.0,
        prune_batch: int = 5000,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._producer_factory = producer_factory
        self._producer: Producer | None = None
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._send_timeout = send_timeout_seconds
        self._keep_published = keep_published
        self._prune_every = prune_every_seconds
        self._prune_batch = prune_batch
        self._next_prune = 0.0
        self._wake = asyncio.Event()
        self.published = 0
        self.pruned = 0
        self.stats = metrics.OutboxStats()
        self._next_stats = 0.0

    @classmethod
    def for_service(cls, settings: ServiceSettings, sessionmaker: async_sessionmaker[AsyncSession],
                    outbox: Table, client_id: str) -> OutboxRelay:
        """A service's relay: its broker, poll interval and how long published rows stay."""
        return cls(
            sessionmaker, outbox,
            lambda: kafka_producer(settings.kafka_bootstrap_servers, client_id),
            poll_seconds=settings.relay_poll_seconds,
            keep_published=timedelta(days=settings.outbox_keep_days),
        )

    def wake(self) -> None:
        """Ask for a pass now (called after a transaction that added events commits)."""
        self._wake.set()

    async def _get_producer(self) -> Producer:
        if self._producer is None:
            self._producer = await asyncio.to_thread(self._producer_factory)
        return self._producer

    async def publish_pending(self) -> int:
        """One pass: publish up to one batch; returns how many rows were stamped."""
        producer = await self._get_producer()
        o = self._outbox
        async with self._sessionmaker() as session, session.begin():
            if not await self._take_turn(session):
                return 0
            rows = (
                await session.execute(
                    select(o.c.seq, o.c.topic, o.c.key, o.c.payload)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.seq)
                    .limit(self._batch_size)
                    .with_for_update()
                )
            ).all()
            if not rows:
                return 0
            try:
                sent = await asyncio.to_thread(self._send_all, producer, rows)
            except BaseException:
                await self._retire(producer)
                raise
            if len(sent) < len(rows):
                # A producer that failed a send is not used again: what it still
                # buffers is never sent, and the next pass makes a fresh one.
                await self._retire(producer)
            if sent:
                await session.execute(
                    update(o)
                    .where(o.c.seq.in_(sent))
                    .values(published_at=datetime.now(UTC))
                )
        self.published += len(sent)
        metrics.record_published(o.name, len(sent))
        if len(sent) < len(rows):
            raise RuntimeError(f"published {len(sent)} of {len(rows)} outbox rows; will retry")
        return len(sent)

    async def _retire(self, producer: Producer) -> None:
        """Stop and close a producer after a failed pass; the next pass makes a new one."""
        if self._producer is producer:
            self._producer = None
        stop_producer(producer)
        try:
            await asyncio.to_thread(producer.close, 5)
        except Exception as exc:
            log.warning("outbox relay: a failed producer did not close cleanly: %s", exc)

    async def _take_turn(self, session: AsyncSession) -> bool:
        """Whether this pass may publish: no other relay of this outbox is in a pass.

        The lock is the transaction's (PostgreSQL ``pg_try_advisory_xact_lock``), so it
        goes with the pass's commit or rollback, and with a relay that dies mid-pass.
        SQLite serves one process, which runs one relay.
        """
        if session.bind is None or session.bind.dialect.name != "postgresql":
            return True
        taken = await session.execute(text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"),
                                      {"name": f"shanzhi.outbox.{self._outbox.name}"})
        return bool(taken.scalar())

    async def prune_published(self, now: datetime | None = None) -> int:
        """Delete the rows published longer ago than the relay keeps them; returns how many.

        The relay publishes in sequence order, so those rows come first: everything
        before the first row that is unpublished or too recent. They are deleted by
        ranges of ``prune_batch`` sequence numbers, one transaction each, along the
        primary key, so a backlog of weeks is neither one long delete nor a scan of the
        days kept. A published row behind one not yet published waits for it.
        """
        if self._keep_published is None:
            return 0
        o = self._outbox
        cutoff = (now or datetime.now(UTC)) - self._keep_published
        async with self._sessionmaker() as session:
            first = (await session.execute(select(func.min(o.c.seq)))).scalar()
            kept = (await session.execute(
                select(o.c.seq).where(or_(o.c.published_at.is_(None), o.c.published_at >= cutoff))
                .order_by(o.c.seq).limit(1))).scalar()
            if kept is None:
                kept = (await session.execute(select(func.max(o.c.seq)))).scalar()
                kept = None if kept is None else kept + 1
        if first is None or kept is None:
            return 0
        total = 0
        while first < kept:
            upto = min(first + self._prune_batch, kept)
            async with self._sessionmaker() as session, session.begin():
                result = await session.execute(delete(o).where(
                    o.c.seq >= first, o.c.seq < upto,
                    o.c.published_at.is_not(None), o.c.published_at < cutoff))
            total += result.rowcount  # type: ignore[attr-defined]
            first = upto
        self.pruned += total
        return total

    async def read_stats(self, now: datetime | None = None) -> metrics.OutboxStats:
        """Read the backlog: rows not yet published, and how long the oldest has waited."""
        o = self._outbox
        waiting = o.c.published_at.is_(None)
        async with self._sessionmaker() as session:
            pending = (await session.execute(select(func.count()).select_from(o).where(waiting))).scalar()
            oldest = (await session.execute(
                select(o.c.created_at).where(waiting).order_by(o.c.seq).limit(1))).scalar()
        if oldest is not None:
            oldest = aware(oldest)
        self.stats.pending = int(pending or 0)
        self.stats.oldest_age_seconds = (
            max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds()) if oldest is not None else 0.0)
        return self.stats

    async def _stats_when_due(self) -> None:
        if not metrics.enabled() or time.monotonic() < self._next_stats:
            return
        self._next_stats = time.monotonic() + metrics.OUTBOX_STATS_SECONDS
        metrics.watch_outbox(self._outbox.name, self.stats)
        await self.read_stats()

    async def _prune_when_due(self) -> None:
        if self._keep_published is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self._prune_every
        count = await self.prune_published()
        if count:
            log.info("outbox: deleted %d published events older than %s", count, self._keep_published)

    def _send_all(self, producer: Producer, rows: Sequence[Any]) -> list[int]:
        """Send ``rows`` in order; returns the seqs of those delivered before the first
        that was not. After a failure nothing more of the pass reaches the broker: no
        further row is handed to the producer, and the first failed send stops the
        producer from its callback, so no row behind it in its partition goes out."""
        halt = threading.Event()  # hand the producer no more rows
        stopped = threading.Event()  # the producer is stopped
        lock = threading.Lock()

        def stop(_exc: BaseException) -> None:
            halt.set()
            with lock:
                if stopped.is_set():
                    return
                stopped.set()
            stop_producer(producer)

        futures = []
        for row in rows:
            if halt.is_set():
                break
            try:
                headers = headers_for(event_pb2.EventEnvelope.FromString(row.payload))
                future = producer.send(row.topic, value=row.payload, key=row.key.encode(),
                                       headers=headers)
            except Exception as exc:
                # Not handed over: the rows before it still go, the rest wait.
                log.warning("outbox publish failed at seq %s: %s", row.seq, exc)
                halt.set()
                break
            add_errback = getattr(future, "add_errback", None)
            if add_errback is not None:
                add_errback(stop)
            futures.append((row.seq, future))
        deadline = time.monotonic() + self._send_timeout
        if not stopped.is_set():
            try:
                producer.flush(timeout=self._send_timeout)
            except Exception as exc:  # the futures below tell which rows went
                log.warning("outbox flush did not complete: %s", exc)
        sent: list[int] = []
        for seq, future in futures:
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                # Keep order: stop at the first failure; the rest are sent again.
                log.warning("outbox publish failed at seq %s: %s", seq, exc)
                stop(exc)
                break
            sent.append(seq)
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set, backing off while the broker or database is away."""
        backoff = self._poll_seconds
        while not stop.is_set():
            self._wake.clear()
            try:
                await self._stats_when_due()
                count = await self.publish_pending()
                backoff = self._poll_seconds
                if count >= self._batch_size:
                    continue
                await self._prune_when_due()
            except Exception as exc:
                log.warning("outbox relay pass failed: %s", exc)
                backoff = min(max(backoff * 2, 0.5), 10.0)
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(waits, timeout=backoff,
                                            return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        await self.close()

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.to_thread(producer.close, 5)
            except Exception as exc:  # kafka-python raises if records are still pending
                log.warning("outbox relay: producer did not close cleanly: %s", exc)
                stop_producer(producer)
