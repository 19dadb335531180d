"""gRPC clients of the four services: one channel each, shared by all requests.

Every call carries the caller's own bearer token in the ``authorization``
metadata (each service verifies it again and enforces the region scope) and the
configured deadline. A failed call becomes a :class:`~shanzhi_gateway.errors.GatewayError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc
from shanzhi.lists.v1 import lists_pb2, lists_pb2_grpc
from shanzhi.points.v1 import points_pb2, points_pb2_grpc
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_kit.telemetry import client_interceptors

from shanzhi_gateway.errors import from_rpc_error
from shanzhi_gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from shanzhi.audit.v1.audit_pb2_grpc import AuditServiceAsyncStub
    from shanzhi.lists.v1.lists_pb2_grpc import ListsServiceAsyncStub
    from shanzhi.points.v1.points_pb2_grpc import PointsServiceAsyncStub
    from shanzhi.talent.v1.talent_pb2_grpc import TalentServiceAsyncStub

log = logging.getLogger("shanzhi.gateway.clients")

Resp = TypeVar("Resp")

#: Full gRPC service names, as registered with the health service.
SERVICE_NAMES: Mapping[str, str] = {
    "points": points_pb2.DESCRIPTOR.services_by_name["PointsService"].full_name,
    "lists": lists_pb2.DESCRIPTOR.services_by_name["ListsService"].full_name,
    "audit": audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    "talent": talent_pb2.DESCRIPTOR.services_by_name["TalentService"].full_name,
}


def _method_name(method: Any) -> str:
    name = getattr(method, "_method", b"")
    return name.decode() if isinstance(name, bytes) else str(name)


@dataclass
class ServiceClients:
    """Stubs of the four services, plus the channels behind them (if any)."""

    points: PointsServiceAsyncStub
    lists: ListsServiceAsyncStub
    audit: AuditServiceAsyncStub
    talent: TalentServiceAsyncStub
    timeout: float
    channels: Mapping[str, grpc.aio.Channel] | None = None

    @classmethod
    def connect(cls, settings: GatewaySettings) -> ServiceClients:
        """Open one channel per service (connections are made on first use)."""
        interceptors = client_interceptors()
        addresses = {
            "points": settings.points_addr,
            "lists": settings.lists_addr,
            "audit": settings.audit_addr,
            "talent": settings.talent_addr,
        }
        channels = {
            name: grpc.aio.insecure_channel(address, interceptors=interceptors or None)
            for name, address in addresses.items()
        }
        return cls(
            points=cast("PointsServiceAsyncStub", points_pb2_grpc.PointsServiceStub(channels["points"])),
            lists=cast("ListsServiceAsyncStub", lists_pb2_grpc.ListsServiceStub(channels["lists"])),
            audit=cast("AuditServiceAsyncStub", audit_pb2_grpc.AuditServiceStub(channels["audit"])),
            talent=cast("TalentServiceAsyncStub", talent_pb2_grpc.TalentServiceStub(channels["talent"])),
            timeout=settings.rpc_timeout_seconds,
            channels=channels,
        )

    async def close(self) -> None:
        if self.channels:
            await asyncio.gather(*(channel.close() for channel in self.channels.values()))

    async def call(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Any,
        *,
        token: str,
    ) -> Resp:
        """Call ``method`` with the caller's token and the deadline; map failures."""
        try:
            return await method(
                request,
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=self.timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, _method_name(method)) from None

    async def health(self, deadline: float) -> dict[str, str]:
        """Each service's health status name (SERVING, NOT_SERVING, UNAVAILABLE, …)."""
        if not self.channels:
            return {}

        async def check(name: str, channel: grpc.aio.Channel) -> tuple[str, str]:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                answer = await stub.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[name]), timeout=deadline
                )
            except grpc.aio.AioRpcError as exc:
                return name, exc.code().name
            return name, health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

        results = await asyncio.gather(*(check(name, channel) for name, channel in self.channels.items()))
        return dict(results)
