"""Wiring of the audit service: database, outbox relay, talent-event consumer, gRPC API, host."""

from __future__ import annotations

from pathlib import Path

from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc
from shanzhi_kit import telemetry
from shanzhi_kit.consumer import service_consumers
from shanzhi_kit.db import make_engine, make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.relay import OutboxRelay
from shanzhi_kit.retention import Retention
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.settings import ServiceSettings

from shanzhi_audit import SERVICE, TOPIC
from shanzhi_audit.api import AuditApi
from shanzhi_audit.consumers import SCHEDULE_CONSUMER, TALENT_TOPIC, TalentEventHandlers
from shanzhi_audit.tables import messaging

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name


def build(settings: ServiceSettings) -> ServiceHost:
    engine = make_engine(settings.database_url)
    telemetry.instrument_engine(engine)
    sessionmaker = make_sessionmaker(engine)
    relay = OutboxRelay.for_service(settings, sessionmaker, messaging.outbox, SERVICE)
    retention = Retention.for_service(settings, sessionmaker, messaging)
    writer = IdempotentWriter(sessionmaker, messaging.idempotency_keys, after_commit=relay.wake)
    outbox = Outbox(messaging.outbox, source=SERVICE, topic=TOPIC)
    api = AuditApi(sessionmaker, writer, outbox)
    talent_events = TalentEventHandlers(outbox)

    async def migrate() -> None:
        if settings.migrate_on_start:
            await upgrade_async(MIGRATIONS, settings.database_url)

    return ServiceHost(
        name=SERVICE,
        settings=settings,
        engine=engine,
        service_names=[SERVICE_NAME],
        register=lambda server: audit_pb2_grpc.add_AuditServiceServicer_to_server(api, server),
        background=[retention.run, *([relay.run] if settings.run_relay else [])],
        consumers=service_consumers(
            settings, service="audit", name=SCHEDULE_CONSUMER, topics=[TALENT_TOPIC],
            handlers=talent_events.handlers(), sessionmaker=sessionmaker, inbox=messaging.inbox,
            wake_relay=relay.wake),
        before_ready=migrate,
    )
