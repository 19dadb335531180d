"""Scheme rules (积分方案): settings, items, adoption, limits, templates, honours. Pure.

A scheme is drafted, publicised for comment (公示) for the days it sets, adopted
by the villagers' representative meeting (村民代表会议决议) and only then takes
effect; a change is a new version that goes the same way, and the version it
replaces is kept with the last day it was in force, so the rules of any past day
can be reproduced.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from itertools import pairwise

from shanzhi.points.v1 import points_pb2
from shanzhi_kit.errors import Validator
from shanzhi_kit.values import format_date

SubjectKind = points_pb2.SubjectKind

MAX_ITEMS = 500
MAX_ITEM_CODE = 30
MAX_ITEM_NAME = 200
MAX_EVIDENCE = 500
MAX_ITEM_POINTS = 10_000
MAX_LIMIT = 1000
MAX_TITLE = 200
MAX_NOTE = 1000
MIN_YEAR, MAX_YEAR = 2000, 2100
#: Villagers' representatives start each natural year at 100 (以100分为基准).
REPRESENTATIVE_BASE_SCORE = 100
DEFAULT_PUBLICITY_DAYS = 7
DEFAULT_COMMENT_DAYS = 7
DEFAULT_LIST_SIZE = 10
MAX_STARS = 10

POSITIVE = points_pb2.ITEM_SIGN_POSITIVE
NEGATIVE = points_pb2.ITEM_SIGN_NEGATIVE


@dataclass(frozen=True)
class Limits:
    """How often an item may count for one subject (0: no limit)."""

    per_day: int = 0
    per_week: int = 0
    per_month: int = 0
    per_year: int = 0

    @property
    def any(self) -> bool:
        return bool(self.per_day or self.per_week or self.per_month or self.per_year)


@dataclass(frozen=True)
class Item:
    """A validated catalog item (积分事项)."""

    code: str
    name: str
    category: int
    sign: int
    points: int
    evidence_required: str
    limits: Limits
    effective_from: date | None
    effective_to: date | None

    @property
    def signed_points(self) -> int:
        return self.points if self.sign == POSITIVE else -self.points

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to)

    def window(self) -> str:
        return f"{format_date(self.effective_from) or '…'} to {format_date(self.effective_to) or '…'}"


@dataclass(frozen=True)
class Settings:
    """A version's settings, defaults filled in."""

    claim_publicity_days: int
    comment_days: int
    cycle_policy: int
    base_score: int
    points_valid_months: int
    red_list_size: int
    black_list_size: int
    star_thresholds: tuple[int, ...]
    black_list_below: int


@dataclass(frozen=True)
class Resolution:
    """A validated resolution of the villagers' representative meeting."""

    meeting_date: date
    representatives_total: int
    attendees: int
    votes_for: int
    votes_against: int
    votes_abstain: int
    number: str
    note: str


def _int_range(v: Validator, field: str, value: int, low: int, high: int) -> None:
    v.check(low <= value <= high, field, f"must be between {low} and {high}")


def check_settings(v: Validator, field: str, s: points_pb2.SchemeSettings, kind: int) -> Settings:
    """Validate settings; zero values take the defaults of the subject kind."""
    representative = kind == points_pb2.SUBJECT_KIND_REPRESENTATIVE
    publicity = s.claim_publicity_days or DEFAULT_PUBLICITY_DAYS
    comment = s.comment_days or DEFAULT_COMMENT_DAYS
    _int_range(v, f"{field}.claim_publicity_days", publicity, 1, 30)
    _int_range(v, f"{field}.comment_days", comment, 1, 60)
    policy = s.cycle_policy or (points_pb2.CYCLE_POLICY_RESET if representative
                                else points_pb2.CYCLE_POLICY_CARRY_OVER)
    v.check(policy in (points_pb2.CYCLE_POLICY_RESET, points_pb2.CYCLE_POLICY_CARRY_OVER),
            f"{field}.cycle_policy", "must be CYCLE_POLICY_RESET or CYCLE_POLICY_CARRY_OVER")
    base = s.base_score or (REPRESENTATIVE_BASE_SCORE if representative else 0)
    _int_range(v, f"{field}.base_score", base, 0, MAX_ITEM_POINTS)
    _int_range(v, f"{field}.points_valid_months", s.points_valid_months, 0, 120)
    red = s.red_list_size or DEFAULT_LIST_SIZE
    black = s.black_list_size or DEFAULT_LIST_SIZE
    _int_range(v, f"{field}.red_list_size", red, 1, 100)
    _int_range(v, f"{field}.black_list_size", black, 1, 100)
    stars = tuple(s.star_thresholds)
    v.check(len(stars) <= MAX_STARS, f"{field}.star_thresholds", f"at most {MAX_STARS} thresholds")
    v.check(all(a < b for a, b in pairwise(stars)) and all(t > 0 for t in stars),
            f"{field}.star_thresholds", "must be positive and strictly ascending")
    return Settings(publicity, comment, policy, base, s.points_valid_months, red, black, stars,
                    s.black_list_below)


