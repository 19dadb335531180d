"""Five lists repository: reads and writes list items within one session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shanzhi_kit.paging import Page
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_lists.tables import list_items


class ListsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_item(self, **values: Any) -> None:
        await self.session.execute(list_items.insert(), values)

    async def items_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(select(list_items).where(list_items.c.id.in_(ids)))).all()
        return {r.id: r for r in rows}

    async def code_taken(self, region_code: str, kind: int, code: str) -> bool:
        row = await self.session.execute(
            select(list_items.c.id).where(
                list_items.c.region_code == region_code,
                list_items.c.kind == kind,
                list_items.c.code == code,
            )
        )
        return row.first() is not None

    async def list_items(self, prefix: str, kind: int | None, page: Page) -> list[Row[Any]]:
        query = select(list_items).where(list_items.c.region_code.startswith(prefix))
        if kind is not None:
            query = query.where(list_items.c.kind == kind)
        after = page.condition(list_items.c.id)
        if after is not None:
            query = query.where(after)
        rows = await self.session.execute(query.order_by(list_items.c.id).limit(page.size + 1))
        return list(rows.all())
