"""Metrics (OpenTelemetry), exported when the standard ``OTEL_*`` variables ask for it.

On when ``OTEL_METRICS_EXPORTER`` is ``otlp`` or ``console``, or an OTLP endpoint is set
(``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``);
``OTEL_METRICS_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true`` turns it off. The export
interval is ``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds, default 60,000).

What a service reports:

- ``rpc.server.duration`` (ms, histogram): every gRPC call, by ``rpc.service``,
  ``rpc.method`` and ``rpc.grpc.status_code``; its count is the call rate.
- ``shanzhi.outbox.pending`` (events) and ``shanzhi.outbox.oldest_pending_age`` (s): what
  the outbox relay has yet to publish, read by the relay every ``OUTBOX_STATS_SECONDS``.
  A backlog that grows, or an age beyond a few seconds, means the relay cannot reach the
  broker or does not keep up.
- ``shanzhi.outbox.published`` (events, counter): events the relay has published.
- ``shanzhi.consumer.events`` (events, counter): events each consumer took, by
  ``outcome``: ``applied``, ``duplicate`` (already in its inbox), ``rejected``,
  ``failed`` (given up on after its attempts, kept in the inbox for a replay) or
  ``passed_over`` (a type it does not handle). Any ``failed`` wants an operator.
- ``shanzhi.consumer.lag`` (records): per consumer and partition, how far its position is
  behind the end of the partition, as of its last poll.
- ``shanzhi.graphql.operation.duration`` (ms, histogram; the gateway): every GraphQL
  operation, by ``graphql.operation.type`` and ``outcome`` (``ok`` or ``error``). Not by
  operation name: clients choose names, and each would be a series of its own.

When metrics are off nothing is recorded: the call path checks one module variable.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shanzhi_kit.telemetry import signal_enabled

#: How often a relay reads its outbox's backlog for the gauges, in seconds.
OUTBOX_STATS_SECONDS = 15.0


def metrics_enabled() -> bool:
    return signal_enabled("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")


@dataclass
class OutboxStats:
    """A relay's last reading of its outbox: unpublished events and the oldest one's age."""

    pending: int = 0
    oldest_age_seconds: float = 0.0


@dataclass(eq=False)
class ConsumerStats:
    """What a consumer reports: lag by (topic, partition), as of its last poll."""

    name: str
    lag: dict[tuple[str, int], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Instruments:
    """The instruments of one meter, and the sources its gauges read."""

    def __init__(self, meter: Any) -> None:
        from opentelemetry.metrics import CallbackOptions, Observation

        self.rpc_duration = meter.create_histogram(
            "rpc.server.duration", unit="ms", description="Duration of gRPC calls served")
        self.published = meter.create_counter(
            "shanzhi.outbox.published", unit="{event}", description="Events the outbox relay published")
        self.consumed = meter.create_counter(
            "shanzhi.consumer.events", unit="{event}",
            description="Events taken by each consumer, by outcome")
        self.graphql_duration = meter.create_histogram(
            "shanzhi.graphql.operation.duration", unit="ms",
            description="Duration of GraphQL operations served by the gateway")
        self.outboxes: weakref.WeakValueDictionary[str, OutboxStats] = weakref.WeakValueDictionary()
        self.consumers: weakref.WeakSet[ConsumerStats] = weakref.WeakSet()

        def pending(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(s.pending, {"outbox": name}) for name, s in list(self.outboxes.items())]

        def oldest(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(s.oldest_age_seconds, {"outbox": name})
                    for name, s in list(self.outboxes.items())]

        def lag(_: CallbackOptions) -> Iterable[Observation]:
            observed = []
            for stats in list(self.consumers):
                with stats.lock:
                    items = list(stats.lag.items())
                observed += [Observation(n, {"consumer": stats.name, "messaging.destination.name": topic,
                                             "messaging.destination.partition.id": str(partition)})
                             for (topic, partition), n in items]
            return observed

        meter.create_observable_gauge("shanzhi.outbox.pending", [pending], unit="{event}",
                                      description="Events in the outbox not yet published")
        meter.create_observable_gauge("shanzhi.outbox.oldest_pending_age", [oldest], unit="s",
                                      description="Age of the oldest event not yet published")
        meter.create_observable_gauge("shanzhi.consumer.lag", [lag], unit="{record}",
                                      description="Records between a consumer's position and the end")
        self._rpc_attributes: dict[tuple[str, int], dict[str, Any]] = {}

    def rpc_attributes(self, method: str, code: int) -> dict[str, Any]:
        attributes = self._rpc_attributes.get((method, code))
        if attributes is None:
            service, _, name = method.lstrip("/").rpartition("/")
            attributes = self._rpc_attributes[(method, code)] = {
                "rpc.system": "grpc", "rpc.service": service, "rpc.method": name,
                "rpc.grpc.status_code": code}
        return attributes


_instruments: _Instruments | None = None


def install(meter: Any) -> None:
    """Record into ``meter`` from now on (the service's provider, or a test's)."""
    global _instruments
    _instruments = _Instruments(meter)


def uninstall() -> None:
    global _instruments
    _instruments = None


def enabled() -> bool:
    return _instruments is not None


def setup_metrics(default_service_name: str) -> bool:
    """Install a meter provider if an exporter is configured; returns whether it did."""
    if not metrics_enabled():
        return False
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    os.environ.setdefault("OTEL_SERVICE_NAME", default_service_name)
    exporter: Any
    if os.environ.get("OTEL_METRICS_EXPORTER", "otlp").lower() == "console":
        exporter = ConsoleMetricExporter()
    else:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter()
    reader = PeriodicExportingMetricReader(exporter)
    provider = MeterProvider(resource=Resource.create(), metric_readers=[reader])
    metrics.set_meter_provider(provider)
    install(provider.get_meter("shanzhi"))
    return True


def shutdown_metrics() -> None:
    from opentelemetry import metrics

    uninstall()
    shutdown: Callable[[], Any] | None = getattr(metrics.get_meter_provider(), "shutdown", None)
    if callable(shutdown):
        shutdown()


# -- recording (each a no-op while metrics are off) ---------------------------------------


def record_rpc(method: str, code: int, milliseconds: float) -> None:
    instruments = _instruments
    if instruments is not None:
        instruments.rpc_duration.record(milliseconds, instruments.rpc_attributes(method, code))


def record_graphql(operation_type: str, ok: bool, milliseconds: float) -> None:
    instruments = _instruments
    if instruments is not None:
        instruments.graphql_duration.record(milliseconds, {
            "graphql.operation.type": operation_type, "outcome": "ok" if ok else "error"})


def record_published(outbox: str, count: int) -> None:
    instruments = _instruments
    if instruments is not None and count:
        instruments.published.add(count, {"outbox": outbox})


def record_consumed(consumer: str, outcome: str) -> None:
    instruments = _instruments
    if instruments is not None:
        instruments.consumed.add(1, {"consumer": consumer, "outcome": outcome})


def watch_outbox(name: str, stats: OutboxStats) -> None:
    """Report ``stats`` as outbox ``name``'s gauges while it lives (calling it again is
    harmless)."""
    if _instruments is not None:
        _instruments.outboxes[name] = stats


def watch_consumer(stats: ConsumerStats) -> None:
    """Report ``stats`` as a consumer's lag while it lives (calling it again is harmless)."""
    if _instruments is not None:
        _instruments.consumers.add(stats)
