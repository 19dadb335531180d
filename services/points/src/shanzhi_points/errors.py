"""Errors the points service adds to the kit's.

A well-formed request the current state refuses (a limit reached, a claim in the
wrong state, too few points) is FAILED_PRECONDITION; a region outside the
caller's scope is PERMISSION_DENIED. Both name the field they are about, so the
caller learns which value was refused (a google.rpc.BadRequest detail).
"""

from __future__ import annotations

from shanzhi_kit.errors import FailedPrecondition, InvalidArgument, PermissionDenied, ServiceError
from shanzhi_kit.regions import RegionScope


def refused(field: str, description: str) -> ServiceError:
    """FAILED_PRECONDITION naming the field whose value the current state refuses."""
    return FailedPrecondition.about(field, description)


def unknown(field: str, description: str) -> InvalidArgument:
    """A request names something that does not exist (an unknown subject, item or scheme)."""
    return InvalidArgument.field(field, description)


def require_scope(scope: RegionScope, region_code: str, field: str) -> None:
    """Refuse a request about a region the caller may not see or change."""
    if not scope.covers(region_code):
        raise PermissionDenied.about(field, f"region {region_code} is outside the caller's scope")
