"""Five lists domain rules (五项清单 / 清单制). Pure: no I/O.

For now: validation of a list item (清单事项) and of the list filter. An item
belongs to one of the five lists (ListKind) and to one level of the
administrative tree: county (县), township (乡镇) or village (村), named by its
12-digit division code (行政区划代码).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shanzhi.lists.v1 import lists_pb2
from shanzhi_kit.errors import InvalidArgument, Validator
from shanzhi_kit.regions import code_problem

ListKind = lists_pb2.ListKind

#: Longest item code (事项编码); letters, digits and '-' only.
MAX_CODE = 40
CODE_PATTERN = re.compile(r"[A-Za-z0-9-]+")
#: Longest title (事项名称).
MAX_TITLE = 200
#: Longest legal or policy basis (依据).
MAX_LEGAL_BASIS = 1000
#: Longest responsible body (责任主体) and supervisor (监督主体).
MAX_BODY = 100
#: Most steps (办理流程) in an item, and the longest step.
MAX_STEPS = 50
MAX_STEP = 200
#: Longest time limit (办理时限), in days: ten years.
MAX_TIME_LIMIT_DAYS = 3650

#: The five lists (五项清单).
KINDS = frozenset(k for k in ListKind.values() if k != lists_pb2.LIST_KIND_UNSPECIFIED)


@dataclass(frozen=True)
class NewListItem:
    """A validated list item (清单事项) about to be added to one of the five lists."""

    region_code: str
    kind: lists_pb2.ListKind.ValueType
    code: str
    title: str
    legal_basis: str
    responsible_body: str
    steps: tuple[str, ...]
    time_limit_days: int
    supervisor: str


def level_problem(code: str) -> str | None:
    """Why ``code`` names no county, township or village (县/乡镇/村), or None."""
    problem = code_problem(code)
    if problem:
        return problem
    if code[6:9] == "000" and code[9:] != "000":
        return "must name a county, township or village: a village code needs its township digits"
    return None


def _text(v: Validator, field: str, value: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required:
        v.require(field, value)
    v.check(len(value) <= limit, field, f"must be at most {limit} characters")
    return value


def _steps(v: Validator, steps: list[str]) -> tuple[str, ...]:
    v.check(len(steps) <= MAX_STEPS, "steps", f"must be at most {MAX_STEPS} steps")
    cleaned = tuple(s.strip() for s in steps)
    for i, step in enumerate(cleaned):
        if not step:
            v.add(f"steps[{i}]", "must not be empty")
        elif len(step) > MAX_STEP:
            v.add(f"steps[{i}]", f"must be at most {MAX_STEP} characters")
    return cleaned


def check_new_item(req: lists_pb2.CreateListItemRequest) -> NewListItem:
    """Validate a new list item (清单事项); every wrong field is named in one error."""
    v = Validator()
    problem = level_problem(req.region_code)
    if problem:
        v.add("region_code", problem)
    v.check(req.kind in KINDS, "kind", "is required: one of the ListKind values")
    code = _text(v, "code", req.code, MAX_CODE, required=True)
    if code:
        v.check(CODE_PATTERN.fullmatch(code) is not None, "code",
                "may hold only ASCII letters, digits and '-'")
    title = _text(v, "title", req.title, MAX_TITLE, required=True)
    legal_basis = _text(v, "legal_basis", req.legal_basis, MAX_LEGAL_BASIS)
    responsible_body = _text(v, "responsible_body", req.responsible_body, MAX_BODY)
    steps = _steps(v, list(req.steps))
    v.check(0 <= req.time_limit_days <= MAX_TIME_LIMIT_DAYS, "time_limit_days",
            f"must be between 0 (no limit) and {MAX_TIME_LIMIT_DAYS}")
    supervisor = _text(v, "supervisor", req.supervisor, MAX_BODY)
    v.raise_if_any()
    return NewListItem(
        region_code=req.region_code, kind=req.kind, code=code, title=title,
        legal_basis=legal_basis, responsible_body=responsible_body, steps=steps,
        time_limit_days=req.time_limit_days, supervisor=supervisor,
    )


def check_kind_filter(kind: lists_pb2.ListKind.ValueType) -> lists_pb2.ListKind.ValueType | None:
    """The list to filter by (清单类型), or None for all five."""
    if kind == lists_pb2.LIST_KIND_UNSPECIFIED:
        return None
    if kind not in KINDS:
        raise InvalidArgument.field("kind", "must be one of the ListKind values, or unset for all")
    return kind
