"""The migrations build exactly the tables the code uses, on PostgreSQL and on SQLite, and
bring the data they find along (claims reversed before 0008, members of households that
moved out before 0011)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.migrations import alembic_config, upgrade_async
from shanzhi_kit.testing import check_migrations_on_sqlite, run_database, schema_differences
from shanzhi_points.app import MIGRATIONS
from shanzhi_points.tables import (
    accounts,
    claim_reviews,
    claims,
    entries,
    household_members,
    households,
    metadata,
    scheme_versions,
    schemes,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.mark.postgres
async def test_postgres_schema_matches_the_tables(points_url: str) -> None:
    assert await schema_differences(points_url, metadata) == []


async def test_sqlite_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    await check_migrations_on_sqlite(MIGRATIONS, metadata, tmp_path)


async def test_claims_reversed_before_0008_are_reversed_on_sqlite(tmp_path: Path) -> None:
    await claims_reversed_before_0008_are_reversed(f"sqlite+aiosqlite:///{tmp_path / 'points.db'}")


@pytest.mark.postgres
async def test_claims_reversed_before_0008_are_reversed_on_postgres(postgres: None) -> None:
    await claims_reversed_before_0008_are_reversed(await run_database("points_claim_reversals"))


def _utc(value: Any) -> Any:
    """A stored time as naive UTC (SQLite gives naive UTC back, PostgreSQL an aware time)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


async def claims_reversed_before_0008_are_reversed(url: str) -> None:
    """0008 brings claims whose entry was reversed earlier to CLAIM_STATUS_REVERSED, with
    the reversing entry and a line in their reviews, and writes that line once."""
    await upgrade_async(MIGRATIONS, url, "0007")
    posted_at, reversed_at = datetime(2025, 6, 2, 9, tzinfo=UTC), datetime(2025, 6, 9, 15, tzinfo=UTC)

    def claim(claim_id: str, entry_id: str) -> dict[str, Any]:
        return {"id": claim_id, "account_id": "a1", "region_code": "130123101100", "scheme_id": "s1",
                "version_id": "v1", "item_code": "HJ-01", "item_name": "庭院整洁", "points": 5,
                "quantity": 1, "occurred_on": date(2025, 6, 1), "source": P.CLAIM_SOURCE_RECORDED,
                "evidence": "", "evidence_urls": [], "status": P.CLAIM_STATUS_POSTED,
                "entry_id": entry_id, "created_at": posted_at, "created_by": "grid-7",
                "updated_at": posted_at}

    def entry(entry_id: str, kind: int, amount: int, *, reverses: str | None = None,
              reason: str = "publicity closed without objection (公示期满无异议)",
              by: str = "system", at: datetime = posted_at) -> dict[str, Any]:
        return {"id": entry_id, "account_id": "a1", "region_code": "130123101100", "kind": kind,
                "amount": amount, "score": amount, "balance_after": 5, "entry_date": date(2025, 6, 1),
                "year": 2025, "quantity": 1, "reverses_entry_id": reverses, "reason": reason,
                "created_at": at, "created_by": by}

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(accounts.insert(), [{
                "id": "a1", "region_code": "130123101100", "subject_kind": P.SUBJECT_KIND_HOUSEHOLD,
                "subject_id": "h1", "display_name": "王建国户", "balance": 5, "created_at": posted_at,
                "created_by": "clerk-9"}])
            await conn.execute(schemes.insert(), [{
                "id": "s1", "region_code": "130123101100", "year": 2025,
                "subject_kind": P.SUBJECT_KIND_HOUSEHOLD, "title": "2025年积分方案", "is_template": False,
                "created_at": posted_at, "created_by": "clerk-9"}])
            await conn.execute(scheme_versions.insert(), [{
                "id": "v1", "scheme_id": "s1", "version": 1,
                "status": P.SCHEME_VERSION_STATUS_ADOPTED, "claim_publicity_days": 7, "comment_days": 7,
                "cycle_policy": P.CYCLE_POLICY_RESET, "base_score": 0, "points_valid_months": 0,
                "red_list_size": 10, "black_list_size": 10, "black_list_below": 0,
                "star_thresholds": [], "change_note": "", "created_at": posted_at,
                "created_by": "clerk-9"}])
            await conn.execute(claims.insert(), [claim("c-reversed", "e1"), claim("c-kept", "e2")])
            await conn.execute(entries.insert(), [
                entry("e1", P.ENTRY_KIND_CLAIM, 5), entry("e2", P.ENTRY_KIND_CLAIM, 5),
                entry("r1", P.ENTRY_KIND_REVERSAL, -5, reverses="e1", reason="照片不符",
                      by="clerk-9", at=reversed_at)])

        async def state() -> tuple[list[Any], list[Any]]:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(claims.c.id, claims.c.status, claims.c.reversal_entry_id,
                                                  claims.c.updated_at).order_by(claims.c.id))).all()
                lines = (await conn.execute(select(
                    claim_reviews.c.id, claim_reviews.c.claim_id, claim_reviews.c.decision,
                    claim_reviews.c.reason, claim_reviews.c.reviewer, claim_reviews.c.reviewed_at))).all()
            return ([tuple(_utc(v) for v in r) for r in rows],
                    [tuple(_utc(v) for v in r) for r in lines])

        expected = ([("c-kept", P.CLAIM_STATUS_POSTED, None, posted_at.replace(tzinfo=None)),
                     ("c-reversed", P.CLAIM_STATUS_REVERSED, "r1", reversed_at.replace(tzinfo=None))],
                    [("r1", "c-reversed", P.REVIEW_DECISION_REJECT, "冲正 (reversed): 照片不符",
                      "clerk-9", reversed_at.replace(tzinfo=None))])
        await upgrade_async(MIGRATIONS, url)
        assert await state() == expected
        # Down and up again: the claim is reversed again, and its line is not written twice.
        await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url), "0007")
        async with engine.connect() as conn:
            statuses = (await conn.execute(select(claims.c.status).order_by(claims.c.id))).scalars().all()
        assert statuses == [P.CLAIM_STATUS_POSTED] * 2
        await engine.dispose()
        await upgrade_async(MIGRATIONS, url)
        assert await state() == expected
    finally:
        await engine.dispose()


