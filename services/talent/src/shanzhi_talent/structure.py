"""Structure targets (班子结构目标) of the village two committees (村两委). Pure: no I/O.

Given the two-committee members serving on a day, the reserve candidates and
each county's rules, :func:`structure_report` measures every village, names
its gaps with the candidates who would fill them, and sums townships and
counties. The caller loads everything with a fixed number of queries; nothing
here touches the database.

A village's targets: at least ``min_women_per_village`` women and
``min_young_per_village`` members younger than ``young_age_limit``; a share of
members with college education (大专及以上) of at least
``college_share_percent``; nobody at or above ``max_member_age``; the
secretary's and the director's posts filled. The one-shoulder share (一肩挑比例)
is a target of townships and counties (a share of villages), as is the
college share across their members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from shanzhi.talent.v1 import talent_pb2

from shanzhi_talent.domain import is_cross_posts, years_between
from shanzhi_talent.rules import DEFAULT_RULES, CountyRules

COLLEGE = talent_pb2.EDUCATION_JUNIOR_COLLEGE
ACTIVE_RESERVE = (
    talent_pb2.RESERVE_STATUS_QUALIFIED,
    talent_pb2.RESERVE_STATUS_IN_TRAINING,
    talent_pb2.RESERVE_STATUS_IDENTIFIED,
)
Gap = talent_pb2.StructureGapKind


@dataclass(frozen=True)
class Member:
    """A person in a two-committee post of a village on the report's day."""

    person_id: str
    region_code: str
    role: int
    gender: int
    birth_date: date
    education: int


@dataclass(frozen=True)
class Candidate:
    """An active reserve candidate (后备人才)."""

    candidate_id: str
    person_id: str
    region_code: str
    name: str
    status: int
    gender: int
    birth_date: date
    education: int
    party_member: bool


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _meets_share(part: int, whole: int, target_percent: int) -> bool:
    """part/whole >= target%, in integers (no rounding surprises)."""
    return part * 100 >= target_percent * whole and (whole > 0 or target_percent == 0)


Fits = Callable[[Candidate], bool]


class _CandidatePool:
    def __init__(self, candidates: Iterable[Candidate]) -> None:
        rank: dict[int, int] = {int(s): i for i, s in enumerate(ACTIVE_RESERVE)}
        ordered = sorted(candidates, key=lambda c: (rank.get(c.status, 9), c.name, c.candidate_id))
        self.by_village: dict[str, list[Candidate]] = defaultdict(list)
        self.by_township: dict[str, list[Candidate]] = defaultdict(list)
        for c in ordered:
            if c.status in rank:
                self.by_village[c.region_code].append(c)
                self.by_township[c.region_code[:9]].append(c)

    def pick(self, village: str, members: Mapping[str, Member], fits: Fits, limit: int) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for c in [*self.by_village.get(village, ()), *self.by_township.get(village[:9], ())]:
            if len(out) >= limit:
                break
            if c.candidate_id in seen or c.person_id in members or not fits(c):
                continue
            seen.add(c.candidate_id)
            out.append(c)
        return out


def _gap_candidates(cands: list[Candidate]) -> list[talent_pb2.GapCandidate]:
    return [talent_pb2.GapCandidate(candidate_id=c.candidate_id, person_id=c.person_id, name=c.name,
                                    status=c.status, region_code=c.region_code)  # type: ignore[arg-type]
            for c in cands]


