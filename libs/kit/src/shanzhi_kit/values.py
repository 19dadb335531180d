"""Small value helpers shared by the services: ids, times, dates and ids lists."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from google.protobuf import timestamp_pb2

from shanzhi_kit.errors import InvalidArgument

MAX_BATCH = 1000


_VARIANT = "89ab"

#: Random bytes (as hex) that ids are cut from, per thread: reading the system's random
#: source once for many ids, since each read is a system call.
_RANDOM = threading.local()
_IDS_PER_READ = 256


def _forget_random() -> None:
    # A forked child must not hand out the ids its parent is about to hand out.
    global _RANDOM
    _RANDOM = threading.local()


os.register_at_fork(after_in_child=_forget_random)


def new_id() -> str:
    """A random UUID (version 4) in canonical text form, as ``str(uuid.uuid4())`` gives.

    Formatted straight from random bytes, read from the system's random source for 256
    ids at a time: a batch makes two ids per line, and this takes about a third of the
    time of ``uuid.uuid4()``.
    """
    local = _RANDOM
    at = getattr(local, "at", 32 * _IDS_PER_READ)
    if at >= 32 * _IDS_PER_READ:
        local.hex = os.urandom(16 * _IDS_PER_READ).hex()
        at = 0
    local.at = at + 32
    h = local.hex[at:at + 32]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp; naive datetimes (SQLite) are taken as UTC.

    The same as ``Timestamp.FromDatetime``, in a fraction of its time: every entry,
    event and answer carries one.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return timestamp_pb2.Timestamp(seconds=(value - _EPOCH) // _SECOND,
                                   nanos=value.microsecond * 1000)


def parse_date(value: str, field: str, *, required: bool = True) -> date | None:
    """Parse an ISO 8601 calendar date ("YYYY-MM-DD")."""
    if not value:
        if required:
            raise InvalidArgument.field(field, "is required (YYYY-MM-DD)")
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
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
