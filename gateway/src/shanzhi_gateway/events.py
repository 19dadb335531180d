"""Live domain events (领域事件) from Kafka, fanned out to GraphQL subscriptions.

One :class:`KafkaEventBridge` per gateway process reads the four service topics
with one kafka-python consumer on a daemon thread (the client is synchronous and
not thread-safe, so it never touches the event loop). The consumer has no
consumer group: it is assigned every partition of every topic and starts at the
end of each, so every gateway replica sees every event from the moment it is
assigned, and nothing is committed. The gateway stores nothing, so it keeps no
inbox either: this is a live feed, not a log. Events published while the bridge
is disconnected or before it is assigned are not replayed; a client that needs
the full picture re-reads with a query and then follows the subscription.

Each subscriber owns a bounded :class:`asyncio.Queue`. The thread hands parsed
events to the loop with ``loop.call_soon_threadsafe``, where they are offered to
the subscribers whose filter accepts them. A subscriber that reads too slowly
loses its oldest events, and the next event it reads says how many it missed;
the bridge itself never waits for a subscriber.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from kafka import KafkaConsumer
from shanzhi.common.v1 import event_pb2

log = logging.getLogger("shanzhi.gateway.events")

EventEnvelope = event_pb2.EventEnvelope

#: The services' event topics (docs/asyncapi.yaml).
TOPICS: tuple[str, ...] = (
    "shanzhi.talent.v1",
    "shanzhi.points.v1",
    "shanzhi.lists.v1",
    "shanzhi.audit.v1",
)
#: Events one subscriber may have waiting before its oldest are dropped.
DEFAULT_QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event read from Kafka: its topic and envelope."""

    topic: str
    envelope: EventEnvelope


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event handed to a subscriber, with how many it lost just before it."""

    event: LiveEvent
    missed: int


class EventSubscriber:
    """One subscriber's bounded queue of the events its filter accepts (event loop only)."""

    def __init__(self, accept: Callable[[LiveEvent], bool], maxsize: int) -> None:
        self._accept = accept
        self._queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(maxsize)
        self._missed = 0
        self._closed = False
        #: Events dropped because this subscriber read too slowly, in all.
        self.dropped = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: LiveEvent) -> None:
        """Queue ``event`` if the filter accepts it, dropping the oldest when full."""
        if self._closed or not self._accept(event):
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._missed += 1
            self.dropped += 1
        self._queue.put_nowait(event)

    def close(self) -> None:
        """End the subscription: :meth:`next` returns None once the queue is read."""
        if not self._closed:
            self._closed = True
            if self._queue.empty():
                self._queue.put_nowait(None)  # wakes a reader waiting in next()

    async def next(self) -> Delivery | None:
        """The next event, waiting for one; None when the subscription has ended."""
        if self._closed and self._queue.empty():
            return None
        item = await self._queue.get()
        if item is None:
            return None
        missed, self._missed = self._missed, 0
        return Delivery(item, missed)


