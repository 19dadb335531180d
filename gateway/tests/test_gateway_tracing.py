"""One span per GraphQL operation, parent of the calls it makes; its duration as a metric."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from shanzhi.talent.v1 import talent_pb2
from shanzhi_gateway import tracing
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema
from shanzhi_kit.pytest_plugin import RecordedMetrics

if TYPE_CHECKING:
    from conftest import Fakes


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    return exporter


async def test_operation_span_is_the_parent_of_service_calls(
    spans: InMemorySpanExporter,
    fakes: Fakes,
    context_for: Callable[[str | None], GatewayContext],
    token: str,
) -> None:
    seen: list[Any] = []

    def list_people(request: Any) -> talent_pb2.ListPeopleResponse:
        seen.append(trace.get_current_span().get_span_context())
        return talent_pb2.ListPeopleResponse()

    fakes.talent.answer("ListPeople", list_people)
    result = await schema.execute(
        'query Roster { people(regionCodePrefix: "130123") { items { name } } }',
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    (span,) = spans.get_finished_spans()
    assert span.name == "query Roster"
    assert span.attributes is not None
    assert span.attributes["graphql.operation.type"] == "query"
    assert span.attributes["graphql.operation.name"] == "Roster"
    assert span.status.status_code == StatusCode.UNSET
    assert seen[0].span_id == span.context.span_id
    assert "130123" not in str(span.attributes)


async def test_operation_span_records_error_codes(
    spans: InMemorySpanExporter, context_for: Callable[[str | None], GatewayContext]
) -> None:
    await schema.execute("{ viewer { subject } }", context_value=context_for(None))
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["graphql.error.codes"] == ("UNAUTHENTICATED",)


async def test_each_operation_is_measured_by_type_and_outcome_while_metrics_are_on(
    recorded_metrics: RecordedMetrics,
    fakes: Fakes,
    context_for: Callable[[str | None], GatewayContext],
    token: str,
) -> None:
    fakes.talent.answer("ListPeople", lambda request: talent_pb2.ListPeopleResponse())
    for _ in range(2):
        result = await schema.execute(
            'query Roster { people(regionCodePrefix: "130123") { items { name } } }',
            context_value=context_for(f"Bearer {token}"))
        assert result.errors is None
    await schema.execute("{ viewer { subject } }", context_value=context_for(None))
    points = recorded_metrics.by("shanzhi.graphql.operation.duration", "outcome")
    assert {k: (p.count, p.attributes["graphql.operation.type"]) for k, p in points.items()} == {
        "ok": (2, "query"), "error": (1, "query")}
    assert all(p.sum > 0 for p in points.values())
