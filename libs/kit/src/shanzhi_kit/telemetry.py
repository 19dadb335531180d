"""OpenTelemetry set-up, driven only by the standard ``OTEL_*`` variables.

Tracing is on when an exporter is configured: ``OTEL_TRACES_EXPORTER`` (``otlp``
or ``console``) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SDK_DISABLED=true`` turns it off.
The service name comes from ``OTEL_SERVICE_NAME`` (default: the service's own).
Trace context travels in gRPC metadata (the instrumentation's interceptors) and
in Kafka headers (``traceparent``, written by the outbox, read by consumers).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace

log = logging.getLogger(__name__)


def signal_enabled(exporter_variable: str, endpoint_variable: str) -> bool:
    """Whether the ``OTEL_*`` variables ask for a signal (traces, metrics) to be exported:
    its exporter named (not ``none``) or an OTLP endpoint set, and the SDK not disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = os.environ.get(exporter_variable, "").lower()
    if exporter == "none":
        return False
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(endpoint_variable)
    return bool(exporter or endpoint)


def tracing_enabled() -> bool:
    return signal_enabled("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def setup_telemetry(default_service_name: str) -> bool:
    """Install a tracer provider if an exporter is configured; returns whether it did."""
    if not tracing_enabled():
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    os.environ.setdefault("OTEL_SERVICE_NAME", default_service_name)
    provider = TracerProvider(resource=Resource.create())
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower()
    exporter: Any
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("tracing to %s", exporter_name)
    return True


def server_interceptors() -> list[Any]:
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def client_interceptors() -> list[Any]:
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


def instrument_engine(engine: Any) -> None:
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)


def shutdown_telemetry() -> None:
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()
