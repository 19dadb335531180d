"""Errors a service raises, mapped to gRPC status codes with google.rpc details.

Domain and API code raise these; the server interceptor turns them into the
status code and, for invalid input, a ``google.rpc.BadRequest`` listing every
field violation, so clients can point at the field that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Self

import grpc


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path in the request and what is wrong with it."""

    field: str
    description: str


class ServiceError(Exception):
    """Base of the errors that reach the caller with a status code.

    Any error may name the fields it is about (``violations``); they reach the
    caller as a ``google.rpc.BadRequest`` detail whatever the status code, so a
    FAILED_PRECONDITION or PERMISSION_DENIED can point at the field too.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, violations: list[FieldViolation] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.violations = list(violations or [])

    @classmethod
    def about(cls, field: str, description: str) -> Self:
        """This error, about one field: ``FailedPrecondition.about("quantity", "…")``."""
        error = cls.__new__(cls)
        ServiceError.__init__(error, f"{field}: {description}", [FieldViolation(field, description)])
        return error


class InvalidArgument(ServiceError):
    """The request is malformed; nothing was changed."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        if isinstance(violations, FieldViolation):
            violations = [violations]
        text = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid request: {text}", list(violations))

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND

    def __init__(self, kind: str, ident: str, field: str | None = None) -> None:
        """``field``, when given, is the request field that named it, as a violation."""
        violations = [FieldViolation(field, f"no {kind} has this id")] if field else None
        super().__init__(f"{kind} {ident!r} not found", violations)
        self.kind, self.ident = kind, ident


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(ServiceError):
    """The request is well formed but the system is not in a state to accept it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ServiceError):
    """A concurrent change won; the caller may retry."""

    code = grpc.StatusCode.ABORTED


class Validator:
    """Collects field violations so one error names every wrong field.

    >>> v = Validator()
    >>> v.require("name", "")
    >>> v.violations[0].field
    'name'
    """

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def require(self, field: str, value: object) -> None:
        if value in ("", None, 0) or (isinstance(value, str) and not value.strip()):
            self.add(field, "is required")

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self.add(field, description)

    def date_field(self, field: str, value: str, *, required: bool = True) -> date | None:
        """Parse a "YYYY-MM-DD" field, recording a violation instead of raising."""
        from shanzhi_kit.values import parse_date

        try:
            return parse_date(value, field, required=required)
        except InvalidArgument as exc:
            self.violations.extend(exc.violations)
            return None

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)
