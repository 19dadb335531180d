"""Talent repository: reads and writes within one session (SQLAlchemy Core)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from shanzhi_kit.paging import Page
from sqlalchemy import ColumnElement, Row, Table, and_, func, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_talent.domain import TWO_COMMITTEE_ROLES
from shanzhi_talent.tables import (
    assessments,
    county_configs,
    major_matters,
    people,
    posts,
    removal_flags,
    reserve_candidates,
    reserve_changes,
    review_checks,
    reviews,
    training_records,
)


def active_on(day: date) -> ColumnElement[bool]:
    """Posts whose term includes ``day``."""
    return and_(posts.c.start_date <= day, or_(posts.c.end_date.is_(None), posts.c.end_date >= day))


class TalentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- generic ---------------------------------------------------------------------

    async def insert(self, table: Table, **values: Any) -> None:
        await self.session.execute(table.insert().values(**values))

    async def by_ids(self, table: Table, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(select(table).where(table.c.id.in_(ids)))).all()
        return {r.id: r for r in rows}

    async def page(self, table: Table, prefix: str, page: Page,
                   *conditions: ColumnElement[bool]) -> list[Row[Any]]:
        """A keyset page of ``table`` (ordered by id) within a region prefix."""
        query = select(table).where(table.c.region_code.startswith(prefix), *conditions)
        after = page.condition(table.c.id)
        if after is not None:
            query = query.where(after)
        return list((await self.session.execute(
            query.order_by(table.c.id).limit(page.size + 1))).all())

    # -- people ----------------------------------------------------------------------

    async def add_person(self, **values: Any) -> None:
        await self.insert(people, **values)

    async def people_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        return await self.by_ids(people, ids)

    async def lock_person(self, person_id: str) -> Row[Any] | None:
        """The person's row, locked until the transaction ends (PostgreSQL).

        Every write that adds an event keyed by a person takes this lock before the event,
        so two such writes commit in the order their events were numbered, and the relay
        publishes that person's events in the order they happened.
        """
        return (await self.session.execute(
            select(people).where(people.c.id == person_id).with_for_update())).first()

    async def lock_people(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        """Several people's rows, locked in id order (so two writers never deadlock)."""
        if not ids:
            return {}
        rows = (await self.session.execute(
            select(people).where(people.c.id.in_(sorted(set(ids)))).order_by(people.c.id)
            .with_for_update())).all()
        return {r.id: r for r in rows}

    async def set_person(self, person_id: str, **values: Any) -> None:
        await self.session.execute(update(people).where(people.c.id == person_id).values(**values))

    async def person_by_id_hash(self, digest: str) -> Row[Any] | None:
        return (await self.session.execute(
            select(people).where(people.c.id_number_hmac == digest))).first()

    async def list_people(self, prefix: str, page: Page) -> list[Row[Any]]:
        return await self.page(people, prefix, page)

    # -- posts -----------------------------------------------------------------------

    async def add_post(self, **values: Any) -> None:
        await self.insert(posts, **values)

    async def posts_by_ids(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        return await self.by_ids(posts, ids)

    async def active_holders(self, region_code: str, role: int) -> list[str]:
        rows = await self.session.execute(
            select(posts.c.person_id).where(
                posts.c.region_code == region_code,
                posts.c.role == role,
                posts.c.end_date.is_(None),
            )
        )
        return [r.person_id for r in rows]

    async def last_term_end(self, region_code: str, role: int) -> date | None:
        value = (await self.session.execute(
            select(func.max(posts.c.end_date)).where(
                posts.c.region_code == region_code, posts.c.role == role))).scalar_one_or_none()
        return value

    async def list_posts(self, prefix: str, person_id: str | None, page: Page) -> list[Row[Any]]:
        extra = [posts.c.person_id == person_id] if person_id else []
        return await self.page(posts, prefix, page, *extra)

    async def posts_of_person(self, person_id: str) -> list[Row[Any]]:
        return list((await self.session.execute(
            select(posts).where(posts.c.person_id == person_id)
            .order_by(posts.c.start_date, posts.c.created_at))).all())

    async def end_post(self, post_id: str, **values: Any) -> bool:
        """Record the end of a term once: False if it already ended (a concurrent end won)."""
        result = await self.session.execute(
            update(posts).where(posts.c.id == post_id, posts.c.end_date.is_(None)).values(**values))
        return bool(getattr(result, "rowcount", 0))

    async def file_post(self, post_id: str, **values: Any) -> bool:
        result = await self.session.execute(
            update(posts).where(posts.c.id == post_id, posts.c.filing_date.is_(None)).values(**values))
        return bool(getattr(result, "rowcount", 0))

    async def holds_post_between(self, person_id: str, first: date, last: date,
                                 roles: Iterable[int] | None = None) -> Row[Any] | None:
        """A post of the person whose term overlaps [first, last], latest start first."""
        query = select(posts).where(
            posts.c.person_id == person_id, posts.c.start_date <= last,
            or_(posts.c.end_date.is_(None), posts.c.end_date >= first))
        if roles is not None:
            query = query.where(posts.c.role.in_(list(roles)))
        return (await self.session.execute(
            query.order_by(posts.c.start_date.desc()).limit(1))).first()

    # -- county rules ----------------------------------------------------------------

    async def current_config(self, county_code: str) -> Row[Any] | None:
        return (await self.session.execute(
            select(county_configs).where(county_configs.c.county_code == county_code)
            .order_by(county_configs.c.version.desc()).limit(1))).first()

    async def configs_within(self, prefix: str) -> list[Row[Any]]:
        """The current rules of every county the prefix touches, in one query."""
        cc = county_configs
        where = cc.c.county_code == prefix[:6] if len(prefix) >= 6 else cc.c.county_code.startswith(prefix)
        latest = (select(cc.c.county_code, func.max(cc.c.version).label("version"))
                  .where(where).group_by(cc.c.county_code).subquery())
        return list((await self.session.execute(
            select(cc).join(latest, and_(cc.c.county_code == latest.c.county_code,
                                         cc.c.version == latest.c.version)))).all())

    # -- reviews ---------------------------------------------------------------------

    async def reviews_with_checks(self, ids: Sequence[str]) -> dict[str, tuple[Row[Any], list[Row[Any]]]]:
        found = await self.by_ids(reviews, ids)
        checks = await self.checks_of(list(found))
        return {i: (row, checks.get(i, [])) for i, row in found.items()}

    async def checks_of(self, review_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        if not review_ids:
            return {}
        rows = (await self.session.execute(
            select(review_checks).where(review_checks.c.review_id.in_(review_ids))
            .order_by(review_checks.c.seq))).all()
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        for r in rows:
            out[r.review_id].append(r)
        return out

    async def lock_review(self, review_id: str) -> Row[Any] | None:
        """The review row, locked until the transaction ends (PostgreSQL)."""
        return (await self.session.execute(
            select(reviews).where(reviews.c.id == review_id).with_for_update())).first()

    async def reviews_of_person(self, person_id: str) -> list[Row[Any]]:
        return list((await self.session.execute(
            select(reviews).where(reviews.c.person_id == person_id)
            .order_by(reviews.c.created_at.desc()))).all())

    # -- reserve pool ----------------------------------------------------------------

    async def candidates_with_history(self, ids: Sequence[str]) -> dict[str, tuple[Row[Any], list[Row[Any]]]]:
        found = await self.by_ids(reserve_candidates, ids)
        history = await self.history_of(list(found))
        return {i: (row, history.get(i, [])) for i, row in found.items()}

    async def history_of(self, candidate_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        if not candidate_ids:
            return {}
        rows = (await self.session.execute(
            select(reserve_changes).where(reserve_changes.c.candidate_id.in_(candidate_ids))
            .order_by(reserve_changes.c.seq))).all()
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        for r in rows:
            out[r.candidate_id].append(r)
        return out

    async def lock_candidate(self, candidate_id: str) -> Row[Any] | None:
        return (await self.session.execute(
            select(reserve_candidates).where(reserve_candidates.c.id == candidate_id)
            .with_for_update())).first()

    async def set_candidate(self, candidate_id: str, **values: Any) -> None:
        await self.session.execute(
            update(reserve_candidates).where(reserve_candidates.c.id == candidate_id).values(**values))

    async def candidate_by_source_reference(self, reference: str) -> Row[Any] | None:
        return (await self.session.execute(
            select(reserve_candidates).where(reserve_candidates.c.source_reference == reference))).first()

    async def candidates_of_person(self, person_id: str) -> list[Row[Any]]:
        return list((await self.session.execute(
            select(reserve_candidates).where(reserve_candidates.c.person_id == person_id)
            .order_by(reserve_candidates.c.created_at.desc()))).all())

    async def active_candidates(self, prefix: str, statuses: Iterable[int]) -> list[Any]:
        """Active candidates in a region with what the structure report needs of the person."""
        rc = reserve_candidates
        return list((await self.session.execute(
            select(rc.c.id.label("candidate_id"), rc.c.person_id, rc.c.region_code, rc.c.status,
                   people.c.name, people.c.gender, people.c.birth_date, people.c.education,
                   people.c.party_member)
            .join(people, people.c.id == rc.c.person_id)
            .where(rc.c.region_code.startswith(prefix), rc.c.status.in_(list(statuses))))).all())

    # -- structure and coverage ------------------------------------------------------

    async def two_committee_members(self, prefix: str, day: date) -> list[Any]:
        """Two-committee posts held on ``day`` in a region, with the holders' details."""
        return list((await self.session.execute(
            select(posts.c.person_id, posts.c.region_code, posts.c.role, people.c.name,
                   people.c.gender, people.c.birth_date, people.c.education)
            .join(people, people.c.id == posts.c.person_id)
            .where(posts.c.region_code.startswith(prefix),
                   posts.c.role.in_(sorted(TWO_COMMITTEE_ROLES)), active_on(day)))).all())

    async def villages_within(self, prefix: str) -> list[str]:
        """Villages the service knows in a region: where people live or posts are."""
        query = union(
            select(people.c.region_code).where(people.c.region_code.startswith(prefix)),
            select(posts.c.region_code).where(posts.c.region_code.startswith(prefix)),
        )
        return [r[0] for r in (await self.session.execute(query)).all()]

    async def training_hours(self, prefix: str, day: date, first: date, last: date) -> dict[str, int]:
        """Hours per two-committee member (serving on ``day`` in the region) in [first, last]."""
        members = (select(posts.c.person_id)
                   .where(posts.c.region_code.startswith(prefix),
                          posts.c.role.in_(sorted(TWO_COMMITTEE_ROLES)), active_on(day)))
        tr = training_records
        rows = (await self.session.execute(
            select(tr.c.person_id, func.sum(tr.c.hours))
            .where(tr.c.person_id.in_(members), tr.c.course_start_date.between(first, last))
            .group_by(tr.c.person_id))).all()
        return {r[0]: int(r[1]) for r in rows}

    # -- training --------------------------------------------------------------------

    async def recorded_attendees(self, course_id: str, person_ids: Sequence[str]) -> set[str]:
        rows = await self.session.execute(
            select(training_records.c.person_id).where(
                training_records.c.course_id == course_id,
                training_records.c.person_id.in_(person_ids)))
        return {r.person_id for r in rows}

    async def add_many(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(table.insert(), rows)

    async def records_of_person(self, person_id: str) -> list[Row[Any]]:
        return list((await self.session.execute(
            select(training_records).where(training_records.c.person_id == person_id)
            .order_by(training_records.c.course_start_date.desc()))).all())

    # -- assessments -----------------------------------------------------------------

    async def lock_assessment(self, assessment_id: str) -> Row[Any] | None:
        return (await self.session.execute(
            select(assessments).where(assessments.c.id == assessment_id).with_for_update())).first()

    async def set_assessment(self, assessment_id: str, **values: Any) -> None:
        await self.session.execute(
            update(assessments).where(assessments.c.id == assessment_id).values(**values))

    async def assessments_of_person(self, person_id: str, state: int | None = None) -> list[Row[Any]]:
        query = select(assessments).where(assessments.c.person_id == person_id)
        if state is not None:
            query = query.where(assessments.c.state == state)
        return list((await self.session.execute(
            query.order_by(assessments.c.year.desc(), assessments.c.period.desc()))).all())

    async def flags_of_person(self, person_id: str) -> list[Row[Any]]:
        return list((await self.session.execute(
            select(removal_flags).where(removal_flags.c.person_id == person_id)
            .order_by(removal_flags.c.created_at.desc()))).all())

    async def flag_by_pair(self, pair_key: str) -> Row[Any] | None:
        return (await self.session.execute(
            select(removal_flags).where(removal_flags.c.pair_key == pair_key))).first()

    # -- major matters ---------------------------------------------------------------

    async def major_matters_of_person(self, person_id: str) -> list[Row[Any]]:
        return list((await self.session.execute(
            select(major_matters).where(major_matters.c.person_id == person_id)
            .order_by(major_matters.c.created_at.desc()))).all())
