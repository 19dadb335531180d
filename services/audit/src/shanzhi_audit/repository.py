"""Audit repository: reads and writes rounds and the audit schedule within one session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shanzhi_kit.db import insert_ignoring_conflicts
from shanzhi_kit.paging import Page
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_audit.tables import audit_schedule, inspection_round_targets, inspection_rounds


@dataclass(frozen=True)
class RoundRecord:
    """A stored inspection round (巡察轮次) with its target villages in order."""

    row: Row[Any]
    targets: list[str]


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- inspection rounds -------------------------------------------------------------

    async def add_round(self, targets: Sequence[str], **values: Any) -> None:
        await self.session.execute(inspection_rounds.insert().values(**values))
        await self.session.execute(
            inspection_round_targets.insert(),
            [{"round_id": values["id"], "position": i, "region_code": code}
             for i, code in enumerate(targets)],
        )

    async def rounds_by_ids(self, ids: Sequence[str]) -> dict[str, RoundRecord]:
        if not ids:
            return {}
        rows = (await self.session.execute(
            select(inspection_rounds).where(inspection_rounds.c.id.in_(ids)))).all()
        return await self._with_targets(rows)

    async def list_rounds(self, prefix: str, page: Page) -> list[RoundRecord]:
        r = inspection_rounds
        query = select(r).where(r.c.region_code.startswith(prefix))
        after = page.condition(r.c.id)
        if after is not None:
            query = query.where(after)
        rows = (await self.session.execute(query.order_by(r.c.id).limit(page.size + 1))).all()
        records = await self._with_targets(rows)
        return [records[row.id] for row in rows]

    async def _with_targets(self, rows: Sequence[Row[Any]]) -> dict[str, RoundRecord]:
        if not rows:
            return {}
        t = inspection_round_targets
        targets: dict[str, list[str]] = defaultdict(list)
        found = await self.session.execute(
            select(t.c.round_id, t.c.region_code)
            .where(t.c.round_id.in_([row.id for row in rows]))
            .order_by(t.c.round_id, t.c.position)
        )
        for target in found:
            targets[target.round_id].append(target.region_code)
        return {row.id: RoundRecord(row, targets[row.id]) for row in rows}

    # -- audit schedule ----------------------------------------------------------------

    async def add_schedule_entry(self, **values: Any) -> bool:
        """Insert an entry unless its (post_id, kind) is already scheduled; True if inserted."""
        bind = self.session.get_bind()
        result = await self.session.execute(
            insert_ignoring_conflicts(bind.dialect.name, audit_schedule, values, ["post_id", "kind"])
        )
        return bool(getattr(result, "rowcount", 0))

    async def cadre_name_of_post(self, post_id: str) -> str:
        """The cadre's name (姓名) on an earlier entry of the post, or "" if none has one."""
        s = audit_schedule
        name = (await self.session.execute(
            select(s.c.cadre_name)
            .where(s.c.post_id == post_id, s.c.cadre_name != "")
            .order_by(s.c.created_at, s.c.id)
            .limit(1)
        )).scalar_one_or_none()
        return name or ""

    async def entries_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(
            select(audit_schedule).where(audit_schedule.c.id.in_(ids)))).all()
        return {r.id: r for r in rows}

    async def list_entries(
        self, prefix: str, cadre_person_id: str | None, due_on_or_before: date | None, page: Page
    ) -> list[Row[Any]]:
        s = audit_schedule
        query = select(s).where(s.c.region_code.startswith(prefix))
        if cadre_person_id:
            query = query.where(s.c.cadre_person_id == cadre_person_id)
        if due_on_or_before is not None:
            query = query.where(s.c.due_date <= due_on_or_before)
        after = page.condition(s.c.due_date, s.c.id)
        if after is not None:
            query = query.where(after)
        query = query.order_by(s.c.due_date, s.c.id).limit(page.size + 1)
        return list((await self.session.execute(query)).all())

    async def entries_of_cadres(self, person_ids: Sequence[str], prefix: str) -> dict[str, list[Row[Any]]]:
        """Every entry of each cadre under ``prefix``, by due date, in one query."""
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        if not person_ids:
            return out
        s = audit_schedule
        rows = await self.session.execute(
            select(s)
            .where(s.c.cadre_person_id.in_(person_ids), s.c.region_code.startswith(prefix))
            .order_by(s.c.due_date, s.c.id)
        )
        for row in rows:
            out[row.cadre_person_id].append(row)
        return out
