"""Administrative division codes (行政区划代码) and region scopes.

A code has 12 digits: 6 for the county (县/区), 3 for the township (乡镇/街道)
and 3 for the village or community (村/社区). A scope is a prefix of such a code:
6 digits for a county, 9 for a township, 12 for a village.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from shanzhi_kit.errors import InvalidArgument, PermissionDenied


class _Regional(Protocol):
    @property
    def region_code(self) -> str: ...


R = TypeVar("R", bound=_Regional)

_CODE = re.compile(r"[0-9]{12}")
_PREFIX = re.compile(r"[0-9]{0,12}")
#: Lengths a scope prefix may have: province, city, county, township, village.
SCOPE_LENGTHS = (2, 4, 6, 9, 12)


def code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid 12-digit division code, or None."""
    if not _CODE.fullmatch(code):
        return "must be a 12-digit division code (行政区划代码), e.g. 130123101201"
    if code[:6] == "000000":
        return "must name a county: its first 6 digits cannot all be zero"
    if code[6:9] == "000" and code[9:] != "000":
        return "village digits are set but the township digits are 000"
    return None


def validate_code(code: str, field: str = "region_code") -> str:
    problem = code_problem(code)
    if problem:
        raise InvalidArgument.field(field, problem)
    return code


def is_village_code(code: str) -> bool:
    return code_problem(code) is None and code[6:9] != "000" and code[9:] != "000"


def validate_village_code(code: str, field: str = "region_code") -> str:
    validate_code(code, field)
    if not is_village_code(code):
        raise InvalidArgument.field(field, "must be a village code: township and village digits set")
    return code


def scope_prefix(code: str) -> str:
    """The scope prefix a code stands for: trailing zero levels dropped.

    >>> scope_prefix("130123000000"), scope_prefix("130123101000"), scope_prefix("130123101201")
    ('130123', '130123101', '130123101201')
    """
    if code[9:] != "000":
        return code
    if code[6:9] != "000":
        return code[:9]
    return code[:6]


def validate_prefix(prefix: str, field: str = "region_code_prefix") -> str:
    if not _PREFIX.fullmatch(prefix):
        raise InvalidArgument.field(field, "must be up to 12 digits of a division code")
    return prefix


class RegionScope:
    """What part of the administrative tree a caller may see and change.

    An empty scope sees nothing: a caller must be given a scope explicitly.
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str | None) -> None:
        if prefix is not None and prefix and not _PREFIX.fullmatch(prefix):
            raise ValueError(f"invalid region scope {prefix!r}")
        self.prefix = prefix or None

    @property
    def is_empty(self) -> bool:
        return self.prefix is None

    def covers(self, code: str) -> bool:
        return self.prefix is not None and code.startswith(self.prefix)

    def require_covers(self, code: str, what: str = "record") -> None:
        if not self.covers(code):
            raise PermissionDenied(f"{what} in region {code} is outside the caller's scope")

    def in_order(self, ids: Sequence[str], rows: Mapping[str, R]) -> list[R]:
        """The rows of a batch read in the order asked, leaving out unknown ids and rows
        outside the scope alike (a batch never tells which of the two an id was)."""
        return [rows[i] for i in ids if i in rows and self.covers(rows[i].region_code)]

    def narrow(self, prefix: str, field: str = "region_code_prefix") -> str | None:
        """The effective prefix for a list filtered by ``prefix``, or None for nothing.

        A filter wider than the scope is narrowed to the scope; a filter outside it
        is refused.
        """
        validate_prefix(prefix, field)
        if self.prefix is None:
            return None
        if not prefix or self.prefix.startswith(prefix):
            return self.prefix
        if prefix.startswith(self.prefix):
            return prefix
        raise PermissionDenied(f"{field} {prefix} is outside the caller's scope")

    def __repr__(self) -> str:
        return f"RegionScope({self.prefix!r})"