async def test_members_leave_with_households_moved_out_before_0011_on_sqlite(tmp_path: Path) -> None:
    await members_leave_with_households_moved_out_before_0011(
        f"sqlite+aiosqlite:///{tmp_path / 'points.db'}")


@pytest.mark.postgres
async def test_members_leave_with_households_moved_out_before_0011_on_postgres(postgres: None) -> None:
    await members_leave_with_households_moved_out_before_0011(await run_database("points_one_household"))


async def members_leave_with_households_moved_out_before_0011(url: str) -> None:
    """0011 records the members of households that moved out as leaving with them, and
    stops, naming the person, while someone is a current member of two households."""
    await upgrade_async(MIGRATIONS, url, "0010")
    at = datetime(2025, 3, 1, 9, tzinfo=UTC)

    def household(household_id: str, moved_out_on: date | None) -> dict[str, Any]:
        return {"id": household_id, "region_code": "130123101100", "household_number": household_id,
                "head_name": "王建国", "member_count": 2, "villager_group": "",
                "status": P.HOUSEHOLD_STATUS_MOVED_OUT if moved_out_on else P.HOUSEHOLD_STATUS_ACTIVE,
                "moved_out_on": moved_out_on, "move_out_reason": "", "created_at": at,
                "created_by": "clerk-9"}

    def member(member_id: str, household_id: str, person: str | None,
               left_on: date | None = None) -> dict[str, Any]:
        return {"id": member_id, "household_id": household_id, "name": "王小明", "relation": "子女",
                "talent_person_id": person, "joined_on": None, "left_on": left_on,
                "left_reason": "去世" if left_on else "", "created_at": at, "created_by": "clerk-9"}

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(households.insert(), [
                household("h-gone", date(2025, 5, 1)), household("h-here", None),
                household("h-other", None)])
            await conn.execute(household_members.insert(), [
                member("m1", "h-gone", "p1"), member("m2", "h-gone", None, left_on=date(2025, 4, 1)),
                member("m3", "h-here", "p1"), member("m4", "h-here", "p2"),
                member("m5", "h-other", "p2")])
        with pytest.raises(RuntimeError, match=r"p2 \(2 households\)") as err:
            await upgrade_async(MIGRATIONS, url)
        assert "p1" not in str(err.value)

        async with engine.begin() as conn:
            await conn.execute(household_members.update().where(household_members.c.id == "m5")
                               .values(left_on=date(2025, 6, 1), left_reason="分户"))
        await upgrade_async(MIGRATIONS, url)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(
                household_members.c.id, household_members.c.left_on, household_members.c.left_reason)
                .order_by(household_members.c.id))).all()
        assert [tuple(r) for r in rows] == [
            ("m1", date(2025, 5, 1), "household moved out (整户迁出)"), ("m2", date(2025, 4, 1), "去世"),
            ("m3", None, ""), ("m4", None, ""), ("m5", date(2025, 6, 1), "分户")]
    finally:
        await engine.dispose()
