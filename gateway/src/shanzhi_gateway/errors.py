"""Errors the gateway shows to clients, and the rule that masks every other error.

A service answers a bad call with a gRPC status code and, for invalid input, a
``google.rpc.BadRequest`` detail listing each wrong field. The gateway turns that
into a GraphQL error whose ``extensions`` carry the status name as ``code`` and the
field violations as ``fieldViolations`` (field paths in camelCase, as in the
GraphQL input). Any other exception raised while resolving a query is masked as
"Unexpected error." so internals never reach the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from graphql import GraphQLError

log = logging.getLogger("shanzhi.gateway.errors")

STATUS_DETAILS_KEY = "grpc-status-details-bin"

#: Status codes whose message a service writes for its caller: shown as they are.
CLIENT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)

#: Messages shown instead of the service's own for the other codes.
_GENERIC_MESSAGES = {
    grpc.StatusCode.UNAVAILABLE: "A service is unavailable; try again later.",
    grpc.StatusCode.DEADLINE_EXCEEDED: "A service did not answer in time; try again later.",
    grpc.StatusCode.CANCELLED: "The call was cancelled.",
}
UNEXPECTED = "Unexpected error."


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: its path and what is wrong with it."""

    field: str
    description: str


class GatewayError(GraphQLError):
    """An error meant for the client; never masked.

    ``extensions`` = ``{"code": <gRPC status name>, "fieldViolations": [{field, description}]}``
    (``fieldViolations`` only when there are any).
    """

    def __init__(
        self,
        message: str,
        code: str,
        field_violations: Sequence[FieldViolation] = (),
    ) -> None:
        extensions: dict[str, Any] = {"code": code}
        if field_violations:
            extensions["fieldViolations"] = [
                {"field": v.field, "description": v.description} for v in field_violations
            ]
        super().__init__(message, extensions=extensions)
        self.code = code
        self.field_violations = tuple(field_violations)


def unauthenticated(message: str) -> GatewayError:
    return GatewayError(message, "UNAUTHENTICATED")


def invalid_argument(field: str, description: str) -> GatewayError:
    return GatewayError(
        f"invalid request: {field}: {description}",
        "INVALID_ARGUMENT",
        [FieldViolation(field, description)],
    )


_SNAKE = re.compile(r"_([a-z0-9])")


def camel_case_path(path: str) -> str:
    """A proto field path in the GraphQL spelling.

    >>> camel_case_path("target_region_codes[1]"), camel_case_path("page.page_size")
    ('targetRegionCodes[1]', 'page.pageSize')
    """
    return _SNAKE.sub(lambda m: m.group(1).upper(), path)


def status_from_metadata(
    metadata: Iterable[tuple[str, str | bytes]] | None,
) -> status_pb2.Status | None:
    """The google.rpc.Status a server put in the trailing metadata, if any."""
    for key, value in metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except Exception:
                log.warning("unreadable %s in a service's answer", STATUS_DETAILS_KEY)
                return None
    return None


def field_violations(status: status_pb2.Status) -> list[FieldViolation]:
    """The field violations of every google.rpc.BadRequest detail in ``status``."""
    violations: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(
                FieldViolation(camel_case_path(v.field), v.description) for v in bad_request.field_violations
            )
    return violations


def from_rpc_error(error: grpc.aio.AioRpcError, method: str = "") -> GatewayError:
    """The client-facing error for a failed call to a service."""
    code: grpc.StatusCode = error.code()
    if code not in CLIENT_CODES:
        # Only the method and the code: details may carry addresses or internals.
        log.warning("call %s failed: %s", method or "to a service", code.name)
        return GatewayError(_GENERIC_MESSAGES.get(code, UNEXPECTED), code.name)
    status = status_from_metadata(error.trailing_metadata())
    violations: list[FieldViolation] = []
    message = error.details() or ""
    if status is not None and status.code == code.value[0]:
        violations = field_violations(status)
        message = status.message or message
    return GatewayError(message or code.name.replace("_", " ").lower(), code.name, violations)


def should_mask_error(error: GraphQLError) -> bool:
    """Mask every error raised while resolving, except the gateway's own client errors.

    Errors without an underlying exception come from parsing and validating the
    query (syntax, unknown fields, limits), and errors without a path from reading the
    variables (a date that does not exist, an enum value that is not one): they are
    about the request and stay visible, naming the variable and where in it.
    """
    original = error.original_error
    if original is None or error.path is None:
        return False
    return not isinstance(original, GatewayError)
