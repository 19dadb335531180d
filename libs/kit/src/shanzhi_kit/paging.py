"""Keyset paging for list RPCs (shanzhi.common.v1.PageRequest / PageInfo).

A page token carries the sort key of the last row returned, so pages stay
stable while rows are added, and no query uses OFFSET.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shanzhi.common.v1 import paging_pb2
from sqlalchemy import ColumnElement, tuple_

from shanzhi_kit.errors import InvalidArgument
from shanzhi_kit.values import calendar_date

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Page:
    size: int
    after: list[Any] | None

    def condition(self, *columns: Any) -> ColumnElement[bool] | None:
        """Rows strictly after the token's key, for ``columns`` in ascending order."""
        if self.after is None:
            return None
        if len(columns) == 1:
            return columns[0] > self.after[0]
        return tuple_(*columns) > tuple_(*self.after)

    def info(self, rows: Sequence[Any], key: Any) -> paging_pb2.PageInfo:
        """PageInfo for ``rows`` (fetched with ``limit=size + 1``); ``key(row)`` gives its sort key."""
        if len(rows) <= self.size:
            return paging_pb2.PageInfo()
        last = list(key(rows[self.size - 1]))
        token = base64.urlsafe_b64encode(json.dumps(last).encode()).decode()
        return paging_pb2.PageInfo(next_page_token=token)


#: A token this service returned is far shorter; anything longer is refused unread.
MAX_TOKEN_LENGTH = 1024
_INT64 = range(-(2**63), 2**63)


def _key_part(value: Any, kind: type) -> Any:
    """One part of a token's key as ``kind``; ValueError if it cannot be one."""
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
            raise ValueError
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError
    if kind is datetime:
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:  # every stored time has its zone
            raise ValueError
        return stamp
    if kind is date:
        return calendar_date(value)
    if kind is not str:
        raise TypeError(f"page keys are str, int, date or datetime, not {kind.__name__}")
    return value


def page_of(
    request: paging_pb2.PageRequest, field: str = "page", key_types: tuple[type, ...] = (str,)
) -> Page:
    """The page a request asks for; ``key_types`` are the types of the sort key's parts.

    A token holds its key as JSON: strings, integers, and dates and times as ISO strings,
    which come back as :class:`date` and :class:`datetime`. A token that is not one this
    service could have returned (undecodable, the wrong shape, an integer beyond 64 bits,
    a string with a NUL) is refused as INVALID_ARGUMENT naming ``page.page_token``.
    """
    size = request.page_size or DEFAULT_PAGE_SIZE
    if request.page_size < 0 or request.page_size > MAX_PAGE_SIZE:
        raise InvalidArgument.field(f"{field}.page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
    after = None
    if request.page_token:
        try:
            if len(request.page_token) > MAX_TOKEN_LENGTH:
                raise ValueError
            decoded = json.loads(base64.urlsafe_b64decode(request.page_token.encode()))
            if not isinstance(decoded, list) or len(decoded) != len(key_types):
                raise ValueError
            after = [_key_part(v, t) for v, t in zip(decoded, key_types, strict=True)]
        except (ValueError, RecursionError):
            raise InvalidArgument.field(
                f"{field}.page_token", "is not a token this service returned"
            ) from None
    return Page(size=size, after=after)
