"""Limits against abusive queries: depth, tokens, aliases; introspection stays usable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from graphql import get_introspection_query
from pydantic import SecretStr
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import build_schema, schema
from shanzhi_gateway.settings import GatewaySettings
from shanzhi_kit.settings import AuthSettings

if TYPE_CHECKING:
    from conftest import Fakes


def _nested(depth: int) -> str:
    """people → items → posts → person → posts → person … reaching ``depth`` levels."""
    path = ["people", "items"]
    while len(path) < depth:
        path.append("posts" if len(path) % 2 == 0 else "person")
    query = "id"
    for name in reversed(path):
        query = f"{name} {{ {query} }}"
    return f"{{ {query} }}"


async def test_depth_limit_rejects_deep_queries(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    result = await schema.execute(_nested(14), context_value=context_for(f"Bearer {token}"))
    assert result.data is None
    assert result.errors
    assert "exceeds maximum operation depth of 10" in result.errors[0].message
    assert fakes.all_calls() == []


async def test_depth_limit_lets_reasonable_queries_through(
    context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    result = await schema.execute(_nested(6), context_value=context_for(f"Bearer {token}"))
    assert result.errors is None


async def test_alias_limit_rejects_alias_floods(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fields = " ".join(f"a{i}: viewer {{ subject }}" for i in range(31))
    result = await schema.execute(f"{{ {fields} }}", context_value=context_for(f"Bearer {token}"))
    assert result.data is None
    assert result.errors
    assert result.errors[0].message == "31 aliases found. Allowed: 30"


async def test_token_limit_rejects_huge_documents(
    context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fields = " ".join(["subject"] * 2100)
    result = await schema.execute(
        f"{{ viewer {{ {fields} }} }}", context_value=context_for(f"Bearer {token}")
    )
    assert result.data is None
    assert result.errors
    assert "more than 2000 tokens" in result.errors[0].message


async def test_limits_follow_the_settings(
    context_for: Callable[[str | None], GatewayContext],
) -> None:
    strict = build_schema(
        GatewaySettings(
            auth=AuthSettings(secret=SecretStr("another-test-secret-of-32-bytes-or-more")),
            max_depth=2,
            max_aliases=1,
        )
    )
    result = await strict.execute(_nested(4), context_value=context_for(None))
    assert result.errors
    assert "exceeds maximum operation depth of 2" in result.errors[0].message
    result = await strict.execute(
        "{ a: viewer { name } b: viewer { name } }", context_value=context_for(None)
    )
    assert result.errors
    assert result.errors[0].message == "2 aliases found. Allowed: 1"


async def test_full_introspection_query_passes_the_limits(
    context_for: Callable[[str | None], GatewayContext],
) -> None:
    result = await schema.execute(get_introspection_query(descriptions=True), context_value=context_for(None))
    assert result.errors is None
    assert result.data is not None
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_can_be_turned_off(
    context_for: Callable[[str | None], GatewayContext],
) -> None:
    closed = build_schema(
        GatewaySettings(
            auth=AuthSettings(secret=SecretStr("another-test-secret-of-32-bytes-or-more")),
            introspection=False,
        )
    )
    result = await closed.execute("{ __schema { queryType { name } } }", context_value=context_for(None))
    assert result.errors
    assert "introspection" in result.errors[0].message.lower()
