"""Settings read from the environment (pydantic-settings).

Every service reads the same ``SHANZHI_*`` variables; a service that needs more
subclasses :class:`ServiceSettings`. Telemetry reads only the standard ``OTEL_*``
variables (see :mod:`shanzhi_kit.telemetry`).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    """How bearer tokens (JWT) are verified, the same at the gateway and in services."""

    model_config = SettingsConfigDict(env_prefix="SHANZHI_JWT_", extra="ignore")

    #: Shared secret for HS256 tokens (development and tests).
    secret: SecretStr | None = None
    #: PEM public key for RS256/ES256 tokens from a real identity provider.
    public_key: str | None = None
    #: Accepted algorithms, comma separated.
    algorithms: str = "HS256"
    #: Expected ``iss`` and ``aud``; unchecked when empty.
    issuer: str = ""
    audience: str = ""

    def verification_key(self) -> str:
        if self.public_key:
            return self.public_key
        if self.secret is not None:
            return self.secret.get_secret_value()
        raise RuntimeError("set SHANZHI_JWT_SECRET or SHANZHI_JWT_PUBLIC_KEY")

    def algorithm_list(self) -> list[str]:
        return [a.strip() for a in self.algorithms.split(",") if a.strip()]


class ServiceSettings(BaseSettings):
    """Settings every service process reads."""

    model_config = SettingsConfigDict(env_prefix="SHANZHI_", extra="ignore")

    #: SQLAlchemy URL: ``postgresql+asyncpg://…`` in production, ``sqlite+aiosqlite:///…`` locally.
    database_url: str = "sqlite+aiosqlite:///var/service.db"
    #: Kafka bootstrap servers, comma separated.
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    #: Address the gRPC server binds.
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    #: Seconds in-flight calls get to finish on shutdown.
    shutdown_grace_seconds: float = 10.0
    #: Connections of the driver pool that single-statement hot paths use (points awards).
    #: Few is faster: a database runs best with about two busy connections per core, and
    #: callers beyond them wait in the pool rather than in the database's locks. Divide
    #: about twice the database's cores among the replicas.
    driver_pool_size: int = Field(default=4, ge=1, le=100)
    #: How often the outbox relay looks for unpublished events when not woken.
    relay_poll_seconds: float = 0.5
    #: Days a published event stays in the outbox before the relay deletes it. Kafka
    #: keeps the stream and the service's own tables keep the facts; the outbox only
    #: has to outlive a relay's restart. Unpublished events are never deleted.
    outbox_keep_days: float = Field(default=7.0, ge=0)
    #: Days a write request's id and answer are kept: a retry with the same request id
    #: within that time gets the first answer; after it, the id is forgotten and the
    #: request is a new one. 0 keeps them forever.
    idempotency_keep_days: float = Field(default=30.0, ge=0)
    #: Days a consumed event's id stays in the inbox. Deleting it is safe only once the
    #: event cannot be delivered again, so this must exceed the retention of the topics
    #: consumed and the broker's retention of committed offsets
    #: (``offsets.retention.minutes``). 0, the default, keeps them forever.
    inbox_keep_days: float = Field(default=0.0, ge=0)
    #: Kafka consumer group prefix; the consumer name is appended.
    consumer_group_prefix: str = "shanzhi"
    #: Attempts, with backoff, at a consumed event that keeps failing (a bug, a value the
    #: database cannot store) before it is recorded in the inbox as ``failed`` and the
    #: consumer moves on. Errors of the moment (database or broker away) never count.
    consumer_max_attempts: int = Field(default=5, ge=1, le=1000)
    #: Log level name.
    log_level: str = "INFO"
    #: Whether to run the outbox relay and consumers in this process.
    run_relay: bool = True
    run_consumers: bool = True
    #: Create the schema with Alembic at start-up (``upgrade head``).
    migrate_on_start: bool = False
    #: Processes serving the same port (SO_REUSEPORT). One per core is the most that
    #: helps; in Kubernetes prefer more pods with one worker each.
    workers: int = Field(default=1, ge=1, le=64)
    #: Set for each worker by the parent process; not set by hand.
    grpc_reuse_port: bool = False

    auth: AuthSettings = Field(default_factory=AuthSettings)
