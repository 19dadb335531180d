"""Structure targets (班子结构目标): the report against an independent reading of the rules.

Unit tests run the pure report over generated villages (hypothesis); the PostgreSQL test
seeds a county of 300 villages, checks every village against the same oracle, and counts
the SQL statements the report issues: a fixed number, whatever the number of villages.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.auth import ROLE_ADMIN, Caller, reset_current_caller, set_current_caller
from shanzhi_kit.db import make_engine, make_sessionmaker
from shanzhi_kit.regions import RegionScope
from shanzhi_talent import structure
from shanzhi_talent.api import TalentApi
from shanzhi_talent.rules import CountyRules
from shanzhi_talent.tables import county_configs, people, posts, reserve_candidates
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

Gap = talent_pb2.StructureGapKind
COLLEGE = talent_pb2.EDUCATION_BACHELOR
SCHOOL = talent_pb2.EDUCATION_SENIOR_SECONDARY
SECRETARY = talent_pb2.POST_ROLE_PARTY_SECRETARY
DIRECTOR = talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR
PARTY_MEMBER = talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER
VILLAGE_MEMBER = talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER
DAY = date(2026, 6, 30)
RULES = CountyRules(min_women_per_village=1, min_young_per_village=1, young_age_limit=35,
                    one_shoulder_share_percent=30, college_share_percent=30, max_member_age=60)


@dataclass
class Person:
    female: bool
    age: int
    college: bool
    roles: list[int]

    @property
    def birth(self) -> date:
        return date(DAY.year - self.age, 1, 1)  # birthday passed by DAY: full years == age


@dataclass
class Village:
    code: str
    members: list[Person] = field(default_factory=list)


def expected_gaps(v: Village) -> set[int]:
    """The rules read independently of the implementation."""
    gaps = set()
    roles = {r for p in v.members for r in p.roles}
    if SECRETARY not in roles:
        gaps.add(Gap.STRUCTURE_GAP_KIND_SECRETARY_VACANT)
    if DIRECTOR not in roles:
        gaps.add(Gap.STRUCTURE_GAP_KIND_DIRECTOR_VACANT)
    if not any(p.female for p in v.members):
        gaps.add(Gap.STRUCTURE_GAP_KIND_NO_WOMAN)
    if not any(p.age < 35 for p in v.members):
        gaps.add(Gap.STRUCTURE_GAP_KIND_NO_YOUNG_MEMBER)
    college = sum(p.college for p in v.members)
    if not v.members or college / len(v.members) < 0.30:
        gaps.add(Gap.STRUCTURE_GAP_KIND_COLLEGE_SHARE_LOW)
    if any(p.age >= 60 for p in v.members):
        gaps.add(Gap.STRUCTURE_GAP_KIND_OVER_AGE)
    return gaps


def one_shoulder(v: Village) -> bool:
    return any(SECRETARY in p.roles and DIRECTOR in p.roles for p in v.members)


#: Meets every target: a young woman with a degree is secretary and director; an older man.
EVERY_TARGET = [Person(True, 30, True, [SECRETARY, DIRECTOR]), Person(False, 50, False, [VILLAGE_MEMBER])]
#: Meets none: no secretary or director, no woman, nobody young, no degree, one over age.
NO_TARGET = [Person(False, 62, False, [VILLAGE_MEMBER]), Person(False, 45, False, [PARTY_MEMBER])]


def generated_county(county: str, n: int, seed: int) -> list[Village]:
    rng = random.Random(seed)
    villages = [Village(f"{county}101001", list(EVERY_TARGET)), Village(f"{county}101002", list(NO_TARGET))]
    for i in range(2, n):
        members = []
        top = rng.random()
        for k in range(rng.randint(0, 8)):
            roles = [rng.choice([PARTY_MEMBER, VILLAGE_MEMBER, talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER])]
            if k == 0 and top < 0.8:
                roles = [SECRETARY, DIRECTOR] if top < 0.35 else [SECRETARY]
            elif k == 1 and 0.35 <= top < 0.7:
                roles = [DIRECTOR, PARTY_MEMBER] if rng.random() < 0.5 else [DIRECTOR]
            members.append(Person(rng.random() < 0.3, rng.randint(24, 66), rng.random() < 0.35, roles))
        villages.append(Village(f"{county}{101 + i // 100:03d}{1 + i % 100:03d}", members))
    return villages


def members_of(villages: list[Village]) -> Iterator[tuple[str, Person, structure.Member]]:
    for v in villages:
        for i, p in enumerate(v.members):
            pid = f"{v.code}-{i}"
            for role in p.roles:
                yield pid, p, structure.Member(
                    pid, v.code, role, talent_pb2.GENDER_FEMALE if p.female else talent_pb2.GENDER_MALE,
                    p.birth, talent_pb2.EDUCATION_BACHELOR if p.college
                    else talent_pb2.EDUCATION_SENIOR_SECONDARY)


def check_against_oracle(report: talent_pb2.GetStructureReportResponse, villages: list[Village]) -> None:
    rows = {r.region_code: r for r in report.villages}
    assert set(rows) == {v.code for v in villages}
    for v in villages:
        row = rows[v.code]
        assert {g.kind for g in row.gaps} == expected_gaps(v), v.code
        assert row.compliant == (not expected_gaps(v))
        assert row.member_count == len(v.members)
        assert row.one_shoulder == one_shoulder(v)
    county = report.counties[0]
    assert county.village_count == len(villages)
    assert county.compliant_village_count == sum(1 for v in villages if not expected_gaps(v))
    assert county.one_shoulder_village_count == sum(1 for v in villages if one_shoulder(v))
    assert sum(t.village_count for t in report.townships) == len(villages)


# -- pure ------------------------------------------------------------------------------


def test_a_village_meeting_every_target_and_one_meeting_none() -> None:
    villages = generated_county("130199", 2, seed=1)
    report = structure.structure_report([v.code for v in villages],
                                        [m for _, _, m in members_of(villages)], [],
                                        {"130199": RULES}, DAY)
    every, none = report.villages
    assert every.compliant and not every.gaps and every.one_shoulder
    assert {g.kind for g in none.gaps} == {
        Gap.STRUCTURE_GAP_KIND_SECRETARY_VACANT, Gap.STRUCTURE_GAP_KIND_DIRECTOR_VACANT,
        Gap.STRUCTURE_GAP_KIND_NO_WOMAN, Gap.STRUCTURE_GAP_KIND_NO_YOUNG_MEMBER,
        Gap.STRUCTURE_GAP_KIND_COLLEGE_SHARE_LOW, Gap.STRUCTURE_GAP_KIND_OVER_AGE}
    assert none.cross_post_count == 0 and every.cross_post_count == 1


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(2, 400))
def test_generated_counties_match_the_rules(seed: int, n: int) -> None:
    villages = generated_county("130199", n, seed)
    report = structure.structure_report([v.code for v in villages],
                                        [m for _, _, m in members_of(villages)], [],
                                        {"130199": RULES}, DAY)
    check_against_oracle(report, villages)


def test_gap_candidates_are_those_who_would_fill_the_gap_village_first() -> None:
    villages = [Village("130199101002", list(NO_TARGET))]

    def cand(cid: str, code: str, female: bool, age: int, college: bool, status: int) -> structure.Candidate:
        return structure.Candidate(cid, f"p-{cid}", code, cid, status,
                                   talent_pb2.GENDER_FEMALE if female else talent_pb2.GENDER_MALE,
                                   date(DAY.year - age, 1, 1),
                                   COLLEGE if college else SCHOOL,
                                   True)

    q = talent_pb2.RESERVE_STATUS_QUALIFIED
    candidates = [
        cand("a-neighbour-woman", "130199101003", True, 40, False, q),
        cand("b-old-man", "130199101002", False, 58, False, q),
        cand("c-young-graduate", "130199101002", True, 26, True, talent_pb2.RESERVE_STATUS_IDENTIFIED),
        cand("d-other-township", "130199102001", True, 26, True, q),
    ]
    report = structure.structure_report(["130199101002"], [m for _, _, m in members_of(villages)],
                                        candidates, {"130199": RULES}, DAY, candidates_per_gap=5)
    by_kind = {g.kind: [c.candidate_id for c in g.candidates] for g in report.villages[0].gaps}
    assert by_kind[Gap.STRUCTURE_GAP_KIND_NO_WOMAN] == ["c-young-graduate", "a-neighbour-woman"]
    assert by_kind[Gap.STRUCTURE_GAP_KIND_NO_YOUNG_MEMBER] == ["c-young-graduate"]
    assert by_kind[Gap.STRUCTURE_GAP_KIND_COLLEGE_SHARE_LOW] == ["c-young-graduate"]
    assert by_kind[Gap.STRUCTURE_GAP_KIND_DIRECTOR_VACANT] == ["b-old-man", "c-young-graduate",
                                                               "a-neighbour-woman"]


# -- on PostgreSQL ---------------------------------------------------------------------


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def seed(engine: AsyncEngine, villages: list[Village], county: str) -> dict[str, str]:
    """Insert the villages' people and posts, and a reserve candidate in every tenth village."""
    now = datetime.now(UTC)
    people_rows, post_rows, cand_rows = [], [], []
    names: dict[str, str] = {}
    for v in villages:
        # A registered villager without a post: the service knows the village even when
        # its two committees are empty.
        people_rows.append(dict(id=str(uuid.uuid4()), region_code=v.code, name="村民",
                                gender=talent_pb2.GENDER_FEMALE, birth_date=date(2000, 1, 1),
                                party_member=False, education=talent_pb2.EDUCATION_BACHELOR,
                                created_at=now, created_by="seed"))
        for i, p in enumerate(v.members):
            pid = str(uuid.uuid4())
            people_rows.append(dict(
                id=pid, region_code=v.code, name=f"{v.code[-6:]}-{i}",
                gender=talent_pb2.GENDER_FEMALE if p.female else talent_pb2.GENDER_MALE,
                birth_date=p.birth, party_member=True,
                education=COLLEGE if p.college else SCHOOL,
                created_at=now, created_by="seed"))
            for role in p.roles:
                post_rows.append(dict(id=str(uuid.uuid4()), person_id=pid, region_code=v.code, role=role,
                                      method=talent_pb2.APPOINTMENT_METHOD_ELECTION,
                                      start_date=date(2024, 1, 15), end_date=None,
                                      created_at=now, created_by="seed"))
    for v in villages[::10]:
        pid, cid = str(uuid.uuid4()), str(uuid.uuid4())
        people_rows.append(dict(id=pid, region_code=v.code, name=f"后备{v.code[-6:]}",
                                gender=talent_pb2.GENDER_FEMALE, birth_date=date(1999, 1, 1),
                                party_member=True, education=talent_pb2.EDUCATION_BACHELOR,
                                created_at=now, created_by="seed"))
        cand_rows.append(dict(id=cid, person_id=pid, region_code=v.code,
                              source=talent_pb2.RESERVE_SOURCE_GRADUATE, mentor_person_id=None,
                              status=talent_pb2.RESERVE_STATUS_QUALIFIED, note="", created_at=now,
                              created_by="seed"))
        names[v.code] = cid
    async with engine.begin() as conn:
        await conn.execute(people.insert(), people_rows)
        await conn.execute(posts.insert(), post_rows)
        await conn.execute(reserve_candidates.insert(), cand_rows)
        await conn.execute(county_configs.insert().values(
            county_code=county, version=1, min_women_per_village=1, min_young_per_village=1,
            young_age_limit=35, one_shoulder_share_percent=30, college_share_percent=30,
            max_member_age=60, min_age_at_appointment=18, max_age_at_appointment=60,
            min_education_at_appointment=2, required_checks=[3], allow_appointment_without_review=False,
            min_training_hours_per_year=0, created_at=now, created_by="seed"))
    return names


