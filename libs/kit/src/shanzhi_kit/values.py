"""Small value helpers shared by the services: ids, times, dates and ids lists."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import uuid_utils
from google.protobuf import timestamp_pb2

from shanzhi_kit.errors import InvalidArgument

MAX_BATCH = 1000


# uuid-utils draws its random bits from a generator in the process: a forked child must
# draw others than its parent.
os.register_at_fork(after_in_child=uuid_utils.reseed_rng)


def new_id() -> str:
    """A new id: a time-ordered UUID (version 7, RFC 9562) in canonical text form.

    Its first 48 bits are the time in milliseconds, then come a counter that keeps one
    millisecond's ids in order and random bits. Ids made one after another sort
    together: the unique indexes of entries, lots and outbox events take each new id
    next to the last one instead of on a random page, so a batch's index writes stay on
    a few pages.
    """
    return str(uuid_utils.uuid7())


def utcnow() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SECOND = timedelta(seconds=1)


def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp; naive datetimes (SQLite) are taken as UTC.

    The same as ``Timestamp.FromDatetime``, in a fraction of its time: every entry,
    event and answer carries one.
    """
    value = aware(value)
    return timestamp_pb2.Timestamp(seconds=(value - _EPOCH) // _SECOND,
                                   nanos=value.microsecond * 1000)


def calendar_date(value: str) -> date:
    """An ISO 8601 calendar date, "YYYY-MM-DD" only; ValueError for anything else.

    ``date.fromisoformat`` also takes week dates ("2026-W01-1" is 2025-12-29) and, on
    some inputs, other forms: a day asked for must be written as one.
    """
    if not _CALENDAR_DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not YYYY-MM-DD")
    return date.fromisoformat(value)


def aware(value: datetime) -> datetime:
    """``value`` with its zone; naive datetimes (as SQLite returns them) are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_date(value: str, field: str, *, required: bool = True) -> date | None:
    """Parse an ISO 8601 calendar date ("YYYY-MM-DD")."""
    if not value:
        if required:
            raise InvalidArgument.field(field, "is required (YYYY-MM-DD)")
        return None
    try:
        return calendar_date(value)
    except ValueError:
        raise InvalidArgument.field(field, f"{value!r} is not a date in the form YYYY-MM-DD") from None


def format_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def valid_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def require_id(value: str, field: str = "id") -> str:
    if not value:
        raise InvalidArgument.field(field, "is required")
    if not valid_uuid(value):
        raise InvalidArgument.field(field, f"{value!r} is not a valid id (UUID)")
    return value.lower()


def batch_ids(ids: Sequence[str], field: str = "ids") -> list[str]:
    """Validate a batch of ids: at most MAX_BATCH, each a UUID; duplicates kept once."""
    if len(ids) > MAX_BATCH:
        raise InvalidArgument.field(field, f"at most {MAX_BATCH} ids per call")
    bad = [i for i, v in enumerate(ids) if not valid_uuid(v)]
    if bad:
        raise InvalidArgument.field(f"{field}[{bad[0]}]", f"{ids[bad[0]]!r} is not a valid id (UUID)")
    return list(dict.fromkeys(v.lower() for v in ids))
