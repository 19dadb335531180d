"""Points domain rules (积分制). Pure: no I/O.

Validation of requests: households (农户) and their members on a village's roster
(一户一档), subjects, awards and batch lines, claims (申报), reviews and objections,
goods of the points supermarket (积分超市) and redemptions, honours of outstanding
villagers' representatives (优秀村民代表). Scheme rules live in
:mod:`shanzhi_points.rules`, the ledger's arithmetic in :mod:`shanzhi_points.ledger`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from shanzhi.points.v1 import points_pb2
from shanzhi_kit.auth import (
    ROLE_COUNTY_OFFICER,
    ROLE_GRID_WORKER,
    ROLE_TOWNSHIP_OFFICER,
    ROLE_VILLAGE_CLERK,
)
from shanzhi_kit.errors import Validator
from shanzhi_kit.regions import code_problem, is_village_code
from shanzhi_kit.values import valid_uuid

from shanzhi_points import rules

#: Longest household number (户号).
MAX_HOUSEHOLD_NUMBER = 30
#: Longest name of the head of household (户主姓名).
MAX_HEAD_NAME = 50
#: Longest villager group (村民小组) name.
MAX_VILLAGER_GROUP = 30
#: Bounds of the number of household members (家庭人口).
MIN_MEMBERS, MAX_MEMBERS = 1, 99


@dataclass(frozen=True)
class NewHousehold:
    """A validated household (农户) about to join a village's roster (一户一档)."""

    region_code: str
    household_number: str
    head_name: str
    member_count: int
    villager_group: str


def _village(v: Validator, code: str, field: str = "region_code") -> None:
    problem = code_problem(code)
    if problem:
        v.add(field, problem)
    elif not is_village_code(code):
        v.add(field, "must be a village code: township and village digits set")


def _text(v: Validator, field: str, value: str, limit: int, *, required: bool) -> str:
    value = value.strip()
    if required:
        v.require(field, value)
    v.check(len(value) <= limit, field, f"must be at most {limit} characters")
    return value


def check_new_household(req: points_pb2.CreateHouseholdRequest) -> NewHousehold:
    """Validate a new household (建档); every wrong field is named in one error."""
    v = Validator()
    _village(v, req.region_code)
    number = _text(v, "household_number", req.household_number, MAX_HOUSEHOLD_NUMBER, required=True)
    head = _text(v, "head_name", req.head_name, MAX_HEAD_NAME, required=True)
    v.check(MIN_MEMBERS <= req.member_count <= MAX_MEMBERS, "member_count",
            f"must be between {MIN_MEMBERS} and {MAX_MEMBERS}")
    group = _text(v, "villager_group", req.villager_group, MAX_VILLAGER_GROUP, required=False)
    v.raise_if_any()
    return NewHousehold(req.region_code, number, head, req.member_count, group)


# -- who may do what ------------------------------------------------------------------

#: Keep the roster, schemes, the ledger and the supermarket: village clerks (村级文书)
#: and township and county officers (an admin may do anything).
MANAGER_ROLES = (ROLE_VILLAGE_CLERK, ROLE_TOWNSHIP_OFFICER, ROLE_COUNTY_OFFICER)
#: Record claims for subjects: managers and grid workers (网格员).
RECORDER_ROLES = (*MANAGER_ROLES, ROLE_GRID_WORKER)
#: Decide claims for the review group (评议小组): managers.
REVIEWER_ROLES = MANAGER_ROLES
#: Issue county or township templates (模板).
TEMPLATE_ROLES = (ROLE_TOWNSHIP_OFFICER, ROLE_COUNTY_OFFICER)

MAX_NAME = 50
MAX_RELATION = 20
MAX_REASON = 500
MAX_QUANTITY = 100
MAX_BATCH_LINES = 20_000
MAX_BATCH_KEY = 100
MAX_GOODS_NAME = 100
MAX_PRICE = 1_000_000
MAX_STOCK = 1_000_000
MAX_URLS = 20
MAX_URL = 500

PERSON_KINDS = (points_pb2.SUBJECT_KIND_PERSON, points_pb2.SUBJECT_KIND_REPRESENTATIVE,
                points_pb2.SUBJECT_KIND_PARTY_MEMBER)
