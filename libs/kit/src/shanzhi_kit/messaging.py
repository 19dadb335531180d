"""Tables every service keeps for reliable messaging and retries.

- ``outbox``: events written in the same transaction as the change that caused
  them; the relay publishes them to Kafka and stamps ``published_at``.
- ``inbox``: each event id a consumer has applied (or refused), written in the same
  transaction as its effect, so redelivery changes nothing.
- ``idempotency_keys``: each write request's id with its answer, so a retried
  request returns the first answer and changes nothing.

The inbox and the idempotency keys are deleted once older than the service's keep
periods (:mod:`shanzhi_kit.retention`), found by a BRIN index on their times.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class MessagingTables:
    """The three tables, defined on a service's own metadata."""

    def __init__(self, metadata: MetaData) -> None:
        self.outbox = Table(
            "outbox",
            metadata,
            Column("seq", BigIntPK, primary_key=True, autoincrement=True),
            Column("event_id", String(36), nullable=False, unique=True),
            Column("topic", String(200), nullable=False),
            Column("key", String(200), nullable=False),
            Column("event_type", String(200), nullable=False),
            Column("payload", LargeBinary, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("published_at", DateTime(timezone=True), nullable=True),
            Index(
                "ix_outbox_unpublished",
                "seq",
                postgresql_where=text("published_at IS NULL"),
                sqlite_where=text("published_at IS NULL"),
            ),
        )
        self.inbox = Table(
            "inbox",
            metadata,
            Column("consumer", String(200), nullable=False),
            Column("event_id", String(36), nullable=False),
            Column("event_type", String(200), nullable=False),
            Column("outcome", String(20), nullable=False),
            Column("detail", Text, nullable=False, default=""),
            Column("received_at", DateTime(timezone=True), nullable=False),
            PrimaryKeyConstraint("consumer", "event_id"),
            # Rows go in in time order, so a BRIN index finds the old ones for
            # retention at almost no cost to inserts; SQLite makes it a plain index.
            Index("ix_inbox_received_at", "received_at", postgresql_using="brin"),
        )
        self.idempotency_keys = Table(
            "idempotency_keys",
            metadata,
            Column("caller", String(200), nullable=False),
            Column("method", String(200), nullable=False),
            Column("request_id", String(200), nullable=False),
            Column("request_hash", String(64), nullable=False),
            Column("response", LargeBinary, nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            PrimaryKeyConstraint("caller", "method", "request_id"),
            Index("ix_idempotency_keys_created_at", "created_at", postgresql_using="brin"),
        )
