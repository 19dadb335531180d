"""Talent repository: reads and writes people and posts within one session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shanzhi_kit.paging import Page
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_talent.tables import people, posts


class TalentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_person(self, **values: Any) -> None:
        await self.session.execute(people.insert(), values)

    async def people_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(select(people).where(people.c.id.in_(ids)))).all()
        return {r.id: r for r in rows}

    async def list_people(self, prefix: str, page: Page) -> list[Row[Any]]:
        query = select(people).where(people.c.region_code.startswith(prefix))
        after = page.condition(people.c.id)
        if after is not None:
            query = query.where(after)
        return list((await self.session.execute(query.order_by(people.c.id).limit(page.size + 1))).all())

    async def add_post(self, **values: Any) -> None:
        await self.session.execute(posts.insert(), values)

    async def posts_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(select(posts).where(posts.c.id.in_(ids)))).all()
        return {r.id: r for r in rows}

    async def active_holders(self, region_code: str, role: int) -> list[str]:
        rows = await self.session.execute(
            select(posts.c.person_id).where(
                posts.c.region_code == region_code,
                posts.c.role == role,
                posts.c.end_date.is_(None),
            )
        )
        return [r.person_id for r in rows]

    async def list_posts(self, prefix: str, person_id: str | None, page: Page) -> list[Row[Any]]:
        query = select(posts).where(posts.c.region_code.startswith(prefix))
        if person_id:
            query = query.where(posts.c.person_id == person_id)
        after = page.condition(posts.c.id)
        if after is not None:
            query = query.where(after)
        return list((await self.session.execute(query.order_by(posts.c.id).limit(page.size + 1))).all())