SUBJECT_KINDS = (points_pb2.SUBJECT_KIND_HOUSEHOLD, *PERSON_KINDS)


def village(v: Validator, code: str, field: str = "region_code") -> None:
    _village(v, code, field)


def reason_text(v: Validator, field: str, value: str, *, required: bool = True) -> str:
    return _text(v, field, value, MAX_REASON, required=required)


@dataclass(frozen=True)
class Subject:
    kind: int
    id: str


def check_subject(v: Validator, field: str, ref: points_pb2.SubjectRef,
                  kinds: Sequence[int] = SUBJECT_KINDS) -> Subject:
    if ref.kind not in kinds:
        names = ", ".join(points_pb2.SubjectKind.Name(k) for k in kinds)  # type: ignore[arg-type]
        v.add(f"{field}.kind", f"must be one of {names}")
    if not ref.id:
        v.add(f"{field}.id", "is required")
    elif not valid_uuid(ref.id.lower()):
        v.add(f"{field}.id", f"{ref.id!r} is not a valid id (UUID)")
    return Subject(ref.kind, ref.id.lower())


def check_filter(v: Validator, field: str, value: int, allowed: Iterable[int], what: str) -> None:
    """A list filter: 0 (unset, everything) or one of ``allowed``."""
    v.check(value == 0 or value in allowed, field, f"must be {what}, or unset for all")


def check_year_filter(v: Validator, year: int) -> None:
    v.check(year == 0 or rules.MIN_YEAR <= year <= rules.MAX_YEAR, "year",
            f"must be between {rules.MIN_YEAR} and {rules.MAX_YEAR}, or 0 for every year")


def check_quantity(v: Validator, field: str, quantity: int) -> int:
    """Times an item counts (次数): a whole number from 1; 0 (unset) means 1."""
    quantity = quantity or 1
    v.check(1 <= quantity <= MAX_QUANTITY, field,
            f"must be a whole number from 1 to {MAX_QUANTITY}")
    return quantity


def check_occurred_on(v: Validator, field: str, value: str, today: date) -> date | None:
    day = v.date_field(field, value)
    if day is not None and day > today:
        v.add(field, "must not be in the future")
    return day


def check_uuid(v: Validator, field: str, value: str) -> str:
    if not value:
        v.add(field, "is required")
    elif not valid_uuid(value.lower()):
        v.add(field, f"{value!r} is not a valid id (UUID)")
    return value.lower()


# -- household members (家庭成员) and moves ----------------------------------------------


@dataclass(frozen=True)
class NewMember:
    household_id: str
    name: str
    relation: str
    talent_person_id: str
    joined_on: date | None
    moved_in: bool


def check_new_member(req: points_pb2.AddHouseholdMemberRequest, today: date) -> NewMember:
    v = Validator()
    household_id = check_uuid(v, "household_id", req.household_id)
    name = _text(v, "name", req.name, MAX_NAME, required=True)
    relation = _text(v, "relation", req.relation, MAX_RELATION, required=True)
    person = ""
    if req.talent_person_id:
        person = check_uuid(v, "talent_person_id", req.talent_person_id)
    joined = v.date_field("joined_on", req.joined_on, required=False)
    if joined is not None and joined > today:
        v.add("joined_on", "must not be in the future")
    v.raise_if_any()
    return NewMember(household_id, name, relation, person, joined, req.moved_in)


@dataclass(frozen=True)
class Leaving:
    id: str
    on: date
    reason: str


def check_member_left(req: points_pb2.RecordMemberLeftRequest, today: date) -> Leaving:
    v = Validator()
    member_id = check_uuid(v, "member_id", req.member_id)
    on = check_occurred_on(v, "left_on", req.left_on, today)
    reason = reason_text(v, "reason", req.reason)
    v.raise_if_any()
    assert on is not None
    return Leaving(member_id, on, reason)


def check_move_out(req: points_pb2.MoveHouseholdOutRequest, today: date) -> Leaving:
    v = Validator()
    household_id = check_uuid(v, "household_id", req.household_id)
    on = check_occurred_on(v, "moved_out_on", req.moved_out_on, today)
    reason = reason_text(v, "reason", req.reason)
    v.raise_if_any()
    assert on is not None
    return Leaving(household_id, on, reason)


