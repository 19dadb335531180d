"""Wiring of the points service: database, outbox relay, publicity closer, talent-event
consumer, gRPC API, host."""

from __future__ import annotations

from pathlib import Path

from shanzhi.points.v1 import points_pb2, points_pb2_grpc
from shanzhi_kit import telemetry
from shanzhi_kit.consumer import service_consumers
from shanzhi_kit.db import DriverPool, make_engine, make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.relay import OutboxRelay
from shanzhi_kit.retention import Retention
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings

from shanzhi_points import SERVICE, TOPIC
from shanzhi_points.api import PointsApi
from shanzhi_points.clock import Clock, SystemClock
from shanzhi_points.consumers import REPRESENTATIVES_CONSUMER, TALENT_TOPIC, TalentEventHandlers
from shanzhi_points.publicity import Finaliser
from shanzhi_points.tables import messaging

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = points_pb2.DESCRIPTOR.services_by_name["PointsService"].full_name


class PointsSettings(ServiceSettings):
    """The kit's settings, and how often windows close and lots expire."""

    #: Seconds between passes of the publicity closer and lot expiry.
    publicity_poll_seconds: float = 2.0


def build(settings: ServiceSettings, clock: Clock | None = None) -> ServiceHost:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    telemetry.instrument_engine(engine)
    DriverPool.of(engine, settings.driver_pool_size)
    sessionmaker = make_sessionmaker(engine)
    relay = OutboxRelay.for_service(settings, sessionmaker, messaging.outbox, SERVICE)
    retention = Retention.for_service(settings, sessionmaker, messaging)
    writer = IdempotentWriter(sessionmaker, messaging.idempotency_keys, after_commit=relay.wake)
    outbox = Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)
    finaliser = Finaliser(
        sessionmaker, outbox, clock, wake=relay.wake,
        interval_seconds=getattr(settings, "publicity_poll_seconds", 2.0),
    )
    api = PointsApi(sessionmaker, writer, outbox, clock, finaliser)
    talent_events = TalentEventHandlers(outbox, clock)

    async def migrate() -> None:
        if settings.migrate_on_start:
            await upgrade_async(MIGRATIONS, settings.database_url)

    background = [finaliser.run, retention.run]
    if settings.run_relay:
        background.append(relay.run)
    return ServiceHost(
        name=SERVICE,
        settings=settings,
        engine=engine,
        service_names=[SERVICE_NAME],
        register=lambda server: points_pb2_grpc.add_PointsServiceServicer_to_server(api, server),
        background=background,
        consumers=service_consumers(
            settings, service="points", name=REPRESENTATIVES_CONSUMER, topics=[TALENT_TOPIC],
            handlers=talent_events.handlers(), sessionmaker=sessionmaker, inbox=messaging.inbox,
            wake_relay=relay.wake),
        before_ready=migrate,
    )