class KafkaEventBridge:
    """Reads the service topics on a thread and fans the events out to subscribers."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topics: Sequence[str] = TOPICS,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        client_id: str = "shanzhi-gateway",
        poll_timeout_ms: int = 500,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.topics = tuple(topics)
        self._bootstrap = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
        if not self._bootstrap:
            raise ValueError("no Kafka bootstrap servers given")
        self._queue_size = queue_size
        self._client_id = client_id
        self._poll_timeout_ms = poll_timeout_ms
        self._subscribers: set[EventSubscriber] = set()
        self._assigned = asyncio.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        #: Records skipped because they do not hold an EventEnvelope.
        self.unreadable = 0

    # -- lifecycle (event loop) ---------------------------------------------------------

    def start(self) -> None:
        """Start reading on a daemon thread; call from the event loop that serves subscribers."""
        if self._thread is not None:
            raise RuntimeError("the event bridge is already started")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="gateway-event-bridge", daemon=True)
        self._thread.start()

    async def stop(self, join_seconds: float = 10.0) -> None:
        """Stop reading (the thread closes the consumer and is joined); end every subscription."""
        self._stopped = True
        self._stop.set()
        thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join, join_seconds)
            if thread.is_alive():
                log.warning("event bridge thread still running %.0fs after stop", join_seconds)
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()
        self._assigned.clear()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def assigned(self) -> bool:
        """True once every topic's partitions are assigned with a starting position."""
        return self._assigned.is_set()

    async def wait_assigned(self) -> None:
        """Wait until :attr:`assigned`: from then on, every new event is delivered."""
        await self._assigned.wait()

    # -- subscribers (event loop) -------------------------------------------------------

    @contextmanager
    def subscribe(self, accept: Callable[[LiveEvent], bool]) -> Iterator[EventSubscriber]:
        """A subscriber receiving the events ``accept`` lets through, while in the block."""
        subscriber = EventSubscriber(accept, self._queue_size)
        if self._stopped:
            subscriber.close()
        else:
            self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, events: Sequence[LiveEvent]) -> None:
        """Offer ``events`` to every subscriber (on the event loop; never waits)."""
        for event in events:
            for subscriber in tuple(self._subscribers):
                try:
                    subscriber.offer(event)
                except Exception:
                    log.exception("a subscriber's filter failed on event %s", event.envelope.id)

    # -- the consumer thread ------------------------------------------------------------

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> bool:
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def _new_consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            *self.topics,
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            # No group: every partition is assigned here, nothing is committed.
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            # Notice new partitions (and topics created later) within half a minute.
            metadata_max_age_ms=30_000,
            # Give up on an unreachable broker soon (the thread retries with backoff),
            # so a shutdown is not held up by a consumer still trying to connect.
            bootstrap_timeout_ms=3_000,
            reconnect_backoff_max_ms=5_000,
            max_poll_records=500,
        )

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                consumer = self._new_consumer()
            except Exception as exc:
                log.warning(
                    "event bridge cannot reach Kafka (%s); retrying in %.1fs", type(exc).__name__, backoff
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            try:
                self._poll_loop(consumer)
            except Exception:
                log.exception("event bridge failed; reconnecting in %.1fs", backoff)
                self._to_loop(self._assigned.clear)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5
            finally:
                with suppress(Exception):
                    consumer.close(autocommit=False)
        log.info("event bridge stopped")

    def _poll_loop(self, consumer: KafkaConsumer) -> None:
        assigned = False
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=self._poll_timeout_ms)
            if not assigned and self._has_positions(consumer):
                assigned = True
                log.info(
                    "event bridge assigned %d partitions of %s",
                    len(consumer.assignment()),
                    ", ".join(self.topics),
                )
                self._to_loop(self._assigned.set)
            events: list[LiveEvent] = []
            for records in batch.values():
                for record in records:
                    event = self._parse(record)
                    if event is not None:
                        events.append(event)
            if events and not self._to_loop(self.publish, events):
                self._stop.set()  # the event loop is gone: nobody left to deliver to
                return

    def _has_positions(self, consumer: KafkaConsumer) -> bool:
        """Every topic has partitions assigned, each with its starting offset known."""
        partitions = consumer.assignment()
        if {tp.topic for tp in partitions} != set(self.topics):
            return False
        return all(consumer.position(tp, timeout_ms=1000) is not None for tp in partitions)

    def _parse(self, record: Any) -> LiveEvent | None:
        try:
            env = EventEnvelope.FromString(record.value or b"")
        except (DecodeError, TypeError) as exc:
            problem = type(exc).__name__
        else:
            if env.id and env.type:
                return LiveEvent(record.topic, env)
            problem = "no id or type"
        # Where it is and why only: the value may hold personal data.
        self.unreadable += 1
        log.warning(
            "event bridge skipped an unreadable record at %s[%s]@%s: %s",
            record.topic,
            record.partition,
            record.offset,
            problem,
        )
        return None