@dataclass(frozen=True)
class Returning:
    """A validated return of a household that moved out (回迁/撤销迁出)."""

    household_id: str
    on: date
    reason: str


def check_return(req: points_pb2.ReturnHouseholdRequest, today: date) -> Returning:
    """Validate a return (回迁): a household, a day not in the future, a reason. Whether the
    household moved out, and not after that day, is for the roster to say."""
    v = Validator()
    household_id = check_uuid(v, "household_id", req.household_id)
    on = check_occurred_on(v, "returned_on", req.returned_on, today)
    reason = reason_text(v, "reason", req.reason)
    v.raise_if_any()
    assert on is not None
    return Returning(household_id, on, reason)


@dataclass(frozen=True)
class HeadChange:
    """A validated change of head of household (户主变更)."""

    household_id: str
    #: The new head's name; empty when the member's recorded name is to be taken.
    head_name: str
    #: The member who becomes head; empty when the head is named only.
    member_id: str
    on: date
    reason: str


def check_head_change(req: points_pb2.ChangeHouseholdHeadRequest, today: date) -> HeadChange:
    """Validate a change of head (户主变更): a name, or a member, or both; a day not in the
    future; a reason (原户主去世/迁出/分户…). Every wrong field is named in one error."""
    v = Validator()
    household_id = check_uuid(v, "household_id", req.household_id)
    member_id = check_uuid(v, "member_id", req.member_id) if req.member_id else ""
    head = _text(v, "head_name", req.head_name, MAX_HEAD_NAME, required=not req.member_id)
    on = check_occurred_on(v, "changed_on", req.changed_on, today)
    reason = reason_text(v, "reason", req.reason)
    v.raise_if_any()
    assert on is not None
    return HeadChange(household_id, head, member_id, on, reason)


# -- awards, batch lines and claims (记分、批量评分、申报) ------------------------------


@dataclass(frozen=True)
class Scoring:
    """One item for one subject: an award, a batch line or a claim."""

    subject: Subject
    item_code: str
    occurred_on: date
    quantity: int
    note: str


def _scoring(v: Validator, prefix: str, subject: points_pb2.SubjectRef, item_code: str,
             occurred_on: str, quantity: int, note: str, today: date, *,
             note_field: str, note_required: bool) -> Scoring:
    subj = check_subject(v, f"{prefix}subject", subject)
    code = item_code.strip()
    v.require(f"{prefix}item_code", code)
    day = check_occurred_on(v, f"{prefix}occurred_on", occurred_on, today)
    qty = check_quantity(v, f"{prefix}quantity", quantity)
    text = _text(v, f"{prefix}{note_field}", note, MAX_REASON, required=note_required)
    return Scoring(subj, code, day or today, qty, text)


def check_award(req: points_pb2.AwardPointsRequest, today: date) -> tuple[str, Scoring]:
    v = Validator()
    scheme_id = check_uuid(v, "scheme_id", req.scheme_id)
    scoring = _scoring(v, "", req.subject, req.item_code, req.occurred_on, req.quantity,
                       req.reason, today, note_field="reason", note_required=True)
    v.raise_if_any()
    return scheme_id, scoring


@dataclass(frozen=True)
class NewBatch:
    batch_key: str
    scheme_id: str
    title: str
    lines: list[Scoring]


def check_batch(req: points_pb2.ScoreBatchRequest, today: date) -> NewBatch:
    """Validate a batch; a wrong line is named by its index (``lines[12].item_code``)."""
    v = Validator()
    key = _text(v, "batch_key", req.batch_key, MAX_BATCH_KEY, required=True)
    scheme_id = check_uuid(v, "scheme_id", req.scheme_id)
    title = _text(v, "title", req.title, 200, required=True)
    if not req.lines:
        v.add("lines", "at least one line is required")
    v.check(len(req.lines) <= MAX_BATCH_LINES, "lines", f"at most {MAX_BATCH_LINES} lines per batch")
    lines = []
    # A village's batch names the same households and days again and again: each distinct
    # subject and day is checked once, a line is checked in full only when something is new.
    known_subjects: dict[tuple[int, str], Subject] = {}
    known_days: dict[str, date] = {}
    for i, line in enumerate(req.lines[:MAX_BATCH_LINES]):
        subject = known_subjects.get((line.subject.kind, line.subject.id))
        day = known_days.get(line.occurred_on)
        code, note = line.item_code.strip(), line.note.strip()
        if (subject is not None and day is not None and code and 0 <= line.quantity <= MAX_QUANTITY
                and len(note) <= MAX_REASON):
            lines.append(Scoring(subject, code, day, line.quantity or 1, note))
            continue
        before = len(v.violations)
        scoring = _scoring(v, f"lines[{i}].", line.subject, line.item_code, line.occurred_on,
                           line.quantity, line.note, today, note_field="note", note_required=False)
        lines.append(scoring)
        if len(v.violations) == before:
            known_subjects[(line.subject.kind, line.subject.id)] = scoring.subject
            known_days[line.occurred_on] = scoring.occurred_on
        if len(v.violations) >= 50:
            break
    v.raise_if_any()
    return NewBatch(key, scheme_id, title, lines)


