"""Unit tests of scheme rules and request validation: no I/O."""

from __future__ import annotations

from datetime import date

import pytest
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_kit.errors import InvalidArgument, Validator
from shanzhi_points import domain, rules

TODAY = date(2025, 6, 18)


def fields(v: Validator) -> set[str]:
    return {x.field for x in v.violations}


def good_item(**kw: object) -> P.CatalogItem:
    base: dict[str, object] = dict(code="HJ-01", name="庭院整洁", category=P.ITEM_CATEGORY_BEAUTIFUL_VILLAGE,
                                   sign=P.ITEM_SIGN_POSITIVE, points=5)
    base.update(kw)
    return P.CatalogItem(**base)  # type: ignore[arg-type]


def test_settings_take_the_defaults_of_the_subject_kind() -> None:
    v = Validator()
    household = rules.check_settings(v, "settings", P.SchemeSettings(), P.SUBJECT_KIND_HOUSEHOLD)
    representative = rules.check_settings(v, "settings", P.SchemeSettings(),
                                          P.SUBJECT_KIND_REPRESENTATIVE)
    assert not v.violations
    assert (household.claim_publicity_days, household.cycle_policy, household.base_score) == (
        7, P.CYCLE_POLICY_CARRY_OVER, 0)
    assert (representative.cycle_policy, representative.base_score) == (P.CYCLE_POLICY_RESET, 100)


@pytest.mark.parametrize(
    ("settings", "field"),
    [({"claim_publicity_days": 31}, "settings.claim_publicity_days"),
     ({"comment_days": -1}, "settings.comment_days"),
     ({"points_valid_months": -1}, "settings.points_valid_months"),
     ({"star_thresholds": [50, 40]}, "settings.star_thresholds"),
     ({"star_thresholds": [0, 40]}, "settings.star_thresholds"),
     ({"base_score": -5}, "settings.base_score")],
)
def test_bad_settings_are_named(settings: dict[str, object], field: str) -> None:
    v = Validator()
    rules.check_settings(v, "settings", P.SchemeSettings(**settings), P.SUBJECT_KIND_HOUSEHOLD)  # type: ignore[arg-type]
    assert fields(v) == {field}


@pytest.mark.parametrize(
    ("change", "field"),
    [({"code": ""}, "items[1].code"), ({"code": "A"}, "items[1].code"), ({"name": " "}, "items[1].name"),
     ({"category": 0}, "items[1].category"), ({"sign": 0}, "items[1].sign"),
     ({"points": 0}, "items[1].points"), ({"points": -3}, "items[1].points"),
     ({"limits": P.ItemLimits(per_month=-1)}, "items[1].limits.per_month"),
     ({"effective_from": "2025-13-01"}, "items[1].effective_from"),
     ({"effective_from": "2025-06-01", "effective_to": "2025-05-01"}, "items[1].effective_to")],
)
def test_bad_items_are_named_by_index(change: dict[str, object], field: str) -> None:
    v = Validator()
    rules.check_items(v, "items", [good_item(code="A"), good_item(**change)], 2025)
    assert field in fields(v)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"attendees": 19}, "resolution.attendees"),
     ({"votes_for": 12, "votes_against": 10, "votes_abstain": 3}, "resolution.votes_for"),
     ({"votes_for": 20, "votes_against": 10}, "resolution.votes_for"),
     ({"meeting_date": "2025-06-19"}, "resolution.meeting_date"),
     ({"meeting_date": "2025-06-10"}, "resolution.meeting_date")],
)
def test_a_resolution_needs_two_thirds_present_and_a_majority_of_them(
        change: dict[str, object], field: str) -> None:
    base: dict[str, object] = dict(meeting_date="2025-06-15", representatives_total=30, attendees=20,
                                   votes_for=11, votes_against=9)
    base.update(change)
    v = Validator()
    rules.check_resolution(v, "resolution", P.Resolution(**base), TODAY,  # type: ignore[arg-type]
                           comment_ends_on=date(2025, 6, 12))
    assert field in fields(v)


def test_a_valid_resolution_passes() -> None:
    v = Validator()
    got = rules.check_resolution(v, "resolution", P.Resolution(
        meeting_date="2025-06-15", representatives_total=30, attendees=20, votes_for=11),
        TODAY, comment_ends_on=date(2025, 6, 12))
    assert not v.violations and got is not None and got.meeting_date == date(2025, 6, 15)


