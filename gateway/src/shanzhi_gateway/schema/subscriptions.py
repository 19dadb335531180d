"""Subscriptions (订阅): live domain events (领域事件) from Kafka.

Served over a websocket (graphql-transport-ws). Every subscription needs an
authenticated caller: the token goes in the connection_init payload
(``{"Authorization": "Bearer …"}``) or in the HTTP ``Authorization`` header of the
upgrade request. Only events whose division code lies in the caller's region
scope (管辖范围), and under the requested prefix, are delivered. Events come from
the gateway's :class:`~shanzhi_gateway.events.KafkaEventBridge`; without one
(no Kafka configured) a subscription is refused with code ``UNIMPLEMENTED``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Annotated

import strawberry
from shanzhi.audit.v1 import events_pb2 as audit_events
from shanzhi_kit.auth import Caller
from shanzhi_kit.errors import InvalidArgument, PermissionDenied, Unauthenticated
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET, UnsetType

from shanzhi_gateway.context import GatewayContext, Loaders
from shanzhi_gateway.errors import GatewayError, invalid_argument, unauthenticated
from shanzhi_gateway.events import Delivery, KafkaEventBridge, LiveEvent
from shanzhi_gateway.schema.audit import AuditScheduleEntry
from shanzhi_gateway.schema.common import Info, RegionCodePrefixArg, to_datetime

log = logging.getLogger("shanzhi.gateway.subscriptions")

#: Most event types one domainEvents subscription may name.
MAX_TYPES = 50
#: The type of the event that puts a cadre on the audit schedule.
AUDIT_SCHEDULED = audit_events.AuditScheduledEvent.DESCRIPTOR.full_name
AUDIT_TOPIC = "shanzhi.audit.v1"

TypesArg = Annotated[
    list[str] | None,
    strawberry.argument(
        description=(
            "Only events of these types (事件类型), full protobuf names such as "
            '"shanzhi.audit.v1.AuditScheduledEvent"; null or empty means every type. '
            f"At most {MAX_TYPES}."
        )
    ),
]


@strawberry.type(
    description=(
        "Domain event (领域事件): a change a service committed, as published on Kafka. "
        "It says what happened to which record, never the record's contents: read those "
        "with a query. Delivery is at least once; compare ids to spot a repeat."
    )
)
class DomainEvent:
    id: strawberry.ID = strawberry.field(description="Event id (事件编号), a UUID.")
    type: str = strawberry.field(
        description=(
            'Event type (事件类型): the full protobuf name, e.g. "shanzhi.talent.v1.PersonAppointedEvent".'
        )
    )
    source: str = strawberry.field(description='Producing service (来源服务), e.g. "shanzhi.talent".')
    time: dt.datetime = strawberry.field(description="When the change was committed (发生时间).")
    subject: str = strawberry.field(
        description="Id of the record the event is about (主体编号), e.g. a person's or an entry's id."
    )
    region_code: str = strawberry.field(
        description="12-digit division code (行政区划代码) of the record the event is about."
    )
    actor: str = strawberry.field(description='Who made the change (操作人, 留痕): the user id, or "system".')
    missed_events: int = strawberry.field(
        description=(
            "Events lost just before this one (丢失事件数) because this subscription read too "
            "slowly; 0 normally. When not 0, re-read what you display."
        )
    )

    @classmethod
    def from_delivery(cls, delivery: Delivery) -> DomainEvent:
        env = delivery.event.envelope
        return cls(
            id=strawberry.ID(env.id),
            type=env.type,
            source=env.source,
            time=to_datetime(env.time),
            subject=env.subject,
            region_code=env.region_code,
            actor=env.actor,
            missed_events=delivery.missed,
        )


def _bridge(ctx: GatewayContext) -> KafkaEventBridge:
    request = ctx.request
    bridge = getattr(request.app.state, "events", None) if request is not None else None
    if bridge is None:
        raise GatewayError(
            "subscriptions (订阅) are not enabled on this gateway: it is not connected to Kafka",
            "UNIMPLEMENTED",
        )
    return bridge


def _effective_prefix(caller: Caller, prefix: str) -> str:
    """The division-code prefix to deliver: ``prefix`` within the caller's scope."""
    try:
        effective = caller.scope.narrow(prefix, "regionCodePrefix")
    except InvalidArgument as exc:
        violation = exc.violations[0]
        raise invalid_argument(violation.field, violation.description) from None
    except PermissionDenied as exc:
        raise GatewayError(exc.message, "PERMISSION_DENIED") from None
    if effective is None:
        raise GatewayError(
            "your token carries no region scope (管辖范围), so no event can be delivered",
            "PERMISSION_DENIED",
        )
    return effective


def _in_scope(caller: Caller, prefix: str) -> Callable[[LiveEvent], bool]:
    def accept(event: LiveEvent) -> bool:
        code = event.envelope.region_code
        return bool(code) and caller.scope.covers(code) and code.startswith(prefix)

    return accept


