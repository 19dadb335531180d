"""The gRPC bootstrap: health follows the database and shutdown, calls are authenticated."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.common.v1 import paging_pb2
from shanzhi_kit.db import make_engine
from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.pytest_plugin import RecordedMetrics, auth_metadata, wait_until
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.testing import fresh_database, postgres_admin_url, run_database_name
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def check(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="shanzhi.test.v1.TestService"), timeout=2)
    return int(reply.status)


async def test_health_is_serving_only_once_the_database_answers_and_not_while_stopping(
    postgres: None,
) -> None:
    name = run_database_name(f"shanzhi_test_health_{uuid.uuid4().hex[:6]}")
    url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    settings = ServiceSettings(database_url=url, grpc_port=0, shutdown_grace_seconds=1)
    host = ServiceHost(name="test", settings=settings, engine=make_engine(url),
                       service_names=["shanzhi.test.v1.TestService"], register=lambda server: None)
    port = await host.start()
    try:
        # The database does not exist yet: the service is up but not serving.
        await asyncio.sleep(0.5)
        assert await check(port) == NOT_SERVING
        await fresh_database(name)
        await asyncio.wait_for(host.ready.wait(), 20)
        assert await check(port) == SERVING

        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="shanzhi.test.v1.TestService"))
            assert (await watch.read()).status == SERVING
            stopping = asyncio.create_task(host.stop())
            assert (await watch.read()).status == NOT_SERVING
            watch.cancel()
            await stopping
    finally:
        if host.server is not None:
            await host.server.stop(0)


async def test_every_call_is_measured_by_method_and_status_while_metrics_are_on(
    postgres: None, recorded_metrics: RecordedMetrics,
) -> None:
    url = await fresh_database(run_database_name("shanzhi_test_rpc_metrics"))

    async def echo(request: paging_pb2.PageRequest,
                   context: grpc.aio.ServicerContext) -> paging_pb2.PageRequest:
        if request.page_size > 100:
            raise InvalidArgument.field("page_size", "must be at most 100")
        return request

    async def slow(request: paging_pb2.PageRequest,
                   context: grpc.aio.ServicerContext) -> paging_pb2.PageRequest:
        await asyncio.sleep(30)
        return request

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "shanzhi.test.v1.TestService", {name: grpc.unary_unary_rpc_method_handler(
                behavior, request_deserializer=paging_pb2.PageRequest.FromString,
                response_serializer=paging_pb2.PageRequest.SerializeToString)
                for name, behavior in (("Echo", echo), ("Slow", slow))})])

    settings = ServiceSettings(database_url=url, grpc_port=0, shutdown_grace_seconds=1)
    host = ServiceHost(name="test", settings=settings, engine=make_engine(url),
                       service_names=["shanzhi.test.v1.TestService"], register=register)
    port = await host.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/shanzhi.test.v1.TestService/Echo",
                                       request_serializer=paging_pb2.PageRequest.SerializeToString,
                                       response_deserializer=paging_pb2.PageRequest.FromString)
            md = auth_metadata("130123")
            for size in (10, 20):
                assert (await call(paging_pb2.PageRequest(page_size=size), metadata=md)).page_size == size
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(paging_pb2.PageRequest(page_size=500), metadata=md)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await call(paging_pb2.PageRequest(page_size=1))
            assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
            slow_call = channel.unary_unary("/shanzhi.test.v1.TestService/Slow",
                                            request_serializer=paging_pb2.PageRequest.SerializeToString,
                                            response_deserializer=paging_pb2.PageRequest.FromString)
            with pytest.raises(grpc.aio.AioRpcError) as late:
                await slow_call(paging_pb2.PageRequest(), metadata=md, timeout=0.3)
            assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        async def slow_call_recorded() -> bool:
            points = recorded_metrics.points("rpc.server.duration")
            return "Slow" in {p.attributes["rpc.method"] for p in points}
        await wait_until(slow_call_recorded, within=10)
    finally:
        await host.stop()
    (abandoned,) = [p for p in recorded_metrics.points("rpc.server.duration")
                    if p.attributes["rpc.method"] == "Slow"]
    assert abandoned.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    calls = {p.attributes["rpc.grpc.status_code"]: p for p in recorded_metrics.points("rpc.server.duration")
             if p.attributes["rpc.method"] == "Echo"}
    assert {code: p.count for code, p in calls.items()} == {
        grpc.StatusCode.OK.value[0]: 2, grpc.StatusCode.INVALID_ARGUMENT.value[0]: 1,
        grpc.StatusCode.UNAUTHENTICATED.value[0]: 1}
    assert {(p.attributes["rpc.service"], p.attributes["rpc.method"]) for p in calls.values()} == {
        ("shanzhi.test.v1.TestService", "Echo")}
    assert all(p.sum > 0 for p in calls.values())
