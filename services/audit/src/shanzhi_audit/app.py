"""Wiring of the audit service: database, outbox relay, talent-event consumer, gRPC API, host."""

from __future__ import annotations

from pathlib import Path

from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc
from shanzhi_kit import telemetry
from shanzhi_kit.consumer import EventConsumer
from shanzhi_kit.db import make_engine, make_sessionmaker
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.relay import OutboxRelay, kafka_producer
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
    relay = OutboxRelay(
        sessionmaker, messaging.outbox,
        lambda: kafka_producer(settings.kafka_bootstrap_servers, SERVICE),
        poll_seconds=settings.relay_poll_seconds,
    )
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
        background=[relay.run] if settings.run_relay else [],
        consumers=lambda loop: [
            EventConsumer(
                name=SCHEDULE_CONSUMER,
                topics=[TALENT_TOPIC],
                handlers=talent_events.handlers(),
                sessionmaker=sessionmaker,
                inbox=messaging.inbox,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=f"{settings.consumer_group_prefix}.audit",
                loop=loop,
                # Events the handlers added to the outbox go out without waiting for a poll.
                on_applied=lambda _env: relay.wake(),
            )
        ] if settings.run_consumers else [],
        before_ready=migrate,
    )
