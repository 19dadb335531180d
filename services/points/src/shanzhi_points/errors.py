"""Errors the points service adds to the kit's.

A well-formed request the current state refuses (a limit reached, a claim in the
wrong state, too few points) is FAILED_PRECONDITION. The kit attaches field
details (google.rpc.BadRequest) only to invalid-argument errors, so
:class:`StateRefused` is one of those with the FAILED_PRECONDITION code: the
caller gets the right status and still learns which field the refusal is about.
:class:`OutOfScope` does the same for PERMISSION_DENIED.
"""

from __future__ import annotations

import grpc
from shanzhi_kit.errors import FieldViolation, InvalidArgument
from shanzhi_kit.regions import RegionScope


class StateRefused(InvalidArgument):
    """FAILED_PRECONDITION naming the field whose value the current state refuses."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, field: str, description: str) -> None:
        super().__init__(FieldViolation(field, description))
        self.message = f"{field}: {description}"
        self.args = (self.message,)


def refused(field: str, description: str) -> StateRefused:
    return StateRefused(field, description)


def unknown(field: str, description: str) -> InvalidArgument:
    """A request names something that does not exist (an unknown subject, item or scheme)."""
    return InvalidArgument.field(field, description)


class OutOfScope(InvalidArgument):
    """PERMISSION_DENIED naming the field whose region lies outside the caller's scope."""

    code = grpc.StatusCode.PERMISSION_DENIED

    def __init__(self, field: str, region_code: str) -> None:
        description = f"region {region_code} is outside the caller's scope"
        super().__init__(FieldViolation(field, description))
        self.message = f"{field}: {description}"
        self.args = (self.message,)


def require_scope(scope: RegionScope, region_code: str, field: str) -> None:
    """Refuse a request about a region the caller may not see or change."""
    if not scope.covers(region_code):
        raise OutOfScope(field, region_code)