@pytest.mark.postgres
async def test_report_on_a_county_of_300_villages_in_a_fixed_number_of_queries(talent_url: str) -> None:
    county = "130198"
    villages = generated_county(county, 300, seed=20261122)
    engine = make_engine(talent_url)
    api = TalentApi(make_sessionmaker(engine), None, None, None)  # type: ignore[arg-type]
    scope = RegionScope(county)
    token = set_current_caller(Caller("tester", frozenset({ROLE_ADMIN}), scope))
    try:
        candidates = await seed(engine, villages, county)
        with counting(engine) as whole:
            report = await api.structure_report(county, DAY, 3, scope)
        check_against_oracle(report, villages)
        with counting(engine) as township:
            one = await api.structure_report(f"{county}101", DAY, 3, scope)
        with counting(engine) as village:
            await api.structure_report(f"{county}101002", DAY, 3, scope)
    finally:
        reset_current_caller(token)
        await engine.dispose()
    assert len(whole) == len(township) == len(village) == 4, whole
    assert len(one.villages) == 100 and len(report.villages) == 300
    # A village meeting every target, one meeting none, and reserve candidates offered.
    rows = {r.region_code: r for r in report.villages}
    assert rows[f"{county}101001"].compliant
    assert len(rows[f"{county}101002"].gaps) == 6
    offered = {c.candidate_id for g in rows[f"{county}101002"].gaps for c in g.candidates}
    assert candidates[f"{county}101001"] in offered  # same township, young woman graduate
