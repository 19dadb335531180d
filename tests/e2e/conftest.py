"""The whole suite as real processes: Tansu, four services on PostgreSQL, the gateway."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from shanzhi_dev.suite import SERVICES, Suite, SuiteConfig
from shanzhi_kit.pytest_plugin import token_for
from shanzhi_kit.testing import free_port, run_database


@pytest_asyncio.fixture(scope="session")
async def e2e_databases(postgres: None) -> dict[str, str]:
    return {s: await run_database(f"shanzhi_e2e_{s}") for s in SERVICES}


@pytest.fixture(scope="session")
def suite(e2e_databases: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    logs = Path(tmp_path_factory.mktemp("suite-logs"))
    config = SuiteConfig(
        ports={name: free_port() for name in ("gateway", "broker", *SERVICES)},
        databases=e2e_databases,
        jwt_secret=os.environ["SHANZHI_JWT_SECRET"],
        log_dir=logs,
    )
    running = Suite(config)
    try:
        running.start(timeout=90)
        yield running
    except Exception:
        for log in sorted(logs.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        raise
    finally:
        running.stop()


class GraphQL:
    """A front-end's view: POST queries to the gateway with a bearer token."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def __call__(self, query: str, token: str | None = None, **variables: object) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = await self.client.post(self.url, json={"query": query, "variables": variables},
                                       headers=headers)
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def gql(suite: Suite) -> AsyncIterator[GraphQL]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield GraphQL(client, suite.gateway_url)


@pytest.fixture
def county_token() -> str:
    return token_for("130123", roles=("county_officer",), subject="county-officer")
