"""The FastAPI application: GraphQL at /graphql (subscriptions over a websocket there too),
liveness at /healthz, readiness at /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from shanzhi_kit.auth import TokenVerifier

from shanzhi_gateway.clients import ServiceClients
from shanzhi_gateway.context import context_getter
from shanzhi_gateway.events import KafkaEventBridge
from shanzhi_gateway.schema import build_schema
from shanzhi_gateway.schema.subscriptions import GatewayGraphQLRouter
from shanzhi_gateway.settings import GatewaySettings


def create_app(
    settings: GatewaySettings | None = None,
    *,
    clients: ServiceClients | None = None,
) -> FastAPI:
    """Build the gateway.

    The service channels open when the app starts (lifespan) and close when it
    stops; pass ``clients`` to use other stubs instead (they are not closed).
    With ``settings.kafka_bootstrap_servers`` set, the Kafka event bridge feeding
    the subscriptions runs for the same span (``app.state.events``).
    Raises if no token verification key is configured (SHANZHI_JWT_SECRET or
    SHANZHI_JWT_PUBLIC_KEY).
    """
    settings = settings or GatewaySettings()
    verifier = TokenVerifier(settings.auth)
    schema = build_schema(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ServiceClients.connect(settings) if clients is None else None
        app.state.clients = clients or owned
        events = None
        if settings.kafka_bootstrap_servers:
            events = KafkaEventBridge(settings.kafka_bootstrap_servers)
            events.start()
        app.state.events = events
        try:
            yield
        finally:
            if events is not None:
                await events.stop()
            if owned is not None:
                await owned.close()

    app = FastAPI(
        title="Shanzhi gateway (善治)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.verifier = verifier

    graphql = GatewayGraphQLRouter(
        schema,
        path="/graphql",
        graphql_ide="graphiql" if settings.graphiql else None,
        # Queries only by POST: query text (which may hold personal data) stays out of URLs.
        allow_queries_via_get=False,
        context_getter=context_getter,
    )
    app.include_router(graphql)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: every service reports SERVING on the gRPC health service."""
        services = await request.app.state.clients.health(settings.readiness_timeout_seconds)
        ready = all(status == "SERVING" for status in services.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "services": services},
            status_code=200 if ready else 503,
        )

    return app


def make_server(settings: GatewaySettings, app: FastAPI | None = None) -> uvicorn.Server:
    """A uvicorn server for the gateway on ``settings.host:settings.port``.

    ``await server.serve()`` runs it (for example in a task, in tests);
    ``server.should_exit = True`` stops it.
    """
    config = uvicorn.Config(
        app or create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        # Access lines are left out: paths and clients only, no value to keep.
        access_log=False,
        lifespan="on",
    )
    return uvicorn.Server(config)