def village_structure(
    code: str,
    members: Iterable[Member],
    rules: CountyRules,
    day: date,
    pool: _CandidatePool,
    limit: int,
) -> talent_pb2.VillageStructure:
    roles: dict[str, set[int]] = defaultdict(set)
    people: dict[str, Member] = {}
    secretary = director = ""
    for m in members:
        roles[m.person_id].add(m.role)
        people.setdefault(m.person_id, m)
        if m.role == talent_pb2.POST_ROLE_PARTY_SECRETARY:
            secretary = m.person_id
        elif m.role == talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR:
            director = m.person_id

    def age(birth: date) -> int:
        return years_between(birth, day)

    count = len(people)
    women = sum(1 for p in people.values() if p.gender == talent_pb2.GENDER_FEMALE)
    young = sum(1 for p in people.values() if age(p.birth_date) < rules.young_age_limit)
    college = sum(1 for p in people.values() if p.education >= COLLEGE)
    over = [p for p in people.values() if rules.max_member_age and age(p.birth_date) >= rules.max_member_age]
    gaps: list[talent_pb2.StructureGap] = []

    def gap(kind: int, text: str, fits: Fits) -> None:
        gaps.append(talent_pb2.StructureGap(
            kind=kind, description=text,  # type: ignore[arg-type]
            candidates=_gap_candidates(pool.pick(code, people, fits, limit))))

    if secretary == "":
        gap(Gap.STRUCTURE_GAP_KIND_SECRETARY_VACANT, "no party-organisation secretary (村党组织书记)",
            lambda c: c.party_member)
    if director == "":
        gap(Gap.STRUCTURE_GAP_KIND_DIRECTOR_VACANT, "no committee director (村委会主任)", lambda c: True)
    if women < rules.min_women_per_village:
        gap(Gap.STRUCTURE_GAP_KIND_NO_WOMAN, f"{women} of {rules.min_women_per_village} required women",
            lambda c: c.gender == talent_pb2.GENDER_FEMALE)
    if young < rules.min_young_per_village:
        gap(Gap.STRUCTURE_GAP_KIND_NO_YOUNG_MEMBER,
            f"{young} of {rules.min_young_per_village} required members under {rules.young_age_limit}",
            lambda c: age(c.birth_date) < rules.young_age_limit)
    if not _meets_share(college, count, rules.college_share_percent):
        gap(Gap.STRUCTURE_GAP_KIND_COLLEGE_SHARE_LOW,
            f"{college} of {count} members with college education, "
            f"{_share(college, count)}% < {rules.college_share_percent}%",
            lambda c: c.education >= COLLEGE)
    if over:
        gap(Gap.STRUCTURE_GAP_KIND_OVER_AGE,
            f"{len(over)} member(s) aged {rules.max_member_age} or more",
            lambda c: age(c.birth_date) < rules.max_member_age)
    return talent_pb2.VillageStructure(
        region_code=code,
        member_count=count,
        women_count=women,
        young_count=young,
        college_count=college,
        over_age_count=len(over),
        secretary_person_id=secretary,
        director_person_id=director,
        one_shoulder=bool(secretary) and secretary == director,
        cross_post_count=sum(1 for r in roles.values() if is_cross_posts(r)),
        compliant=not gaps,
        gaps=gaps,
    )


def _region(
    code: str, villages: list[talent_pb2.VillageStructure], rules: CountyRules
) -> talent_pb2.RegionStructure:
    n = len(villages)
    one = sum(1 for v in villages if v.one_shoulder)
    members = sum(v.member_count for v in villages)
    college = sum(v.college_count for v in villages)
    gaps = []
    if not _meets_share(one, n, rules.one_shoulder_share_percent):
        gaps.append(talent_pb2.StructureGap(
            kind=Gap.STRUCTURE_GAP_KIND_ONE_SHOULDER_SHARE_LOW,
            description=f"{one} of {n} villages with one shoulder, {_share(one, n)}% < "
                        f"{rules.one_shoulder_share_percent}%"))
    if not _meets_share(college, members, rules.college_share_percent):
        gaps.append(talent_pb2.StructureGap(
            kind=Gap.STRUCTURE_GAP_KIND_COLLEGE_SHARE_LOW,
            description=f"{college} of {members} members with college education, "
                        f"{_share(college, members)}% < {rules.college_share_percent}%"))
    return talent_pb2.RegionStructure(
        region_code=code,
        village_count=n,
        compliant_village_count=sum(1 for v in villages if v.compliant),
        villages_with_women=sum(1 for v in villages if v.women_count >= rules.min_women_per_village),
        villages_with_young=sum(1 for v in villages if v.young_count >= rules.min_young_per_village),
        one_shoulder_village_count=one,
        one_shoulder_share_percent=_share(one, n),
        member_count=members,
        college_count=college,
        college_share_percent=_share(college, members),
        gaps=gaps,
    )


def structure_report(
    villages: Iterable[str],
    members: Iterable[Member],
    candidates: Iterable[Candidate],
    rules_by_county: Mapping[str, CountyRules],
    day: date,
    candidates_per_gap: int = 3,
) -> talent_pb2.GetStructureReportResponse:
    """The report over ``villages`` (every village with members is included too)."""
    by_village: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        by_village[m.region_code].append(m)
    codes = sorted(set(villages) | set(by_village))
    pool = _CandidatePool(candidates)

    def rules_of(code: str) -> CountyRules:
        return rules_by_county.get(code[:6], DEFAULT_RULES)

    rows = [village_structure(c, by_village.get(c, []), rules_of(c), day, pool, candidates_per_gap)
            for c in codes]
    townships: dict[str, list[talent_pb2.VillageStructure]] = defaultdict(list)
    counties: dict[str, list[talent_pb2.VillageStructure]] = defaultdict(list)
    for row in rows:
        townships[row.region_code[:9]].append(row)
        counties[row.region_code[:6]].append(row)
    return talent_pb2.GetStructureReportResponse(
        as_of_date=day.isoformat(),
        counties=[_region(c, counties[c], rules_of(c)) for c in sorted(counties)],
        townships=[_region(t, townships[t], rules_of(t)) for t in sorted(townships)],
        villages=rows,
    )
