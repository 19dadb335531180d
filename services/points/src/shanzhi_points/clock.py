"""The service's clock: one place that says what time and what day it is.

Business days (the day a claim's publicity window closes, the day a lot expires,
the year a cycle belongs to) are calendar days in China Standard Time (UTC+8,
no daylight saving). Tests swap in a :class:`ManualClock` to move time forward
without waiting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol

from shanzhi_kit.values import aware

#: China Standard Time (北京时间).
CHINA = timezone(timedelta(hours=8), "CST")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def today(self) -> date:
        """Today's date in China Standard Time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(CHINA).date()


class ManualClock:
    """A clock that follows the real one shifted by an offset tests can move."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def today(self) -> date:
        return self.now().astimezone(CHINA).date()

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def set(self, instant: datetime) -> None:
        """Make ``now()`` be ``instant`` (and run on from there)."""
        self.offset = instant - datetime.now(UTC)

    def reset(self) -> None:
        self.offset = timedelta(0)


def china_date(instant: datetime) -> date:
    """The calendar day in China of an instant (naive instants are taken as UTC)."""
    return aware(instant).astimezone(CHINA).date()
