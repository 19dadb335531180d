"""The idempotent consumer runner.

One thread per consumer polls Kafka (kafka-python's consumer is synchronous and
not thread-safe, so it stays on its own thread). Each record is applied on the
service's event loop in one database transaction that also writes the event id
to the ``inbox`` table; the offset is committed to Kafka only after that
transaction commits. A consumer that dies between the two gets the record again,
finds its id in the inbox and changes nothing.

Outcomes recorded in the inbox: ``applied``; ``rejected`` (the handler raised
a :class:`~shanzhi_kit.errors.ServiceError`: the event cannot be applied, and the
reason is kept); ``failed`` (see below). Events of a type the consumer has no
handler for (the other events on a shared topic, such as one ``EntryPostedEvent``
per ledger entry) change nothing, so they are passed over without touching the
database: by their ``ce_type`` header when the record has one, else once the
envelope is read.

Any other error is retried with backoff. An error of the moment (the database or
the network away, a serialization failure or deadlock) is retried for as long as it
lasts. Any other (a bug, a value the database cannot store) fails the record
``max_attempts`` times at most (``SHANZHI_CONSUMER_MAX_ATTEMPTS``); then the record
goes into the inbox as ``failed``, with the error's class, where it was raised and
where the record is (topic, partition, offset), but not the error's message, which
may quote personal data; it is logged and counted, and the consumer moves on, so one
record does not hold up its partition for good. Nothing is lost: once the cause is
fixed, the record is delivered again (by resetting the group's offset) and a
``failed`` row in the inbox does not count as applied.

With metrics on (:mod:`shanzhi_kit.metrics`) each consumer counts its events by
outcome and reports its lag per partition every ``LAG_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sysconfig
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from opentelemetry import propagate, trace
from shanzhi.common.v1 import event_pb2
from sqlalchemy import Table, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shanzhi_kit import metrics
from shanzhi_kit.db import insert_ignoring_conflicts
from shanzhi_kit.errors import ServiceError
from shanzhi_kit.settings import ServiceSettings

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

EventEnvelope = event_pb2.EventEnvelope
Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]

#: How often a consumer measures its lag while metrics are on, in seconds.
LAG_SECONDS = 5.0

#: Attempts at a record that keeps failing before it is recorded as ``failed``.
MAX_ATTEMPTS = 5

#: SQLSTATE classes and codes of errors of the moment: connection (08), transaction
#: rollback (40: serialization failure, deadlock), insufficient resources (53),
#: shutdown (57P), system (58), lock not available (55P03).
_TRANSIENT_SQLSTATES = ("08", "40", "53", "57P", "58", "55P03")


class EventConsumer:
    """Applies the events of ``topics`` with ``handlers`` (by event type), each at most once."""

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Table,
        bootstrap_servers: str,
        group_id: str,
        loop: asyncio.AbstractEventLoop,
        on_applied: Callable[[EventEnvelope], None] | None = None,
        crash_after_apply: Callable[[EventEnvelope], bool] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retry_backoff_seconds: float = 0.2,
    ) -> None:
        self.name = name
        self.topics = topics
        self.handlers = dict(handlers)
        self._sessionmaker = sessionmaker
        self._inbox = inbox
        self._bootstrap = [s.strip() for s in bootstrap_servers.split(",")]
        self._group_id = group_id
        self._loop = loop
        self._on_applied = on_applied
        # Fault injection for tests: return True to stop as if the process died
        # after the database commit and before the offset commit.
        self._crash_after_apply = crash_after_apply
        self._max_attempts = max(1, max_attempts)
        self._retry_backoff = retry_backoff_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied = 0
        self.duplicates = 0
        #: Records passed over: no handler for their type.
        self.passed_over = 0
        #: Records given up on after ``max_attempts`` and recorded as ``failed``.
        self.failed = 0
        #: Set once the group has assigned this consumer its partitions.
        self.ready = threading.Event()
        #: Set while the last poll found nothing new: everything published so far is applied.
        self.caught_up = threading.Event()
        self.stats = metrics.ConsumerStats(name)
        self._next_lag = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- polling thread ----------------------------------------------------------------

    def _new_consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            *self.topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            client_id=f"{self._group_id}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
            max_poll_records=200,
        )

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                consumer = self._new_consumer()
            except Exception as exc:
                log.warning("consumer %s cannot reach the broker: %s", self.name, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            try:
                self._poll_loop(consumer)
                return
            except _Crash:
                consumer.close(autocommit=False)
                return
            except Exception:
                log.exception("consumer %s failed; reconnecting", self.name)
                consumer.close(autocommit=False)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        return

    def _poll_loop(self, consumer: KafkaConsumer) -> None:
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=300)
            if not self.ready.is_set() and consumer.assignment():
                self.ready.set()
            if metrics.enabled() and time.monotonic() >= self._next_lag:
                self._next_lag = time.monotonic() + LAG_SECONDS
                self.measure_lag(consumer)
            if not batch:
                if self.ready.is_set():
                    self.caught_up.set()
                continue
            self.caught_up.clear()
            for tp, records in batch.items():
                for record in records:
                    if not self._apply_with_retry(record):
                        consumer.seek(tp, record.offset)
                        break
            consumer.commit()
        consumer.close(autocommit=False)

    def measure_lag(self, consumer: KafkaConsumer) -> dict[tuple[str, int], int]:
        """Records between this consumer's position and the end of each of its partitions
        (partitions not fetched from yet are left out); kept for the lag gauge."""
        lag: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = consumer.position(tp, timeout_ms=100)
            except Exception:
                continue
            if position is not None:
                lag[(tp.topic, tp.partition)] = max(0, end - position)
        with self.stats.lock:
            self.stats.lag = lag
        metrics.watch_consumer(self.stats)
        return lag

    def _unhandled(self, record: Any) -> bool:
        for key, value in record.headers or ():
            if key == "ce_type":
                return value.decode(errors="replace") not in self.handlers
        return False

    def _apply_with_retry(self, record: Any) -> bool:
        """Apply one record, retrying failures until stopped; a record that keeps failing
        (not for a reason of the moment) is recorded as ``failed`` after ``max_attempts``.
        False if stopped."""
        if self._unhandled(record):
            self.passed_over += 1
            metrics.record_consumed(self.name, "passed_over")
            return True
        backoff = self._retry_backoff
        attempts = 0
        while not self._stop.is_set():
            future = asyncio.run_coroutine_threadsafe(self.apply(record), self._loop)
            try:
                env = future.result()
            except Exception as exc:
                transient = is_transient(exc)
                if not transient:
                    attempts += 1
                log.exception(
                    "consumer %s could not apply %s[%s]@%s (%s); retrying",
                    self.name, record.topic, record.partition, record.offset,
                    "of the moment" if transient else f"attempt {attempts} of {self._max_attempts}",
                )
                if attempts >= self._max_attempts and self._give_up(record, exc, attempts):
                    return True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if env is not None and self._crash_after_apply and self._crash_after_apply(env):
                raise _Crash()
            return True
        return False

    def _give_up(self, record: Any, exc: BaseException, attempts: int) -> bool:
        """Record ``record`` as ``failed`` in the inbox; False if that failed too (the
        record is then tried again, and nothing is skipped)."""
        event_id, event_type = _identity(record)
        detail = (f"{failure_reason(exc)}; {record.topic}[{record.partition}]@{record.offset}"
                  f" after {attempts} attempts")
        future = asyncio.run_coroutine_threadsafe(
            self._record_outcome(event_id, event_type, "failed", detail), self._loop)
        try:
            future.result()
        except Exception:
            log.exception("consumer %s could not record %s[%s]@%s as failed", self.name,
                          record.topic, record.partition, record.offset)
            return False
        self.failed += 1
        metrics.record_consumed(self.name, "failed")
        log.error("consumer %s gave up on event %s (%s) at %s[%s]@%s: %s; recorded in the inbox as"
                  " failed", self.name, event_id, event_type, record.topic, record.partition,
                  record.offset, detail)
        return True

    # -- one record, on the event loop -----------------------------------------------

    async def apply(self, record: Any) -> EventEnvelope | None:
        """Apply a Kafka record once; returns its envelope (None if unreadable)."""
        try:
            env = EventEnvelope.FromString(record.value)
        except Exception as exc:
            log.error("consumer %s: unreadable record %s[%s]@%s: %s", self.name,
                      record.topic, record.partition, record.offset, exc)
            await self._record_outcome(
                f"{record.topic}:{record.partition}:{record.offset}", "unreadable", "rejected",
                f"not an EventEnvelope: {exc}",
            )
            metrics.record_consumed(self.name, "rejected")
            return None
        carrier = {"traceparent": env.traceparent, "tracestate": env.tracestate}
        ctx = propagate.extract(carrier)
        with tracer.start_as_current_span(
            f"{env.type} process", context=ctx, kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic,
                        "messaging.message.id": env.id, "messaging.consumer.group.name":
                        self._group_id},
        ):
            handler = self.handlers.get(env.type)
            if handler is None:
                self.passed_over += 1
                metrics.record_consumed(self.name, "passed_over")
                return env
            try:
                async with self._sessionmaker() as session, session.begin():
                    if not await self._claim(session, env.id, env.type, "applied", ""):
                        log.info("consumer %s: event %s already applied", self.name, env.id)
                        self.duplicates += 1
                        metrics.record_consumed(self.name, "duplicate")
                        return env
                    await handler(session, env)
            except ServiceError as exc:
                log.warning("consumer %s rejected event %s (%s): %s", self.name, env.id,
                            env.type, exc.message)
                await self._record_outcome(env.id, env.type, "rejected", exc.message)
                metrics.record_consumed(self.name, "rejected")
                return env
        self.applied += 1
        metrics.record_consumed(self.name, "applied")
        if self._on_applied is not None:
            self._on_applied(env)
        return env

    async def _claim(
        self, session: AsyncSession, event_id: str, event_type: str, outcome: str, detail: str
    ) -> bool:
        dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
        now = datetime.now(UTC)
        result = await session.execute(
            insert_ignoring_conflicts(
                dialect,
                self._inbox,
                {
                    "consumer": self.name,
                    "event_id": event_id,
                    "event_type": event_type,
                    "outcome": outcome,
                    "detail": detail,
                    "received_at": now,
                },
                ["consumer", "event_id"],
            )
        )
        if getattr(result, "rowcount", 0):
            return True
        if outcome == "failed":
            return False
        # An event that failed before was not applied: delivered again (a replay once
        # its cause is fixed), it takes its outcome now, in this transaction.
        i = self._inbox
        retried = await session.execute(
            update(i)
            .where(i.c.consumer == self.name, i.c.event_id == event_id, i.c.outcome == "failed")
            .values(outcome=outcome, detail=detail, received_at=now)
        )
        return bool(getattr(retried, "rowcount", 0))

    async def _record_outcome(self, event_id: str, event_type: str, outcome: str, detail: str) -> None:
        async with self._sessionmaker() as session, session.begin():
            await self._claim(session, event_id, event_type, outcome, detail)


def service_consumers(
    settings: ServiceSettings,
    *,
    service: str,
    name: str,
    topics: list[str],
    handlers: Mapping[str, Handler],
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Table,
    wake_relay: Callable[[], None],
) -> Callable[[asyncio.AbstractEventLoop], list[EventConsumer]]:
    """A service host's consumers: one consumer in the group ``<prefix>.<service>``.

    None when ``settings.run_consumers`` is off. Events the handlers add to the outbox
    go out at once: each applied event wakes the service's relay.
    """

    def build(loop: asyncio.AbstractEventLoop) -> list[EventConsumer]:
        if not settings.run_consumers:
            return []
        return [EventConsumer(
            name=name, topics=topics, handlers=handlers, sessionmaker=sessionmaker, inbox=inbox,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.consumer_group_prefix}.{service}", loop=loop,
            on_applied=lambda _env: wake_relay(), max_attempts=settings.consumer_max_attempts,
        )]

    return build


class _Crash(Exception):
    """Raised by the fault-injection hook to stop as a dead process would."""


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it: ``__cause__``, ``__context__`` and SQLAlchemy's ``orig``."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen) or len(seen) > 20:
            continue
        seen.append(e)
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return seen


def _sqlstate(exc: BaseException) -> str | None:
    for e in _causes(exc):
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


#: Where the standard library and installed packages live: frames there are not the
#: service's code.
_LIBRARY_PATHS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an error of the moment rather than of the record: the database
    or the network away, a serialization failure or deadlock, a busy SQLite file. Such
    errors are retried for as long as they last, never counted against the record."""
    code = _sqlstate(exc)
    if code is not None:
        return code.startswith(_TRANSIENT_SQLSTATES)
    for e in _causes(exc):
        if isinstance(e, OSError | TimeoutError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sqlite3.OperationalError) and getattr(e, "sqlite_errorname", "") in (
                "SQLITE_BUSY", "SQLITE_LOCKED"):
            return True
    return False


