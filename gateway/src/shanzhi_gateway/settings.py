"""Gateway settings, read from ``SHANZHI_GATEWAY_*`` variables (pydantic-settings).

Token verification reads the same ``SHANZHI_JWT_*`` variables as every service
(:class:`shanzhi_kit.settings.AuthSettings`).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from shanzhi_kit.settings import AuthSettings


class GatewaySettings(BaseSettings):
    """Where the services are, how the HTTP server listens, and the query limits."""

    model_config = SettingsConfigDict(env_prefix="SHANZHI_GATEWAY_", extra="ignore")

    #: gRPC addresses (host:port) of the four services.
    points_addr: str = "127.0.0.1:50051"
    lists_addr: str = "127.0.0.1:50052"
    audit_addr: str = "127.0.0.1:50053"
    talent_addr: str = "127.0.0.1:50054"

    #: Address the HTTP server binds.
    host: str = "127.0.0.1"
    port: int = 8000

    #: Serve GraphiQL at /graphql (development); turn off in production.
    graphiql: bool = True
    #: Allow introspection queries (the schema itself); may be turned off in production.
    introspection: bool = True

    #: Deadline, in seconds, every call to a service carries.
    rpc_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Deadline, in seconds, of each health check behind /readyz.
    readiness_timeout_seconds: float = Field(default=1.0, gt=0)

    #: Kafka bootstrap servers (comma separated) feeding the subscriptions (订阅);
    #: empty turns subscriptions off.
    kafka_bootstrap_servers: str = ""

    #: Limits against abusive queries.
    max_depth: int = Field(default=10, ge=1)
    max_tokens: int = Field(default=2000, ge=1)
    max_aliases: int = Field(default=30, ge=0)

    #: Log level name.
    log_level: str = "INFO"

    #: Bearer-token verification (SHANZHI_JWT_*).
    auth: AuthSettings = Field(default_factory=AuthSettings)