@pytest.mark.parametrize(
    ("limits", "day", "quantity", "used", "breached"),
    [(rules.Limits(per_month=2), date(2025, 6, 18), 1, [(date(2025, 6, 1), 1)], False),
     (rules.Limits(per_month=2), date(2025, 6, 18), 1, [(date(2025, 6, 1), 2)], True),
     (rules.Limits(per_month=2), date(2025, 7, 1), 1, [(date(2025, 6, 30), 2)], False),
     (rules.Limits(per_day=1), date(2025, 6, 18), 1, [(date(2025, 6, 17), 1)], False),
     (rules.Limits(per_week=2), date(2025, 6, 22), 1, [(date(2025, 6, 16), 1), (date(2025, 6, 18), 1)],
      True),
     (rules.Limits(per_week=2), date(2025, 6, 23), 1, [(date(2025, 6, 16), 1), (date(2025, 6, 18), 1)],
      False),
     (rules.Limits(per_year=3), date(2025, 12, 31), 2, [(date(2025, 1, 1), 2)], True),
     (rules.Limits(), date(2025, 6, 18), 99, [(date(2025, 6, 18), 99)], False)],
)
def test_limits_count_by_calendar_period(limits: rules.Limits, day: date, quantity: int,
                                         used: list[tuple[date, int]], breached: bool) -> None:
    assert (rules.limit_breach(limits, day, quantity, used) is not None) is breached


def test_the_counting_window_covers_a_week_across_new_year() -> None:
    assert rules.counting_window(date(2025, 12, 31)) == (date(2025, 1, 1), date(2026, 1, 4))


def test_departures_from_a_template() -> None:
    template = rules.check_items(Validator(), "items", [
        good_item(code="A"), good_item(code="B"), good_item(code="C")], 2025)
    village = rules.check_items(Validator(), "items", [
        good_item(code="A"), good_item(code="B", points=8, limits=P.ItemLimits(per_month=1)),
        good_item(code="D")], 2025)
    got = {d.code: (d.kind, d.fields) for d in rules.departures(template, village)}
    assert got == {"B": (P.DEPARTURE_KIND_CHANGED, ("points", "limits.per_month")),
                   "C": (P.DEPARTURE_KIND_REMOVED, ()), "D": (P.DEPARTURE_KIND_ADDED, ())}


def test_batch_lines_are_named_by_index() -> None:
    subject = P.SubjectRef(kind=P.SUBJECT_KIND_HOUSEHOLD, id="0b7f8a36-3f8e-4bd3-9f3d-1c1ad0f36f38")
    request = P.ScoreBatchRequest(
        request_id="r", batch_key="2025-06", scheme_id="0b7f8a36-3f8e-4bd3-9f3d-1c1ad0f36f38",
        title="6月人居环境检查", lines=[
            P.BatchLine(subject=subject, item_code="HJ-01", occurred_on="2025-06-01"),
            P.BatchLine(subject=subject, item_code="", occurred_on="2025-06-31", quantity=-2),
            P.BatchLine(subject=P.SubjectRef(kind=P.SUBJECT_KIND_HOUSEHOLD, id="x"), item_code="HJ-01",
                        occurred_on="2025-07-01")])
    with pytest.raises(InvalidArgument) as err:
        domain.check_batch(request, TODAY)
    assert {v.field for v in err.value.violations} == {
        "lines[1].item_code", "lines[1].occurred_on", "lines[1].quantity", "lines[2].subject.id",
        "lines[2].occurred_on"}


def test_a_quantity_of_zero_means_once_and_negative_is_refused() -> None:
    v = Validator()
    assert domain.check_quantity(v, "quantity", 0) == 1 and not v.violations
    domain.check_quantity(v, "quantity", -1)
    domain.check_quantity(v, "quantity", 101)
    assert [x.field for x in v.violations] == ["quantity", "quantity"]


def test_stars_and_ranks() -> None:
    assert [rules.stars(s, [60, 80, 100]) for s in (59, 60, 99, 150)] == [0, 1, 2, 3]
    assert rules.competition_ranks([9, 9, 7, 7, 7, 1]) == [1, 1, 3, 3, 3, 6]
