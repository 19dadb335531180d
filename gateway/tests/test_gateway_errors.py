"""Errors: service statuses become client errors with code and field violations;
anything else is masked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from shanzhi.talent.v1 import talent_pb2
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.errors import (
    FieldViolation,
    GatewayError,
    camel_case_path,
    from_rpc_error,
    should_mask_error,
)
from shanzhi_gateway.schema import schema
from shanzhi_kit.errors import FieldViolation as KitFieldViolation
from shanzhi_kit.errors import InvalidArgument, NotFound
from shanzhi_kit.server import status_for

if TYPE_CHECKING:
    from conftest import Fakes

REGISTER = """
mutation Register($input: RegisterPersonInput!) {
  registerPerson(requestId: "req-1", input: $input) { id name }
}
"""
REGISTER_INPUT = {
    "regionCode": "130123101201",
    "name": "李四",
    "gender": "MALE",
    "birthDate": "1985-02-03",
}


def bad_request_error() -> grpc.aio.AioRpcError:
    """An INVALID_ARGUMENT error as a service sends it: Status + BadRequest in trailers."""
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field="birth_date", description="must be a date YYYY-MM-DD"
            ),
            error_details_pb2.BadRequest.FieldViolation(
                field="target_region_codes[1]", description="must lie under region_code"
            ),
        ]
    )
    detail = any_pb2.Any()
    detail.Pack(bad_request)
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT,
        message="invalid request: birth_date: must be a date YYYY-MM-DD",
        details=[detail],
    )
    return grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString())),
        details=status.message,
    )


def error_from_status(status: grpc.Status) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        status.code,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(*status.trailing_metadata),
        details=status.details,
    )


def test_conversion_keeps_code_and_field_violations() -> None:
    error = from_rpc_error(bad_request_error(), "/shanzhi.talent.v1.TalentService/RegisterPerson")
    assert isinstance(error, GatewayError)
    assert error.message == "invalid request: birth_date: must be a date YYYY-MM-DD"
    assert error.extensions == {
        "code": "INVALID_ARGUMENT",
        "fieldViolations": [
            {"field": "birthDate", "description": "must be a date YYYY-MM-DD"},
            {"field": "targetRegionCodes[1]", "description": "must lie under region_code"},
        ],
    }
    assert error.field_violations[0] == FieldViolation("birthDate", "must be a date YYYY-MM-DD")


def test_conversion_reads_what_the_kit_sends() -> None:
    sent = status_for(
        InvalidArgument(
            [
                KitFieldViolation("region_code", "must be a 12-digit division code"),
                KitFieldViolation("name", "is required"),
            ]
        )
    )
    error = from_rpc_error(error_from_status(sent))
    assert error.extensions["code"] == "INVALID_ARGUMENT"
    assert error.extensions["fieldViolations"] == [
        {"field": "regionCode", "description": "must be a 12-digit division code"},
        {"field": "name", "description": "is required"},
    ]

    not_found = from_rpc_error(error_from_status(status_for(NotFound("person", "p-1"))))
    assert not_found.extensions == {"code": "NOT_FOUND"}
    assert not_found.message == "person 'p-1' not found"


def test_server_side_failures_do_not_leak_details() -> None:
    for code, text in [
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; 10.0.0.7:50054"),
        (grpc.StatusCode.INTERNAL, "Traceback (most recent call last): ..."),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
    ]:
        error = from_rpc_error(grpc.aio.AioRpcError(code, grpc.aio.Metadata(), None, text))
        assert error.extensions == {"code": code.name}
        assert text not in error.message


def test_camel_case_paths() -> None:
    assert camel_case_path("region_code_prefix") == "regionCodePrefix"
    assert camel_case_path("steps[2]") == "steps[2]"
    assert camel_case_path("page.page_token") == "page.pageToken"


async def test_service_error_reaches_the_client_unmasked(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.talent.answer("RegisterPerson", lambda r: bad_request_error())
    result = await schema.execute(
        REGISTER,
        variable_values={"input": REGISTER_INPUT},
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.data is None
    assert result.errors is not None
    error = result.errors[0]
    assert error.message == "invalid request: birth_date: must be a date YYYY-MM-DD"
    assert error.path == ["registerPerson"]
    assert error.extensions is not None
    assert error.extensions["code"] == "INVALID_ARGUMENT"
    assert error.extensions["fieldViolations"][0] == {
        "field": "birthDate",
        "description": "must be a date YYYY-MM-DD",
    }
    assert not should_mask_error(error)


async def test_internal_errors_are_masked(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    def explode(request: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    fakes.talent.answer("ListPeople", explode)
    result = await schema.execute("{ people { items { id } } }", context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    error = result.errors[0]
    assert error.message == "Unexpected error."
    assert not error.extensions
    assert "hunter2" not in str(result.errors)


async def test_bad_data_from_a_service_is_masked(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    broken = talent_pb2.Person(id="4b0bd7f4-7a3c-4a57-9a54-2d1b1f0c9e11", birth_date="01/02/1990")
    fakes.talent.answer("ListPeople", lambda r: talent_pb2.ListPeopleResponse(people=[broken]))
    result = await schema.execute("{ people { items { id } } }", context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    assert result.errors[0].message == "Unexpected error."


async def test_malformed_ids_are_refused_before_any_call(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    result = await schema.execute(
        '{ person(id: "not-an-id") { id } }', context_value=context_for(f"Bearer {token}")
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {
        "code": "INVALID_ARGUMENT",
        "fieldViolations": [{"field": "id", "description": "must be an id (UUID)"}],
    }
    assert fakes.all_calls() == []


async def test_page_size_is_checked(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    result = await schema.execute(
        "{ households(first: 501) { items { id } } }",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["fieldViolations"][0]["field"] == "first"
    assert fakes.all_calls() == []


async def test_query_errors_stay_visible(
    context_for: Callable[[str | None], GatewayContext],
) -> None:
    result = await schema.execute("{ people { nope } }", context_value=context_for(None))
    assert result.errors is not None
    assert "Cannot query field 'nope'" in result.errors[0].message


async def test_bad_variables_are_named_not_masked(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    """A value in the variables that does not fit its type says so, as it does inline."""
    for variables, expected in (
        ({"input": {**REGISTER_INPUT, "birthDate": "1985-02-30"}}, "birthDate"),
        ({"input": {**REGISTER_INPUT, "gender": "TALL"}}, "gender"),
        ({}, "$input"),
    ):
        result = await schema.execute(REGISTER, variable_values=variables,
                                      context_value=context_for(f"Bearer {token}"))
        assert result.errors is not None
        [error] = result.errors
        assert error.message != "Unexpected error."
        assert expected in error.message
    assert fakes.all_calls() == []
