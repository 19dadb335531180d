"""Shared pieces of the schema: conversions, paging, argument checks, the viewer."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Any, TypeAlias, TypeVar

import strawberry
from google.protobuf.timestamp_pb2 import Timestamp
from shanzhi.common.v1 import paging_pb2

from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.errors import invalid_argument

#: The resolver ``info`` of this schema.
Info: TypeAlias = strawberry.Info[GatewayContext, None]

#: Most items one page may hold (shanzhi.common.v1.PageRequest).
MAX_PAGE_SIZE = 500

# Descriptions used by many types and arguments.
REGION_CODE_PREFIX = (
    "Only records whose division code (行政区划代码) starts with this prefix; "
    "empty or omitted means your whole region scope (管辖范围)."
)
CREATE_TIME = "When the record was created (创建时间)."
CREATED_BY = "Who created the record (创建人, 留痕): the user id."
FIRST = f"Page size (每页条数): 1 to {MAX_PAGE_SIZE}; omitted means the service default (50)."
AFTER = "The nextPageToken of the previous page (分页游标); omitted for the first page."
NEXT_PAGE_TOKEN = "Pass as `after` to get the next page (下一页游标); null on the last page."
ITEMS = "The records on this page (本页记录)."
REQUEST_ID = (
    "Idempotency key (请求编号) chosen by the client, e.g. a UUID: "
    "a retry with the same key returns the first answer and changes nothing."
)

RegionCodePrefixArg = Annotated[str, strawberry.argument(description=REGION_CODE_PREFIX)]
FirstArg = Annotated[int | None, strawberry.argument(description=FIRST)]
AfterArg = Annotated[str | None, strawberry.argument(description=AFTER)]
RequestIdArg = Annotated[str, strawberry.argument(description=REQUEST_ID)]


def id_arg(what: str) -> Any:
    """The description of an ``id`` argument naming one ``what``."""
    return strawberry.argument(description=f"The {what}'s id (编号).")


def require_id(value: str, field: str = "id") -> str:
    """``value`` as the services spell ids (a lowercase UUID), or an INVALID_ARGUMENT error."""
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        canonical = ""
    if canonical != value.lower():
        raise invalid_argument(field, "must be an id (UUID)")
    return canonical


def page_request(first: int | None, after: str | None) -> paging_pb2.PageRequest:
    if first is not None and not 1 <= first <= MAX_PAGE_SIZE:
        raise invalid_argument("first", f"must be between 1 and {MAX_PAGE_SIZE}")
    return paging_pb2.PageRequest(page_size=first or 0, page_token=after or "")


def next_token(page_info: paging_pb2.PageInfo) -> str | None:
    return page_info.next_page_token or None


def to_date(text: str) -> dt.date | None:
    """A proto "YYYY-MM-DD" string as a date; ``None`` when empty."""
    return dt.date.fromisoformat(text) if text else None


def require_date(text: str) -> dt.date:
    value = to_date(text)
    if value is None:
        raise ValueError("a required date is missing in a service's answer")
    return value


def date_text(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def to_datetime(timestamp: Timestamp) -> dt.datetime:
    return timestamp.ToDatetime(tzinfo=dt.UTC)


#: A generated proto enum (``talent_pb2.PostRole``): offers ``Name(number)`` and ``Value(name)``.
ProtoEnum: TypeAlias = Any

E = TypeVar("E", bound=Enum)


def _prefix(proto_enum: ProtoEnum) -> str:
    # Proto enum values carry the enum's name as prefix: POST_ROLE_UNSPECIFIED = 0.
    return proto_enum.Name(0).removesuffix("UNSPECIFIED")


def enum_from_name(enum: type[E], proto_enum: ProtoEnum, name: str) -> E | None:
    """The GraphQL enum member for a proto enum value name; ``None`` if unspecified."""
    short = name.removeprefix(_prefix(proto_enum))
    return enum.__members__.get(short)


def enum_from_pb(enum: type[E], proto_enum: ProtoEnum, number: int) -> E | None:
    """The GraphQL enum member for a proto enum number; ``None`` if unspecified or unknown."""
    try:
        name = proto_enum.Name(number)
    except ValueError:
        return None
    return enum_from_name(enum, proto_enum, name)


def require_enum(enum: type[E], proto_enum: ProtoEnum, number: int) -> E:
    member = enum_from_pb(enum, proto_enum, number)
    if member is None:
        raise ValueError(f"a service answered an unset or unknown {enum.__name__}")
    return member


def enum_to_pb(member: Enum | None, proto_enum: ProtoEnum) -> Any:
    """The proto enum number of a GraphQL enum member (0, unspecified, for None)."""
    if member is None:
        return 0
    return proto_enum.Value(_prefix(proto_enum) + member.name)


@strawberry.type(description="Viewer (当前用户): the authenticated caller of this request.")
class Viewer:
    subject: str = strawberry.field(description="User id (用户编号) from the token's `sub`.")
    name: str = strawberry.field(description="Display name (姓名) from the token.")
    roles: list[str] = strawberry.field(
        description="Roles (角色), e.g. county_officer (县级干部), village_clerk (村级文书)."
    )
    region_scope: str | None = strawberry.field(
        description=(
            "Region scope (管辖范围): the division-code prefix you may see; "
            "null means an empty scope that sees nothing."
        )
    )


@strawberry.type
class CommonQuery:
    @strawberry.field(description="The authenticated caller (当前用户).")
    def viewer(self, info: Info) -> Viewer:
        caller = info.context.caller
        return Viewer(
            subject=caller.subject,
            name=caller.name,
            roles=sorted(caller.roles),
            region_scope=caller.scope.prefix,
        )