def check_items(v: Validator, field: str, items: Sequence[points_pb2.CatalogItem],
                year: int) -> list[Item]:
    """Validate the items of a version; every wrong field is named by its index."""
    out: list[Item] = []
    v.check(len(items) <= MAX_ITEMS, field, f"at most {MAX_ITEMS} items")
    seen: dict[str, int] = {}
    for i, item in enumerate(items[:MAX_ITEMS]):
        at = f"{field}[{i}]"
        code = item.code.strip()
        v.require(f"{at}.code", code)
        v.check(len(code) <= MAX_ITEM_CODE, f"{at}.code", f"must be at most {MAX_ITEM_CODE} characters")
        if code in seen:
            v.add(f"{at}.code", f"{code!r} is already the code of {field}[{seen[code]}]")
        seen.setdefault(code, i)
        name = item.name.strip()
        v.require(f"{at}.name", name)
        v.check(len(name) <= MAX_ITEM_NAME, f"{at}.name", f"must be at most {MAX_ITEM_NAME} characters")
        v.check(item.category in points_pb2.ItemCategory.values() and item.category != 0,
                f"{at}.category", "must be one of the ItemCategory values")
        v.check(item.sign in (POSITIVE, NEGATIVE), f"{at}.sign",
                "must be ITEM_SIGN_POSITIVE or ITEM_SIGN_NEGATIVE")
        v.check(1 <= item.points <= MAX_ITEM_POINTS, f"{at}.points",
                f"must be a whole number from 1 to {MAX_ITEM_POINTS} (the sign gives the direction)")
        evidence = item.evidence_required.strip()
        v.check(len(evidence) <= MAX_EVIDENCE, f"{at}.evidence_required",
                f"must be at most {MAX_EVIDENCE} characters")
        lim = item.limits
        for name_, value in (("per_day", lim.per_day), ("per_week", lim.per_week),
                             ("per_month", lim.per_month), ("per_year", lim.per_year)):
            _int_range(v, f"{at}.limits.{name_}", value, 0, MAX_LIMIT)
        start = v.date_field(f"{at}.effective_from", item.effective_from, required=False)
        end = v.date_field(f"{at}.effective_to", item.effective_to, required=False)
        if start and end and end < start:
            v.add(f"{at}.effective_to", "must not be before effective_from")
        out.append(Item(code, name, item.category, item.sign, item.points, evidence,
                        Limits(lim.per_day, lim.per_week, lim.per_month, lim.per_year), start, end))
    return out


def check_resolution(v: Validator, field: str, r: points_pb2.Resolution, today: date,
                     comment_ends_on: date | None, *,
                     rejected: str = "the scheme is not adopted") -> Resolution | None:
    """The meeting needs two thirds of the representatives present (三分之二以上到会)
    and more than half of those present for the decision (到会人员过半数同意).

    ``rejected`` says what a vote without that majority means for the request (a scheme
    not adopted, a representative not honoured)."""
    meeting = v.date_field(f"{field}.meeting_date", r.meeting_date)
    if meeting is not None:
        v.check(meeting <= today, f"{field}.meeting_date", "must not be in the future")
        if comment_ends_on is not None:
            v.check(meeting > comment_ends_on, f"{field}.meeting_date",
                    f"must be after the comment period, which ends on {comment_ends_on.isoformat()}")
    v.check(1 <= r.representatives_total <= 1000, f"{field}.representatives_total",
            "must be between 1 and 1000")
    v.check(0 <= r.attendees <= r.representatives_total, f"{field}.attendees",
            "must be between 0 and representatives_total")
    v.check(r.attendees * 3 >= r.representatives_total * 2, f"{field}.attendees",
            "fewer than two thirds of the representatives were present: the meeting cannot decide")
    for name_ in ("votes_for", "votes_against", "votes_abstain"):
        v.check(getattr(r, name_) >= 0, f"{field}.{name_}", "must not be negative")
    v.check(r.votes_for + r.votes_against + r.votes_abstain <= r.attendees, f"{field}.votes_for",
            "votes for, against and abstaining add up to more than the attendees")
    v.check(r.votes_for * 2 > r.attendees, f"{field}.votes_for",
            f"not more than half of those present voted for: {rejected}")
    v.check(len(r.number) <= MAX_TITLE, f"{field}.number", f"must be at most {MAX_TITLE} characters")
    v.check(len(r.note) <= MAX_NOTE, f"{field}.note", f"must be at most {MAX_NOTE} characters")
    if meeting is None:
        return None
    return Resolution(meeting, r.representatives_total, r.attendees, r.votes_for, r.votes_against,
                      r.votes_abstain, r.number.strip(), r.note.strip())