def _check_still_valid(ctx: GatewayContext, caller: Caller) -> None:
    """End the subscription once the caller's token has expired (or no longer verifies)."""
    request = ctx.request
    verifier = getattr(request.app.state, "verifier", None) if request is not None else None
    if verifier is None:
        return
    try:
        verifier.verify(caller.token)
    except Unauthenticated as exc:
        raise unauthenticated(exc.message) from None


async def _domain_events(
    ctx: GatewayContext, bridge: KafkaEventBridge, caller: Caller, accept: Callable[[LiveEvent], bool]
) -> AsyncGenerator[DomainEvent, None]:
    with bridge.subscribe(accept) as subscriber:
        while (delivery := await subscriber.next()) is not None:
            _check_still_valid(ctx, caller)
            yield DomainEvent.from_delivery(delivery)


def _entry_id(event: LiveEvent) -> str:
    data = audit_events.AuditScheduledEvent()
    try:
        if event.envelope.data.Unpack(data) and data.entry_id:
            return data.entry_id
    except Exception:
        log.warning("event %s holds an unreadable %s", event.envelope.id, AUDIT_SCHEDULED)
    return event.envelope.subject


async def _audit_scheduled(
    ctx: GatewayContext, bridge: KafkaEventBridge, caller: Caller, accept: Callable[[LiveEvent], bool]
) -> AsyncGenerator[AuditScheduleEntry, None]:
    with bridge.subscribe(accept) as subscriber:
        while (delivery := await subscriber.next()) is not None:
            _check_still_valid(ctx, caller)
            if delivery.missed:
                raise GatewayError(
                    f"{delivery.missed} audit schedule events (审计计划) were lost because this "
                    "subscription read too slowly; re-read auditSchedule and subscribe again",
                    "RESOURCE_EXHAUSTED",
                )
            # Fresh loaders for each event: a websocket's context lives as long as the
            # connection, and the entry (or its cadre) may have changed since the last one.
            ctx.loaders = Loaders(ctx)
            found = await ctx.loaders.audit_schedule_entries.load(_entry_id(delivery.event))
            if found is not None:  # None: outside the scope the audit service enforces
                yield AuditScheduleEntry.from_pb(found)


@strawberry.type(
    description=(
        "Live updates (订阅), over a websocket (graphql-transport-ws). Authenticate in the "
        'connection_init payload: {"Authorization": "Bearer <token>"}. Only events within '
        "your region scope (管辖范围) are delivered."
    )
)
class Subscription:
    @strawberry.subscription(
        description=(
            "Domain events (领域事件) of every service as they happen, within your region scope "
            "and the given prefix, optionally only some types."
        )
    )
    async def domain_events(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        types: TypesArg = None,
    ) -> AsyncGenerator[DomainEvent, None]:
        ctx = info.context
        caller = ctx.caller
        bridge = _bridge(ctx)
        prefix = _effective_prefix(caller, region_code_prefix)
        if types is not None and len(types) > MAX_TYPES:
            raise invalid_argument("types", f"at most {MAX_TYPES} event types")
        if types is not None and not all(types):
            raise invalid_argument("types", "an event type cannot be empty")
        wanted = frozenset(types or ())
        in_scope = _in_scope(caller, prefix)

        def accept(event: LiveEvent) -> bool:
            return in_scope(event) and (not wanted or event.envelope.type in wanted)

        return _domain_events(ctx, bridge, caller, accept)

    @strawberry.subscription(
        description=(
            "Cadres newly put on the audit schedule (审计计划) within your region scope and the "
            "given prefix: each entry as the audit service returns it to you. A subscriber that "
            "falls too far behind gets an error (code RESOURCE_EXHAUSTED) and should re-read "
            "auditSchedule, then subscribe again."
        )
    )
    async def audit_scheduled(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
    ) -> AsyncGenerator[AuditScheduleEntry, None]:
        ctx = info.context
        caller = ctx.caller
        bridge = _bridge(ctx)
        in_scope = _in_scope(caller, _effective_prefix(caller, region_code_prefix))

        def accept(event: LiveEvent) -> bool:
            env = event.envelope
            return event.topic == AUDIT_TOPIC and env.type == AUDIT_SCHEDULED and in_scope(event)

        return _audit_scheduled(ctx, bridge, caller, accept)


class GatewayGraphQLRouter(GraphQLRouter[GatewayContext, None]):
    """The GraphQL router; over a websocket it checks the token sent at connection_init.

    A connection_init payload (or upgrade request) carrying a token that does not
    verify is refused: the socket closes with 4403. Without any token the
    connection is accepted, and each subscription then fails with UNAUTHENTICATED.
    """

    async def on_ws_connect(self, context: GatewayContext) -> UnsetType | dict[str, object] | None:
        if context.authorization is not None:
            try:
                context.caller  # noqa: B018 - verifies the token, once per connection
            except GatewayError as exc:
                raise ConnectionRejectionError({"message": exc.message, "code": exc.code}) from None
        return UNSET
