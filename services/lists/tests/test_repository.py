"""The lists repository on real PostgreSQL; each test runs in a transaction rolled back after it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from shanzhi.common.v1 import paging_pb2
from shanzhi.lists.v1 import lists_pb2
from shanzhi_kit.db import make_engine
from shanzhi_kit.paging import page_of
from shanzhi_kit.pytest_plugin import rolled_back_session
from shanzhi_kit.values import utcnow
from shanzhi_lists.repository import ListsRepository
from shanzhi_lists.tables import list_items
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

pytestmark = pytest.mark.postgres

TOWNSHIP = "130123105"


@pytest_asyncio.fixture
async def engine(lists_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(lists_url)
    yield eng
    await eng.dispose()


@pytest_asyncio.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async for s in rolled_back_session(engine):
        yield s


def item(region: str, kind: int, code: str) -> dict[str, object]:
    return dict(id=str(uuid.uuid4()), region_code=region, kind=kind, code=code, title=f"事项{code}",
                legal_basis="", responsible_body="", steps=["受理", "办结"], time_limit_days=5,
                supervisor="", created_at=utcnow(), created_by="tester")


async def test_items_are_found_by_id_and_listed_by_prefix_and_kind(session: AsyncSession) -> None:
    repo = ListsRepository(session)
    rows = [item(f"{TOWNSHIP}201", lists_pb2.LIST_KIND_NEGATIVE, f"FM-{i}") for i in range(3)]
    rows.append(item(f"{TOWNSHIP}202", lists_pb2.LIST_KIND_DISCLOSURE, "GK-1"))
    for row in rows:
        await repo.add_item(**row)
    found = await repo.items_by_ids([str(rows[0]["id"]), str(uuid.uuid4())])
    assert list(found) == [rows[0]["id"]]
    assert found[str(rows[0]["id"])].steps == ["受理", "办结"]
    assert await repo.code_taken(f"{TOWNSHIP}201", lists_pb2.LIST_KIND_NEGATIVE, "FM-1")
    assert not await repo.code_taken(f"{TOWNSHIP}201", lists_pb2.LIST_KIND_DISCLOSURE, "FM-1")

    page = page_of(paging_pb2.PageRequest(page_size=2))
    first = await repo.list_items(TOWNSHIP, lists_pb2.LIST_KIND_NEGATIVE, page)
    assert len(first) == 3  # a page of 2 plus one that says another page follows
    token = page.info(first, lambda r: [r.id]).next_page_token
    rest = await repo.list_items(TOWNSHIP, lists_pb2.LIST_KIND_NEGATIVE,
                                 page_of(paging_pb2.PageRequest(page_size=2, page_token=token)))
    assert {r.id for r in first[:2]} | {r.id for r in rest} == {
        r["id"] for r in rows if r["kind"] == lists_pb2.LIST_KIND_NEGATIVE}
    assert len(await repo.list_items(TOWNSHIP, None, page_of(paging_pb2.PageRequest()))) == 4


async def test_the_previous_test_left_nothing_behind(session: AsyncSession) -> None:
    count = await session.execute(select(func.count()).select_from(list_items).where(
        list_items.c.region_code.startswith(TOWNSHIP)))
    assert count.scalar_one() == 0
