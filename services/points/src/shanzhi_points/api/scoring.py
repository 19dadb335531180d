"""Checks shared by awards, batch lines and claims: scheme, version, item, subject, limits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from shanzhi.points.v1 import points_pb2
from shanzhi_kit.auth import Caller
from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.values import format_date

from shanzhi_points import rules
from shanzhi_points.api.base import KIND_NAMES
from shanzhi_points.domain import Scoring
from shanzhi_points.errors import refused, require_scope, unknown
from shanzhi_points.messages import item_rule
from shanzhi_points.posting import AccountState, LedgerWriter
from shanzhi_points.repository import ACCOUNT_FIELDS, PointsRepository, ScoringRule, rule_of


def check_scheme(rule: ScoringRule | Any, caller: Caller, scheme_id_field: str = "scheme_id") -> Any:
    scheme = rule.scheme if isinstance(rule, ScoringRule) else rule
    if scheme is None:
        raise unknown(scheme_id_field, "no scheme has this id")
    require_scope(caller.scope, scheme.region_code, scheme_id_field)
    if scheme.is_template:
        raise refused(scheme_id_field, "a template is not scored: score under the village's own scheme")
    if isinstance(rule, ScoringRule) and rule.closed:
        raise refused(scheme_id_field, f"the scheme's {scheme.year} cycle is closed (年度已结算)")
    return scheme


def check_day(scheme: Any, day: date, field: str) -> None:
    if day.year != scheme.year:
        raise InvalidArgument.field(field, f"must lie in the scheme's year {scheme.year}")


def check_item(version: Any, item_row: Any, code: str, day: date, *, code_field: str,
               day_field: str) -> rules.Item:
    if version is None:
        raise refused(day_field, f"no adopted version of the scheme is in force on {day.isoformat()}")
    if item_row is None:
        raise unknown(code_field, f"no item {code!r} in the scheme's rules in force on "
                      f"{day.isoformat()}")
    item = item_rule(item_row)
    if not item.in_force(day):
        raise InvalidArgument.field(day_field, f"item {code!r} applies from {item.window()}")
    return item


def check_subject_fits(state: AccountState | None, subject_kind: int, scheme: Any, day: date,
                       caller: Caller, field: str = "subject") -> AccountState:
    """The subject's account exists, is in scope, and belongs to the scheme's village and kind."""
    if state is None:
        raise unknown(f"{field}.id", f"no {KIND_NAMES.get(subject_kind, 'subject')} account has this id")
    require_scope(caller.scope, state.region_code, f"{field}.id")
    if subject_kind != scheme.subject_kind:
        raise InvalidArgument.field(
            f"{field}.kind", f"the scheme scores {KIND_NAMES.get(scheme.subject_kind)} subjects")
    if state.region_code != scheme.region_code:
        raise InvalidArgument.field(
            f"{field}.id", f"the subject belongs to village {state.region_code}, the scheme to "
            f"{scheme.region_code}")
    if state.closed_on is not None and day > state.closed_on:
        raise refused(f"{field}.id", f"the account closed on {format_date(state.closed_on)}")
    if state.closed_cycle_year is not None and state.closed_cycle_year >= scheme.year:
        raise refused("scheme_id", f"the scheme's {scheme.year} cycle is closed (年度已结算)")
    return state


class LimitLedger:
    """Counts of an item's use per account, for limit checks across many lines."""

    def __init__(self) -> None:
        self._uses: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)

    async def load(self, repo: PointsRepository, account_ids: Sequence[str],
                   codes: Sequence[str], days: Sequence[date]) -> None:
        if not account_ids or not codes or not days:
            return
        start = min(rules.counting_window(d)[0] for d in days)
        end = max(rules.counting_window(d)[1] for d in days)
        for row in await repo.item_uses(list(account_ids), list(codes), start, end):
            self._uses[(row.account_id, row.item_code)].append((row.day, row.quantity))

    def take(self, account_id: str, item: rules.Item, day: date, quantity: int, field: str) -> None:
        """Count ``quantity`` more uses, or refuse if a limit would be exceeded."""
        used = self._uses[(account_id, item.code)]
        breach = rules.limit_breach(item.limits, day, quantity, used)
        if breach:
            raise refused(field, f"item {item.code!r} limit reached: {breach}")
        used.append((day, quantity))


async def rule_and_locked_account(repo: PointsRepository, writer: LedgerWriter, scheme_id: str,
                                  scoring: Scoring) -> tuple[ScoringRule, AccountState | None]:
    """The scheme's rule for the item on the day, and the subject's account, locked.

    One round trip when both exist; otherwise two, so the checks can say which is missing.
    """
    subject = scoring.subject
    row = await repo.lock_for_scoring(subject.kind, subject.id, scheme_id, scoring.item_code,
                                      scoring.occurred_on)
    if row is not None:
        state = AccountState(*[row._mapping[f"a_{f}"] for f in ACCOUNT_FIELDS])
        if row.seen_rules_epoch == state.rules_epoch:
            return rule_of(row), state
        # An adoption changed the rules while this waited for the account: read them again.
        rule = await repo.scoring_rule(scheme_id, scoring.item_code, scoring.occurred_on)
        return rule, state
    rule = await repo.scoring_rule(scheme_id, scoring.item_code, scoring.occurred_on)
    return rule, await writer.lock_subject(subject.kind, subject.id)


def signed(item: rules.Item, quantity: int) -> int:
    return item.signed_points * quantity


KIND = points_pb2.SubjectKind
