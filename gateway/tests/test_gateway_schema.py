"""The schema itself: the SDL file is current, enums match the protos, everything is described."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
)
from shanzhi.audit.v1 import audit_pb2
from shanzhi.lists.v1 import lists_pb2
from shanzhi.talent.v1 import talent_pb2
from shanzhi_gateway import export_schema
from shanzhi_gateway.schema import schema
from shanzhi_gateway.schema.audit import AuditKind, AuditScheduleStatus, InspectionKind
from shanzhi_gateway.schema.lists import ListKind
from shanzhi_gateway.schema.talent import AppointmentMethod, Education, Gender, PostRole

CJK = re.compile(r"[\u4e00-\u9fff]")
BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def test_sdl_file_matches_schema() -> None:
    assert export_schema.DEFAULT_PATH.read_text(encoding="utf-8") == export_schema.sdl(), (
        "gateway/schema.graphql is out of date: run `uv run python -m shanzhi_gateway.export_schema`"
    )


def test_check_mode_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schema.graphql"
    assert export_schema.main(["--output", str(target)]) == 0
    assert export_schema.main(["--check", "--output", str(target)]) == 0

    target.write_text(target.read_text(encoding="utf-8").replace("viewer", "whoami"))
    assert export_schema.main(["--check", "--output", str(target)]) == 1
    assert "out of date" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("enum", "proto_enum"),
    [
        (Gender, talent_pb2.Gender),
        (Education, talent_pb2.Education),
        (PostRole, talent_pb2.PostRole),
        (AppointmentMethod, talent_pb2.AppointmentMethod),
        (InspectionKind, audit_pb2.InspectionKind),
        (AuditKind, audit_pb2.AuditKind),
        (AuditScheduleStatus, audit_pb2.AuditScheduleStatus),
        (ListKind, lists_pb2.ListKind),
    ],
)
def test_enums_mirror_the_protos(enum: type[Enum], proto_enum: Any) -> None:
    prefix = proto_enum.Name(0).removesuffix("UNSPECIFIED")
    proto_names = {v.name.removeprefix(prefix) for v in proto_enum.DESCRIPTOR.values}
    proto_names.discard("UNSPECIFIED")
    assert set(enum.__members__) == proto_names


def _descriptions() -> list[tuple[str, str | None]]:
    """(where, description) for every type, field, argument and enum value of the schema."""
    found: list[tuple[str, str | None]] = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN_SCALARS:
            continue
        found.append((name, gql_type.description))
        if isinstance(gql_type, (GraphQLObjectType, GraphQLInputObjectType)):
            for field_name, gql_field in gql_type.fields.items():
                found.append((f"{name}.{field_name}", gql_field.description))
                for arg_name, arg in getattr(gql_field, "args", {}).items():
                    found.append((f"{name}.{field_name}({arg_name})", arg.description))
        elif isinstance(gql_type, GraphQLEnumType):
            for value_name, value in gql_type.values.items():
                found.append((f"{name}.{value_name}", value.description))
        else:
            assert isinstance(gql_type, GraphQLScalarType)
    return found


def test_everything_is_described_with_the_chinese_term() -> None:
    missing = [where for where, text in _descriptions() if not text or not CJK.search(text)]
    assert missing == []


def test_post_role_values_have_no_proto_prefix() -> None:
    sdl = export_schema.sdl()
    assert "PARTY_SECRETARY" in sdl
    assert "POST_ROLE_" not in sdl