def effective_start(requested: date | None, meeting: date, year: int) -> date:
    """First day a newly adopted version is in force."""
    return requested or max(meeting, date(year, 1, 1))


# -- limits (上限) ------------------------------------------------------------------------


def period(kind: str, day: date) -> tuple[date, date]:
    """First and last day of the day/week/month/year ``day`` falls in."""
    if kind == "per_day":
        return day, day
    if kind == "per_week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == "per_month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    if kind == "per_year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    raise ValueError(kind)


def counting_window(day: date) -> tuple[date, date]:
    """Days whose counts can matter to a limit check on ``day``."""
    week_start, week_end = period("per_week", day)
    return min(week_start, date(day.year, 1, 1)), max(week_end, date(day.year, 12, 31))


_PERIOD_NAMES = {"per_day": "day", "per_week": "week", "per_month": "month", "per_year": "year"}


def limit_breach(limits: Limits, day: date, quantity: int,
                 counted: Iterable[tuple[date, int]]) -> str | None:
    """Why ``quantity`` more on ``day`` would exceed a limit, given what already counts."""
    if not limits.any:
        return None
    counted = list(counted)
    for f in fields(Limits):
        cap = getattr(limits, f.name)
        if not cap:
            continue
        start, end = period(f.name, day)
        used = sum(q for d, q in counted if start <= d <= end)
        if used + quantity > cap:
            return (f"at most {cap} per {_PERIOD_NAMES[f.name]} ({start.isoformat()} to "
                    f"{end.isoformat()}); {used} already count")
    return None


# -- templates (模板) ---------------------------------------------------------------------

_COMPARED = ("name", "category", "sign", "points", "evidence_required", "effective_from",
             "effective_to")


def item_differences(template: Item, village: Item) -> list[str]:
    """The fields in which a village item departs from its template item."""
    out = [name for name in _COMPARED if getattr(template, name) != getattr(village, name)]
    for f in fields(Limits):
        if getattr(template.limits, f.name) != getattr(village.limits, f.name):
            out.append(f"limits.{f.name}")
    return out


@dataclass(frozen=True)
class Departure:
    code: str
    kind: int
    fields: tuple[str, ...]
    template: Item | None
    village: Item | None


def departures(template: Sequence[Item], village: Sequence[Item]) -> list[Departure]:
    """Where the village's items depart from the template's, by item code."""
    theirs = {i.code: i for i in template}
    ours = {i.code: i for i in village}
    out: list[Departure] = []
    for code in sorted(theirs.keys() | ours.keys()):
        t, o = theirs.get(code), ours.get(code)
        if t is None:
            out.append(Departure(code, points_pb2.DEPARTURE_KIND_ADDED, (), None, o))
        elif o is None:
            out.append(Departure(code, points_pb2.DEPARTURE_KIND_REMOVED, (), t, None))
        else:
            diff = item_differences(t, o)
            if diff:
                out.append(Departure(code, points_pb2.DEPARTURE_KIND_CHANGED, tuple(diff), t, o))
    return out


# -- honours (红黑榜、星级) ----------------------------------------------------------------


def stars(score: int, thresholds: Sequence[int]) -> int:
    """Stars reached: how many thresholds the score meets (星级).

    >>> stars(75, [60, 70, 80]), stars(10, [60]), stars(80, [])
    (2, 0, 0)
    """
    return sum(1 for t in thresholds if score >= t)


def competition_ranks(scores: Sequence[int]) -> list[int]:
    """Ranks of scores sorted highest first, equal scores sharing a place (1, 2, 2, 4).

    >>> competition_ranks([90, 80, 80, 70])
    [1, 2, 2, 4]
    """
    ranks: list[int] = []
    for i, s in enumerate(scores):
        ranks.append(ranks[-1] if i and scores[i - 1] == s else i + 1)
    return ranks
