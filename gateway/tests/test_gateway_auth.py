"""Authentication: a bearer token is needed for data; the schema stays introspectable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema
from shanzhi_kit.auth import issue_token

if TYPE_CHECKING:
    from conftest import Fakes

PEOPLE = "{ people { items { id name } } }"


async def test_query_without_token_is_refused(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext]
) -> None:
    result = await schema.execute(PEOPLE, context_value=context_for(None))
    assert result.data is None
    assert result.errors is not None
    error = result.errors[0]
    assert error.extensions == {"code": "UNAUTHENTICATED"}
    assert "authorization" in error.message
    assert fakes.all_calls() == []


async def test_bad_tokens_are_refused(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext]
) -> None:
    forged = issue_token("some-other-secret-of-at-least-32-bytes", "x", ["admin"], "130123")
    expired = issue_token(
        "gateway-test-secret-of-at-least-32-bytes", "x", ["admin"], "130123", ttl_seconds=-60
    )
    for header in ["Basic dXNlcjpwdw==", f"Bearer {forged}", f"Bearer {expired}", "Bearer "]:
        result = await schema.execute(PEOPLE, context_value=context_for(header))
        assert result.errors is not None, header
        assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}, header
    assert fakes.all_calls() == []


async def test_mutation_without_token_is_refused(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext]
) -> None:
    result = await schema.execute(
        """mutation { createHousehold(requestId: "r1", input: {
            regionCode: "130123101201", householdNumber: "001", headName: "王五", memberCount: 3
        }) { id } }""",
        context_value=context_for(None),
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    assert fakes.all_calls() == []


async def test_schema_is_introspectable_without_token(
    context_for: Callable[[str | None], GatewayContext],
) -> None:
    result = await schema.execute(
        '{ __schema { queryType { name } } __type(name: "Person") { description } }',
        context_value=context_for(None),
    )
    assert result.errors is None
    assert result.data == {
        "__schema": {"queryType": {"name": "Query"}},
        "__type": {"description": "Person (人员): a villager, cadre or candidate."},
    }


async def test_viewer_shows_the_verified_caller(
    context_for: Callable[[str | None], GatewayContext], make_token: Callable[..., str]
) -> None:
    token = make_token(region="130123101", roles=("township_officer", "auditor"))
    result = await schema.execute(
        "{ viewer { subject name roles regionScope } }",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "viewer": {
            "subject": "officer-1",
            "name": "县干部",
            "roles": ["auditor", "township_officer"],
            "regionScope": "130123101",
        }
    }
