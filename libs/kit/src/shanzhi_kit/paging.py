"""Keyset paging for list RPCs (shanzhi.common.v1.PageRequest / PageInfo).

A page token carries the sort key of the last row returned, so pages stay
stable while rows are added, and no query uses OFFSET.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shanzhi.common.v1 import paging_pb2
from sqlalchemy import ColumnElement, tuple_

from shanzhi_kit.errors import InvalidArgument

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


def page_of(
    request: paging_pb2.PageRequest, field: str = "page", key_types: tuple[type, ...] = (str,)
) -> Page:
    """The page a request asks for; ``key_types`` are the types of the sort key's parts."""
    size = request.page_size or DEFAULT_PAGE_SIZE
    if request.page_size < 0 or request.page_size > MAX_PAGE_SIZE:
        raise InvalidArgument.field(f"{field}.page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
    after = None
    if request.page_token:
        try:
            after = json.loads(base64.urlsafe_b64decode(request.page_token.encode()))
            if (
                not isinstance(after, list)
                or len(after) != len(key_types)
                or not all(isinstance(v, t) for v, t in zip(after, key_types, strict=True))
            ):
                raise ValueError
        except ValueError:
            raise InvalidArgument.field(
                f"{field}.page_token", "is not a token this service returned"
            ) from None
    return Page(size=size, after=after)
