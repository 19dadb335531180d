"""The gateway's one GraphQL schema, organised by domain.

- ``common``: the viewer (当前用户), shared conversions and paging.
- ``talent``: people and posts (人才/干部).
- ``points``: households (积分制, 一户一档).
- ``lists``: the five lists (五项清单).
- ``audit``: inspection rounds and the audit schedule (巡察/审计).
- ``subscriptions``: live domain events from Kafka (订阅, 领域事件).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types import ExecutionContext

from shanzhi_gateway.errors import UNEXPECTED, should_mask_error
from shanzhi_gateway.schema.audit import AuditMutation, AuditQuery
from shanzhi_gateway.schema.common import CommonQuery
from shanzhi_gateway.schema.lists import ListsMutation, ListsQuery
from shanzhi_gateway.schema.points import PointsMutation, PointsQuery
from shanzhi_gateway.schema.subscriptions import Subscription
from shanzhi_gateway.schema.talent import TalentMutation, TalentQuery
from shanzhi_gateway.settings import GatewaySettings
from shanzhi_gateway.tracing import OperationSpan

log = logging.getLogger("shanzhi.gateway.schema")


@strawberry.type(
    description=(
        "Reads (查询) across the services: talent (人才/干部), points (积分制), "
        "the five lists (五项清单) and audit (巡察/审计). Every read is bounded by "
        "your region scope (管辖范围)."
    )
)
class Query(CommonQuery, TalentQuery, PointsQuery, ListsQuery, AuditQuery):
    pass


@strawberry.type(
    description=(
        "Changes (操作). Each takes a requestId (请求编号): a retry with the same id "
        "returns the first answer and changes nothing."
    )
)
class Mutation(TalentMutation, PointsMutation, ListsMutation, AuditMutation):
    pass


#: Date scalars as strawberry defines them, described for this schema.
SCALARS: dict[object, object] = {
    dt.date: dataclasses.replace(DateDefinition, description='Calendar date (日期), ISO 8601 "YYYY-MM-DD".'),
    dt.datetime: dataclasses.replace(
        DateTimeDefinition,
        description='Date and time (时间), ISO 8601 with offset, e.g. "2026-03-01T08:00:00+00:00".',
    ),
}


class GatewaySchema(strawberry.Schema):
    """The schema, logging unexpected errors (before they are masked) with their traceback."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        for error in errors:
            if should_mask_error(error):
                log.error(
                    "unexpected error at %s",
                    ".".join(str(p) for p in error.path or ()) or "-",
                    exc_info=error.original_error,
                )


def build_schema(settings: GatewaySettings | None = None) -> strawberry.Schema:
    """The schema with the limits and error masking of ``settings`` (defaults if None)."""
    settings = settings or GatewaySettings()
    max_depth, max_tokens, max_aliases = (
        settings.max_depth,
        settings.max_tokens,
        settings.max_aliases,
    )
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        OperationSpan,
        lambda: MaskErrors(should_mask_error=should_mask_error, error_message=UNEXPECTED),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides=SCALARS,  # type: ignore[arg-type]
    )


#: The schema with default settings, for the SDL export.
schema = build_schema(GatewaySettings())
