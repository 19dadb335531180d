"""Points repository: reads and writes households within one session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shanzhi_kit.paging import Page
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points.tables import households


class PointsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_household(self, **values: Any) -> None:
        await self.session.execute(households.insert().values(**values))

    async def households_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(select(households).where(households.c.id.in_(ids)))).all()
        return {r.id: r for r in rows}

    async def household_number_taken(self, region_code: str, household_number: str) -> bool:
        row = await self.session.execute(
            select(households.c.id).where(
                households.c.region_code == region_code,
                households.c.household_number == household_number,
            )
        )
        return row.first() is not None

    async def list_households(self, prefix: str, page: Page) -> list[Row[Any]]:
        query = select(households).where(households.c.region_code.startswith(prefix))
        after = page.condition(households.c.id)
        if after is not None:
            query = query.where(after)
        rows = await self.session.execute(query.order_by(households.c.id).limit(page.size + 1))
        return list(rows.all())
