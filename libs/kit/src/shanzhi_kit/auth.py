"""The caller's identity: who, with which roles, over which region.

The gateway authenticates users with a JWT bearer token and passes the same
token to services in the ``authorization`` gRPC metadata; every service checks
it again, so an integrator calling gRPC directly is held to the same rules.

Token claims: ``sub`` (user id), ``name``, ``roles`` (list of role names) and
``region`` (the region-scope prefix of 行政区划代码). A missing ``region`` gives
an empty scope, which sees nothing.
"""

from __future__ import annotations

import contextvars
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt

from shanzhi_kit.errors import PermissionDenied, Unauthenticated
from shanzhi_kit.regions import SCOPE_LENGTHS, RegionScope
from shanzhi_kit.settings import AuthSettings

#: Roles known across the suite.
ROLE_ADMIN = "admin"  # 系统管理员
ROLE_COUNTY_OFFICER = "county_officer"  # 县级干部
ROLE_ORGANIZATION_DEPT = "organization_dept"  # 组织部: may see full ID numbers
ROLE_TOWNSHIP_OFFICER = "township_officer"  # 乡镇干部
ROLE_VILLAGE_CLERK = "village_clerk"  # 村级文书
ROLE_GRID_WORKER = "grid_worker"  # 网格员
ROLE_AUDITOR = "auditor"  # 巡察/审计人员
ROLE_VIEWER = "viewer"  # 只读


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    scope: RegionScope = field(default_factory=lambda: RegionScope(None))
    name: str = ""
    token: str = ""

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles)) or ROLE_ADMIN in self.roles

    def require_role(self, *roles: str) -> None:
        if not self.has_any_role(roles):
            raise PermissionDenied(f"this call needs one of the roles: {', '.join(roles)}")


SYSTEM = Caller(subject="system", roles=frozenset({ROLE_ADMIN}), scope=RegionScope(""))

_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "shanzhi_caller", default=None
)


def current_caller() -> Caller:
    caller = _current.get()
    if caller is None:
        raise Unauthenticated("no authenticated caller")
    return caller


def set_current_caller(caller: Caller | None) -> contextvars.Token[Caller | None]:
    return _current.set(caller)


def reset_current_caller(token: contextvars.Token[Caller | None]) -> None:
    _current.reset(token)


#: The longest caller id (the token's ``sub``) a service records.
MAX_SUBJECT = 200


class TokenVerifier:
    """Verifies bearer tokens with the configured key and returns the caller."""

    #: Verified tokens kept, so a caller's repeated calls skip the signature check.
    CACHE_SIZE = 4096

    def __init__(self, settings: AuthSettings) -> None:
        self._cache: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._key = settings.verification_key()
        self._algorithms = settings.algorithm_list()
        self._issuer = settings.issuer or None
        self._audience = settings.audience or None

    def verify(self, token: str) -> Caller:
        cached = self._cache.get(token)
        if cached is not None and cached[0] > time.time():
            self._cache.move_to_end(token)
            return cached[1]
        caller, expires = self._verify(token)
        self._cache[token] = (expires, caller)
        if len(self._cache) > self.CACHE_SIZE:
            self._cache.popitem(last=False)
        return caller

    def _verify(self, token: str) -> tuple[Caller, float]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from None
        subject = str(claims["sub"])
        # Stored as created_by and with every idempotency key (200 characters at most).
        if not 0 < len(subject) <= MAX_SUBJECT or not subject.isprintable():
            raise Unauthenticated(
                f"invalid bearer token: sub must be 1 to {MAX_SUBJECT} printable characters")
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthenticated("invalid bearer token: roles must be a list of strings")
        region = claims.get("region")
        if region is not None and not isinstance(region, str):
            raise Unauthenticated("invalid bearer token: region must be a string")
        try:
            scope = RegionScope(region)
        except ValueError:
            raise Unauthenticated("invalid bearer token: region is not a division code") from None
        if region and len(region) not in SCOPE_LENGTHS:
            # "13012" would cover ten counties; a scope is one whole division.
            raise Unauthenticated("invalid bearer token: region must be a whole division: "
                                  f"{', '.join(map(str, SCOPE_LENGTHS))} digits")
        caller = Caller(
            subject=subject,
            roles=frozenset(roles),
            scope=scope,
            name=str(claims.get("name", "")),
            token=token,
        )
        return caller, float(claims["exp"])

    def from_authorization(self, header: str | None) -> Caller:
        if not header:
            raise Unauthenticated("missing authorization: send 'Bearer <token>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("authorization must be 'Bearer <token>'")
        return self.verify(token.strip())


def issue_token(
    secret: str,
    subject: str,
    roles: Iterable[str],
    region: str,
    *,
    name: str = "",
    ttl_seconds: int = 3600,
    algorithm: str = "HS256",
) -> str:
    """Sign a token with a shared secret (development, demo data and tests)."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "name": name,
        "roles": sorted(roles),
        "region": region,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=algorithm)
