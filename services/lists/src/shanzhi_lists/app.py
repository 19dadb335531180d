"""Wiring of the lists service: database, outbox relay, gRPC API, host."""

from __future__ import annotations

from pathlib import Path

from shanzhi.lists.v1 import lists_pb2, lists_pb2_grpc
from shanzhi_kit import telemetry
from shanzhi_kit.db import make_engine, make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.relay import OutboxRelay
from shanzhi_kit.retention import Retention
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings

from shanzhi_lists import SERVICE, TOPIC
from shanzhi_lists.api import ListsApi
from shanzhi_lists.tables import messaging

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = lists_pb2.DESCRIPTOR.services_by_name["ListsService"].full_name


def build(settings: ServiceSettings) -> ServiceHost:
    engine = make_engine(settings.database_url)
    telemetry.instrument_engine(engine)
    sessionmaker = make_sessionmaker(engine)
    relay = OutboxRelay.for_service(settings, sessionmaker, messaging.outbox, SERVICE)
    retention = Retention.for_service(settings, sessionmaker, messaging)
    writer = IdempotentWriter(sessionmaker, messaging.idempotency_keys, after_commit=relay.wake)
    api = ListsApi(sessionmaker, writer, Outbox(messaging.outbox, source=SERVICE, topic=TOPIC))

    async def migrate() -> None:
        if settings.migrate_on_start:
            await upgrade_async(MIGRATIONS, settings.database_url)

    return ServiceHost(
        name=SERVICE,
        settings=settings,
        engine=engine,
        service_names=[SERVICE_NAME],
        register=lambda server: lists_pb2_grpc.add_ListsServiceServicer_to_server(api, server),
        background=[retention.run, *([relay.run] if settings.run_relay else [])],
        before_ready=migrate,
    )