@dataclass(frozen=True)
class NewClaim:
    scheme_id: str
    scoring: Scoring
    source: int
    evidence: str
    urls: list[str]


def check_claim(req: points_pb2.SubmitClaimRequest, today: date) -> NewClaim:
    v = Validator()
    scheme_id = check_uuid(v, "scheme_id", req.scheme_id)
    scoring = _scoring(v, "", req.subject, req.item_code, req.occurred_on, req.quantity, "",
                       today, note_field="note", note_required=False)
    v.check(req.source in (points_pb2.CLAIM_SOURCE_DECLARED, points_pb2.CLAIM_SOURCE_RECORDED),
            "source", "must be CLAIM_SOURCE_DECLARED or CLAIM_SOURCE_RECORDED")
    evidence = _text(v, "evidence.description", req.evidence.description, MAX_REASON, required=False)
    urls = [u.strip() for u in req.evidence.attachment_urls]
    v.check(len(urls) <= MAX_URLS, "evidence.attachment_urls", f"at most {MAX_URLS} links")
    for i, url in enumerate(urls[:MAX_URLS]):
        v.check(0 < len(url) <= MAX_URL and url.startswith(("https://", "http://")),
                f"evidence.attachment_urls[{i}]", "must be an http(s) link of at most 500 characters")
    v.raise_if_any()
    return NewClaim(scheme_id, scoring, req.source, evidence, urls)


# -- the points supermarket (积分超市) ----------------------------------------------------


def check_price(v: Validator, field: str, price: int) -> None:
    v.check(1 <= price <= MAX_PRICE, field, f"must be a whole number of points from 1 to {MAX_PRICE}")


def check_goods_name(v: Validator, name: str) -> str:
    return _text(v, "name", name, MAX_GOODS_NAME, required=True)


# -- outstanding villagers' representatives (优秀村民代表) --------------------------------

#: Longest honour certificate number (荣誉证书编号).
MAX_CERTIFICATE_NUMBER = 50


@dataclass(frozen=True)
class NewHonour:
    """A validated honour of a representative for a year, by the meeting's vote."""

    account_id: str
    year: int
    resolution: rules.Resolution
    certificate_number: str


def check_honour(req: points_pb2.HonourRepresentativeRequest, today: date) -> NewHonour:
    """Validate an honour (优秀村民代表); every wrong field is named in one error.

    The vote is checked as for the adoption of a scheme: two thirds of the
    representatives present (三分之二以上到会), more than half of those present for
    (过半数同意). The year is not in the future and the meeting not before it began.
    """
    v = Validator()
    account_id = check_uuid(v, "account_id", req.account_id)
    year_ok = rules.MIN_YEAR <= req.year <= today.year
    v.check(year_ok, "year", f"must be between {rules.MIN_YEAR} and {today.year} (not a future year)")
    resolution = rules.check_resolution(v, "resolution", req.resolution, today, None,
                                        rejected="the representative is not honoured")
    if resolution is not None and year_ok:
        v.check(resolution.meeting_date.year >= req.year, "resolution.meeting_date",
                f"must not be before the year honoured ({req.year}) began")
    number = _text(v, "certificate_number", req.certificate_number, MAX_CERTIFICATE_NUMBER,
                   required=True)
    v.raise_if_any()
    assert resolution is not None
    return NewHonour(account_id, req.year, resolution, number)
