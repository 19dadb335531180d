"""gRPC server bootstrap shared by every service.

:class:`ServiceHost` starts a ``grpc.aio`` server with the standard health
service, server reflection and the interceptors (tracing, caller identity,
error mapping, one log line and one duration metric per call). Health reports NOT_SERVING until the
database answers, then SERVING; background work (the outbox relay, event
consumers) starts at the same moment. On SIGTERM or SIGINT health turns
NOT_SERVING, consumers stop, and ``server.stop(grace)`` lets in-flight calls
finish.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from sqlalchemy.ext.asyncio import AsyncEngine

from shanzhi_kit import metrics, telemetry
from shanzhi_kit.auth import TokenVerifier, reset_current_caller, set_current_caller
from shanzhi_kit.consumer import EventConsumer
from shanzhi_kit.db import DriverPool, wait_for_database
from shanzhi_kit.errors import Aborted, InvalidArgument, ServiceError
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.strings import nul_field

log = logging.getLogger("shanzhi.grpc")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def status_for(error: ServiceError) -> grpc.Status:
    """The gRPC status for an error, with a google.rpc.BadRequest naming its fields."""
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if error.violations:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


INTERNAL_STATUS = rpc_status.to_status(
    status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")
)


#: Database errors that end a transaction without a change and that a retry can get past.
RETRYABLE_SQLSTATES = {
    "40001": "the database could not serialise this write with a concurrent one",
    "40P01": "the database broke a deadlock with a concurrent write",
}


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, raised by the driver or wrapped by SQLAlchemy."""
    for candidate in (error, getattr(error, "orig", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates the caller, maps errors to statuses and logs each call."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier
        #: The wrapped handler of each method, made on its first call: the handlers a
        #: server serves do not change once it has started.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith("/grpc.") or handler.unary_unary is None:
            return handler
        wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        behavior = handler.unary_unary
        verifier = self._verifier

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            failure: grpc.Status | None = None
            code = grpc.StatusCode.OK
            subject = "-"
            try:
                metadata = {k: v for k, v in context.invocation_metadata() or ()}
                caller = verifier.from_authorization(metadata.get("authorization"))
                subject = caller.subject
                bad = nul_field(request)
                if bad is not None:
                    raise InvalidArgument.field(bad, "must not contain the NUL character (\\x00)")
                token = set_current_caller(caller)
                try:
                    return await behavior(request, context)
                finally:
                    reset_current_caller(token)
            except ServiceError as exc:
                failure = status_for(exc)
            except asyncio.CancelledError:
                # The client went away or its deadline passed: the call ends unanswered.
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                reason = RETRYABLE_SQLSTATES.get(_sqlstate(exc) or "")
                if reason is not None:
                    # The database gave up on the transaction; nothing was written.
                    log.warning("%s: %s", method, reason)
                    failure = status_for(Aborted(f"{reason}; retry"))
                else:
                    log.exception("%s failed", method)
                    failure = INTERNAL_STATUS
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                if failure is not None:
                    code = failure.code
                log.info("%s %s caller=%s %.1fms", method, code.name, subject, elapsed)
                metrics.record_rpc(method, code.value[0], elapsed)
            assert failure is not None
            await context.abort(failure.code, failure.details, failure.trailing_metadata)

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def freeze_startup_heap() -> None:
    """Keep what start-up built out of the cyclic garbage collector's full passes.

    A process's modules, protobuf descriptors, SQL statements and settings live as
    long as it does, yet every full collection walks all of them again; under load
    that was about a quarter of a service's CPU for a 10,000-line batch. Collecting
    once and then freezing (:func:`gc.freeze`) moves them to the permanent generation,
    so collections walk only what requests made. Called once a process is ready to
    serve; later garbage is collected as before.
    """
    gc.collect()
    gc.freeze()


class ServiceHost:
    """Runs one service: gRPC server, health, reflection, background work, shutdown."""

    def __init__(
        self,
        *,
        name: str,
        settings: ServiceSettings,
        engine: AsyncEngine,
        service_names: Sequence[str],
        register: Callable[[grpc.aio.Server], None],
        background: Sequence[Background] = (),
        consumers: Callable[[asyncio.AbstractEventLoop], Sequence[EventConsumer]] | None = None,
        before_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.engine = engine
        self.service_names = list(service_names)
        self._register = register
        self._background = list(background)
        self._consumer_factory = consumers
        self._before_ready = before_ready
        self.health = health_aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.port: int | None = None
        self.consumers: list[EventConsumer] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()

    async def _set_all(self, status: Any) -> None:
        for service in ["", *self.service_names]:
            await self.health.set(service, status)

    async def start(self) -> int:
        verifier = TokenVerifier(self.settings.auth)
        server = grpc.aio.server(
            interceptors=[*telemetry.server_interceptors(), CallInterceptor(verifier)],
            options=[("grpc.so_reuseport", 1 if self.settings.grpc_reuse_port else 0)],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        self._register(server)
        reflection.enable_server_reflection(
            [*self.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME],
            server,
        )
        await self._set_all(NOT_SERVING)
        self.port = server.add_insecure_port(f"{self.settings.grpc_host}:{self.settings.grpc_port}")
        await server.start()
        self.server = server
        log.info("%s listening on %s:%s", self.name, self.settings.grpc_host, self.port)
        self._tasks.append(asyncio.create_task(self._become_ready(), name="ready"))
        return self.port

    async def _become_ready(self) -> None:
        await wait_for_database(self.engine)
        if self._before_ready is not None:
            await self._before_ready()
        for work in self._background:
            self._tasks.append(asyncio.create_task(work(self._stop)))
        if self._consumer_factory is not None:
            self.consumers = list(self._consumer_factory(asyncio.get_running_loop()))
            for consumer in self.consumers:
                consumer.start()
        await self._set_all(SERVING)
        self.ready.set()
        log.info("%s is SERVING", self.name)

    async def _freeze_when_ready(self) -> None:
        await self.ready.wait()
        freeze_startup_heap()

    async def stop(self) -> None:
        log.info("%s shutting down", self.name)
        await self.health.enter_graceful_shutdown()
        self._stop.set()
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in self.consumers))
        if self.server is not None:
            await self.server.stop(self.settings.shutdown_grace_seconds)
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await DriverPool.close_of(self.engine)
        await self.engine.dispose()
        log.info("%s stopped", self.name)

    async def run_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT: the life of a service process."""
        await self.start()
        self._tasks.append(asyncio.create_task(self._freeze_when_ready(), name="freeze-heap"))
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await self.stop()
        telemetry.shutdown_telemetry()
        metrics.shutdown_metrics()


def run_service(name: str, settings: ServiceSettings, build: Callable[[], ServiceHost]) -> None:
    """Entry point of a service process: logging, telemetry, then serve until SIGTERM.

    With ``SHANZHI_WORKERS`` above 1 this process starts that many copies of itself
    on the same port (SO_REUSEPORT), passes SIGTERM and SIGINT on to them and exits
    when they have. Each worker runs the relay and consumers too: one relay publishes
    at a time (an advisory lock per pass) and consumers share their group's partitions.
    """
    from shanzhi_kit.logs import configure_logging

    configure_logging(settings.log_level, name)
    if settings.workers > 1:
        raise SystemExit(_supervise(settings))
    telemetry.setup_telemetry(name)
    metrics.setup_metrics(name)
    asyncio.run(build().run_until_signal())


def _supervise(settings: ServiceSettings) -> int:
    import os
    import subprocess
    import sys

    if settings.grpc_port == 0:
        log.error("SHANZHI_WORKERS needs a fixed SHANZHI_GRPC_PORT")
        return 2
    env = dict(os.environ, SHANZHI_WORKERS="1", SHANZHI_GRPC_REUSE_PORT="true")
    children = [subprocess.Popen(sys.orig_argv, env=env) for _ in range(settings.workers)]
    log.info("started %d workers on port %s", len(children), settings.grpc_port)

    forwarded: set[int] = set()

    def forward(signum: int, _frame: object) -> None:
        forwarded.add(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    # A worker still starting when the signal came ends by it: that is a clean stop too.
    codes = [0 if code < 0 and -code in forwarded else code for code in codes]
    return max(codes, key=abs)