def failure_reason(exc: BaseException) -> str:
    """A short reason for ``exc`` without its message (which may quote the data): its
    class, SQLSTATE and the constraint, table and column it names, and where it was
    raised."""
    reason = type(exc).__name__
    root = exc
    for _ in range(10):  # what it wraps: the driver's own error, say
        below = getattr(root, "orig", None) or root.__cause__
        if not isinstance(below, BaseException):
            break
        root = below
    if type(root).__name__ not in (reason, "Error"):
        reason += f" from {type(root).__name__}"
    code = _sqlstate(exc)
    if code is not None:
        reason += f" (SQLSTATE {code}"
        for e in _causes(exc):
            names = [f"{attr.removesuffix('_name')} {value}" for attr in
                     ("constraint_name", "table_name", "column_name")
                     if isinstance(value := getattr(e, attr, None), str) and value]
            if names:
                reason += ", " + ", ".join(names)
                break
        reason += ")"
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame of the service's own code (the handler), else the innermost.
    ours = [f for f in frames if not f.filename.startswith(_LIBRARY_PATHS)]
    if ours or frames:
        where = (ours or frames)[-1]
        reason += f" at {Path(where.filename).name}:{where.lineno} in {where.name}"
    return reason[:500]


def _identity(record: Any) -> tuple[str, str]:
    """A record's event id and type for the inbox, or its place if it cannot be read."""
    try:
        env = EventEnvelope.FromString(record.value)
    except Exception:
        env = None
    if env is not None and env.id:
        return env.id, env.type or "unknown"
    return f"{record.topic}:{record.partition}:{record.offset}", "unreadable"
