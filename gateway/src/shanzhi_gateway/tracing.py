"""One OpenTelemetry span per GraphQL operation, and its duration as a metric.

The span continues the trace of the HTTP request (``traceparent`` header) and is
the parent of the gRPC client spans of the calls the operation makes. It records
the operation's type and name and the error codes, never the query text or
variables (they may hold personal data). With metrics on, each operation's duration
is recorded by type and outcome (``shanzhi.graphql.operation.duration``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from shanzhi_kit import metrics
from strawberry.extensions import SchemaExtension

_tracer = trace.get_tracer("shanzhi.gateway")


def _headers(context: Any) -> Any:
    request = getattr(context, "request", None)
    return getattr(request, "headers", None)


class OperationSpan(SchemaExtension):
    """Wraps each operation (query or mutation) in one span."""

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        headers = _headers(execution.context)
        parent = propagate.extract(headers) if headers is not None else None
        span = _tracer.start_span("GraphQL Operation", context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span))
        started = time.perf_counter()
        try:
            yield
        finally:
            try:
                ok = self._describe(span)
                metrics.record_graphql(self._operation_type() or "unknown", ok,
                                       (time.perf_counter() - started) * 1000)
            finally:
                otel_context.detach(token)
                span.end()

    def _operation_type(self) -> str:
        try:
            return str(self.execution_context.operation_type.value)
        except Exception:
            return ""

    def _describe(self, span: trace.Span) -> bool:
        """Name the span after the operation and mark its errors; whether it had none."""
        execution = self.execution_context
        operation_type = self._operation_type()
        name = execution.operation_name or ""
        if operation_type:
            span.set_attribute("graphql.operation.type", operation_type)
            span.update_name(f"{operation_type} {name}".strip())
        if name:
            span.set_attribute("graphql.operation.name", name)
        result = execution.result
        errors = getattr(result, "errors", None) or []
        if errors:
            codes = sorted({str((e.extensions or {}).get("code", "UNEXPECTED")) for e in errors})
            span.set_attribute("graphql.error.codes", codes)
            span.set_status(Status(StatusCode.ERROR))
        return not errors
