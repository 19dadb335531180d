"""Metrics: when they are on, and what the instruments report (no I/O)."""

from __future__ import annotations

import gc

import pytest
from shanzhi_kit import metrics
from shanzhi_kit.pytest_plugin import RecordedMetrics


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_METRICS_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_METRICS_EXPORTER": "none"}, False),
        ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_metrics_are_on_only_when_the_otel_variables_ask_for_them(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enabled: bool
) -> None:
    for name in ("OTEL_SDK_DISABLED", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert metrics.metrics_enabled() is enabled


def test_nothing_is_recorded_while_metrics_are_off() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    assert not metrics.enabled()
    stats = metrics.OutboxStats(pending=3)
    metrics.record_rpc("/shanzhi.points.v1.PointsService/AwardPoints", 0, 1.5)
    metrics.record_published("outbox", 3)
    metrics.record_consumed("talent-events", "applied")
    metrics.watch_outbox("outbox", stats)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.install(provider.get_meter("shanzhi-test"))
    try:
        recorded = RecordedMetrics(reader)
        for name in ("rpc.server.duration", "shanzhi.outbox.published", "shanzhi.consumer.events",
                     "shanzhi.outbox.pending"):
            assert recorded.points(name) == [], name
    finally:
        metrics.uninstall()
        provider.shutdown()


def test_each_call_is_recorded_by_service_method_and_status(recorded_metrics: RecordedMetrics) -> None:
    metrics.record_rpc("/shanzhi.points.v1.PointsService/AwardPoints", 0, 2.0)
    metrics.record_rpc("/shanzhi.points.v1.PointsService/AwardPoints", 0, 4.0)
    metrics.record_rpc("/shanzhi.points.v1.PointsService/AwardPoints", 9, 1.0)
    points = recorded_metrics.points("rpc.server.duration")
    by_code = {p.attributes["rpc.grpc.status_code"]: p for p in points}
    assert set(by_code) == {0, 9}
    ok = by_code[0]
    assert (ok.count, ok.sum) == (2, 6.0)
    assert dict(ok.attributes) == {"rpc.system": "grpc", "rpc.service": "shanzhi.points.v1.PointsService",
                                   "rpc.method": "AwardPoints", "rpc.grpc.status_code": 0}
    assert by_code[9].count == 1


def test_the_outbox_gauges_read_the_relays_last_reading_while_it_lives(
    recorded_metrics: RecordedMetrics,
) -> None:
    stats = metrics.OutboxStats(pending=120, oldest_age_seconds=42.5)
    metrics.watch_outbox("outbox", stats)
    metrics.record_published("outbox", 500)
    metrics.record_published("outbox", 0)
    assert recorded_metrics.by("shanzhi.outbox.pending", "outbox")["outbox"].value == 120
    assert recorded_metrics.by("shanzhi.outbox.oldest_pending_age", "outbox")["outbox"].value == 42.5
    assert recorded_metrics.by("shanzhi.outbox.published", "outbox")["outbox"].value == 500
    stats.pending = 0
    assert recorded_metrics.by("shanzhi.outbox.pending", "outbox")["outbox"].value == 0
    del stats
    gc.collect()
    assert recorded_metrics.points("shanzhi.outbox.pending") == []


def test_consumers_report_their_outcomes_and_their_lag_per_partition(
    recorded_metrics: RecordedMetrics,
) -> None:
    for outcome in ("applied", "applied", "duplicate", "passed_over"):
        metrics.record_consumed("talent-events", outcome)
    counted = recorded_metrics.by("shanzhi.consumer.events", "outcome")
    assert {k: p.value for k, p in counted.items()} == {"applied": 2, "duplicate": 1, "passed_over": 1}
    stats = metrics.ConsumerStats("talent-events", lag={("shanzhi.talent.events", 0): 7,
                                                         ("shanzhi.talent.events", 1): 0})
    metrics.watch_consumer(stats)
    metrics.watch_consumer(stats)
    lag = recorded_metrics.by("shanzhi.consumer.lag", "messaging.destination.partition.id")
    assert {k: p.value for k, p in lag.items()} == {"0": 7, "1": 0}
    assert {p.attributes["consumer"] for p in lag.values()} == {"talent-events"}
