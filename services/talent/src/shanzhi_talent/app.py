"""Wiring of the talent service: database, outbox relay, points-event consumer, gRPC API, host."""

from __future__ import annotations

from pathlib import Path

from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_kit import telemetry
from shanzhi_kit.consumer import service_consumers
from shanzhi_kit.db import make_engine, make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.relay import OutboxRelay
from shanzhi_kit.retention import Retention
from shanzhi_kit.server import ServiceHost

from shanzhi_talent import SERVICE, TOPIC
from shanzhi_talent.api import TalentApi
from shanzhi_talent.consumers import HONOURS_CONSUMER, POINTS_TOPIC, PointsEventHandlers
from shanzhi_talent.settings import TalentSettings
from shanzhi_talent.tables import messaging

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = talent_pb2.DESCRIPTOR.services_by_name["TalentService"].full_name


def build(settings: TalentSettings) -> ServiceHost:
    vault = settings.pii_vault()
    engine = make_engine(settings.database_url)
    telemetry.instrument_engine(engine)
    sessionmaker = make_sessionmaker(engine)
    relay = OutboxRelay.for_service(settings, sessionmaker, messaging.outbox, SERVICE)
    retention = Retention.for_service(settings, sessionmaker, messaging)
    writer = IdempotentWriter(sessionmaker, messaging.idempotency_keys, after_commit=relay.wake,
                              hash_key=vault.request_hash_key)
    outbox = Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)
    api = TalentApi(sessionmaker, writer, outbox, vault)
    points_events = PointsEventHandlers(outbox)

    async def migrate() -> None:
        if settings.migrate_on_start:
            await upgrade_async(MIGRATIONS, settings.database_url)

    return ServiceHost(
        name=SERVICE,
        settings=settings,
        engine=engine,
        service_names=[SERVICE_NAME],
        register=lambda server: talent_pb2_grpc.add_TalentServiceServicer_to_server(api, server),
        background=[retention.run, *([relay.run] if settings.run_relay else [])],
        consumers=service_consumers(
            settings, service="talent", name=HONOURS_CONSUMER, topics=[POINTS_TOPIC],
            handlers=points_events.handlers(), sessionmaker=sessionmaker, inbox=messaging.inbox,
            wake_relay=relay.wake),
        before_ready=migrate,
    )
