"""Unit tests of the kit's pure parts: regions, validation, paging, tokens, redaction."""

from __future__ import annotations

import base64
import gc
import json
import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2, status_pb2
from shanzhi.common.v1 import paging_pb2
from shanzhi_kit.auth import TokenVerifier, issue_token
from shanzhi_kit.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Validator,
)
from shanzhi_kit.logs import redact
from shanzhi_kit.paging import page_of
from shanzhi_kit.regions import RegionScope, code_problem, is_village_code, scope_prefix
from shanzhi_kit.server import freeze_startup_heap, status_for
from shanzhi_kit.settings import AuthSettings
from shanzhi_kit.values import aware, batch_ids, new_id, parse_date, valid_uuid

SECRET = "unit-test-secret-of-at-least-32-bytes"


@pytest.mark.parametrize(
    ("code", "ok"),
    [("130123101201", True), ("13012310120", False), ("1301231012010", False),
     ("13012310120X", False), ("000000101201", False), ("130123000000", True),
     ("130123000201", False)],
)
def test_division_codes(code: str, ok: bool) -> None:
    assert (code_problem(code) is None) is ok


def test_village_codes_and_scope_prefixes() -> None:
    assert is_village_code("130123101201")
    assert not is_village_code("130123101000")
    assert scope_prefix("130123000000") == "130123"


def test_an_empty_scope_sees_nothing() -> None:
    scope = RegionScope(None)
    assert not scope.covers("130123101201")
    assert scope.narrow("") is None


def test_scope_narrows_filters_and_refuses_outside() -> None:
    scope = RegionScope("130123101")
    assert scope.narrow("") == "130123101"
    assert scope.narrow("130123") == "130123101"
    assert scope.narrow("130123101202") == "130123101202"
    with pytest.raises(PermissionDenied):
        scope.narrow("130124")
    with pytest.raises(InvalidArgument):
        scope.narrow("13a")
    with pytest.raises(PermissionDenied):
        scope.require_covers("130123102201")


def test_batch_reads_keep_the_order_asked_and_leave_out_unknown_and_out_of_scope() -> None:
    from types import SimpleNamespace

    rows = {"a": SimpleNamespace(region_code="130123101201"),
            "b": SimpleNamespace(region_code="130123102201"),
            "c": SimpleNamespace(region_code="130123101202")}
    scope = RegionScope("130123101")
    assert scope.in_order(["c", "x", "b", "a"], rows) == [rows["c"], rows["a"]]
    assert RegionScope(None).in_order(["a"], rows) == []


def test_validator_collects_every_violation() -> None:
    v = Validator()
    v.require("name", " ")
    v.date_field("start_date", "2026-02-30")
    v.check(False, "kind", "is required")
    with pytest.raises(InvalidArgument) as err:
        v.raise_if_any()
    assert [x.field for x in err.value.violations] == ["name", "start_date", "kind"]


def test_invalid_argument_status_carries_bad_request_details() -> None:
    status = status_for(InvalidArgument.field("region_code", "must be 12 digits"))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(status.trailing_metadata)["grpc-status-details-bin"]
    proto = status_pb2.Status.FromString(details)
    bad = error_details_pb2.BadRequest()
    assert proto.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "region_code"


def test_any_error_can_name_its_field() -> None:
    status = status_for(FailedPrecondition.about("quantity", "balance is 5, 10 asked"))
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION
    proto = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])
    bad = error_details_pb2.BadRequest()
    assert proto.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "quantity"
    assert not PermissionDenied("outside").violations


def test_a_date_is_a_calendar_date_and_nothing_else() -> None:
    assert parse_date("2026-01-01", "d") == date(2026, 1, 1)
    # date.fromisoformat would take these: a week date, and a date with its dashes left out.
    for other in ("2026-W01-1", "20260101", "2026-001", "２０２６-01-01"):
        with pytest.raises(InvalidArgument, match="YYYY-MM-DD"):
            parse_date(other, "d")
    naive = datetime(2026, 1, 1, 8)
    assert aware(naive) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    china = datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    assert aware(china) is china


def test_dates_and_batches() -> None:
    assert str(parse_date("2024-02-29", "d")) == "2024-02-29"
    for wrong in ["2023-02-29", "2024-2-1", "yesterday"]:
        with pytest.raises(InvalidArgument):
            parse_date(wrong, "d")
    with pytest.raises(InvalidArgument, match=r"ids\[1\]"):
        batch_ids(["5b1c3f1e-8f0e-4d39-9d4a-7d5e5cbd9a01", "x"])
    with pytest.raises(InvalidArgument, match="at most"):
        batch_ids(["5b1c3f1e-8f0e-4d39-9d4a-7d5e5cbd9a01"] * 1001)


def test_page_tokens_round_trip_and_bad_ones_are_refused() -> None:
    page = page_of(paging_pb2.PageRequest(page_size=2))
    info = page.info([("a",), ("b",), ("c",)], lambda r: [r[0]])
    again = page_of(paging_pb2.PageRequest(page_size=2, page_token=info.next_page_token))
    assert again.after == ["b"]
    assert page.info([("a",)], lambda r: [r[0]]).next_page_token == ""
    with pytest.raises(InvalidArgument, match=r"page\.page_token"):
        page_of(paging_pb2.PageRequest(page_token="%%%"))
    for wrong in ([1], [], [{}], ["a", "b"]):
        token = base64.urlsafe_b64encode(json.dumps(wrong).encode()).decode()
        with pytest.raises(InvalidArgument, match=r"page\.page_token"):
            page_of(paging_pb2.PageRequest(page_token=token))
    with pytest.raises(InvalidArgument, match=r"page\.page_size"):
        page_of(paging_pb2.PageRequest(page_size=501))


def _token(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_page_keys_come_back_typed_and_forged_ones_are_refused() -> None:
    stamp = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    page = page_of(paging_pb2.PageRequest(page_size=1), key_types=(datetime, str))
    token = page.info([(stamp, "a"), (stamp, "b")], lambda r: [r[0].isoformat(), r[1]]).next_page_token
    assert page_of(paging_pb2.PageRequest(page_token=token), key_types=(datetime, str)).after == [stamp, "a"]
    assert page_of(paging_pb2.PageRequest(page_token=_token(["2026-03-01", "x"])),
                   key_types=(date, str)).after == [date(2026, 3, 1), "x"]
    biggest = page_of(paging_pb2.PageRequest(page_token=_token([2**63 - 1])), key_types=(int,))
    assert biggest.after == [2**63 - 1]
    forged = [
        ((datetime, str), _token(["x", "y"])),  # not a time
        ((datetime, str), _token(["2026-03-01T08:30:00", "y"])),  # a time without its zone
        ((date, str), _token(["2026-02-30", "y"])),
        ((int,), _token([2**63])),  # beyond BIGINT
        ((int,), _token([True])),
        ((str,), _token(["a\x00"])),  # PostgreSQL cannot compare text with a NUL
        ((str,), base64.urlsafe_b64encode(b"[" * 5000).decode()),  # nested beyond recursion
        ((str,), base64.urlsafe_b64encode(b"[" * 600).decode()),
    ]
    for key_types, token in forged:
        with pytest.raises(InvalidArgument, match=r"page\.page_token"):
            page_of(paging_pb2.PageRequest(page_token=token), key_types=key_types)


def test_tokens_are_verified() -> None:
    verifier = TokenVerifier(AuthSettings(secret=SECRET))
    caller = verifier.from_authorization(
        "Bearer " + issue_token(SECRET, "u1", ["village_clerk"], "130123101201"))
    assert caller.subject == "u1" and caller.scope.prefix == "130123101201"
    assert caller.has_any_role(["village_clerk"])
    forged = issue_token("another-secret-of-thirty-two-bytes!", "u1", ["admin"], "")
    expired = jwt.encode({"sub": "u", "exp": int(time.time()) - 10}, SECRET)
    bad_region = issue_token(SECRET, "u1", [], "13a")
    part_of_a_division = issue_token(SECRET, "u1", [], "13012")
    for header in [None, "Basic x", f"Bearer {forged}", f"Bearer {expired}",
                   f"Bearer {bad_region}", f"Bearer {part_of_a_division}"]:
        with pytest.raises(Unauthenticated):
            verifier.from_authorization(header)

    for division in ("13", "1301", "130123", "130123101", "130123101201"):
        assert verifier.verify(issue_token(SECRET, "u1", [], division)).scope.prefix == division

    # The subject is recorded with every write: too long or with control characters, the
    # token is refused rather than every write failing in the database.
    assert verifier.verify(issue_token(SECRET, "u" * 200, [], "")).subject == "u" * 200
    for subject in ("u" * 201, "u\x00", "u\n1"):
        with pytest.raises(Unauthenticated, match="sub must be"):
            verifier.verify(issue_token(SECRET, subject, [], ""))


def test_division_codes_are_ascii_digits_only() -> None:
    assert code_problem("１３０１２３１０１２０１") is not None  # full-width digits
    assert code_problem("\u0661" * 12) is not None  # Arabic-Indic digits
    with pytest.raises(ValueError):
        RegionScope("１３０１２３")


def test_a_nul_anywhere_in_a_request_is_found_by_its_path() -> None:
    from shanzhi.points.v1 import points_pb2 as P
    from shanzhi_kit.strings import nul_field

    def batch(**line: object) -> P.ScoreBatchRequest:
        lines = [P.BatchLine(item_code="HJ-01", occurred_on="2026-03-01") for _ in range(3)]
        lines.append(P.BatchLine(**line))  # type: ignore[arg-type]
        return P.ScoreBatchRequest(request_id="r", batch_key="k", lines=lines)

    assert nul_field(batch(item_code="HJ-02")) is None
    assert nul_field(batch(note="村\x00")) == "lines[3].note"
    assert nul_field(batch(subject=P.SubjectRef(id="a\x00"))) == "lines[3].subject.id"
    assert nul_field(P.ScoreBatchRequest(request_id="r\x00")) == "request_id"
    assert nul_field(P.BatchGetAccountsRequest(ids=["a", "b\x00"])) == "ids[1]"
    # A zero byte that is no NUL (an empty string's length) is looked into and let pass.
    empty = P.BatchGetAccountsRequest(ids=["", "a"])
    assert b"\x00" in empty.SerializeToString() and nul_field(empty) is None
    page = paging_pb2.PageRequest(page_token="\x00")
    assert nul_field(P.ListClaimsRequest(page=page)) == "page.page_token"


def test_personal_numbers_are_masked_in_text() -> None:
    text = redact("身份证 11010519491231002X 手机 13812345678 金额 20000")
    assert "11010519491231002X" not in text and "13812345678" not in text
    assert "20000" in text


def test_new_ids_are_canonical_time_ordered_uuids() -> None:
    before = int(time.time() * 1000)
    ids = [new_id() for _ in range(2000)]
    after = int(time.time() * 1000)
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value and valid_uuid(value)
        assert before <= parsed.int >> 80 <= after  # the first 48 bits: the time in ms
    # made one after another, they sort in the order they were made
    assert ids == sorted(ids)
    # the last bits are random: every hex digit turns up in each of the last eight places
    assert all(len({value[k] for value in ids}) == 16 for k in range(-8, 0))


def test_new_ids_differ_across_threads_and_forks() -> None:
    import threading

    seen: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        ids = [new_id() for _ in range(3000)]
        with lock:
            seen.extend(ids)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == len(seen) == 12_000

    new_id()  # the child's generator starts from the parent's state unless reseeded
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, ",".join(new_id() for _ in range(5)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 1024).decode().split(",")
    parent = [new_id() for _ in range(5)]
    # the random tails differ too, not only the times
    assert not {c[-12:] for c in child} & {p[-12:] for p in parent}
    assert all(uuid.UUID(c).version == 7 for c in child)


@pytest.mark.parametrize("value", [
    datetime(2025, 6, 18, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2025, 6, 18, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=8))),
    datetime(2025, 1, 1, 0, 0, 0),  # naive, as SQLite gives: taken as UTC
])
def test_timestamps_are_the_ones_protobuf_makes(value: datetime) -> None:
    from google.protobuf import timestamp_pb2
    from shanzhi_kit.values import to_timestamp

    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    assert to_timestamp(value) == expected


@pytest.mark.parametrize(("sqlstate", "code", "wrapped"), [
    ("40P01", grpc.StatusCode.ABORTED, True),
    ("40001", grpc.StatusCode.ABORTED, True),
    ("40P01", grpc.StatusCode.ABORTED, False),
    ("23505", grpc.StatusCode.INTERNAL, True),
])
async def test_a_deadlock_or_serialisation_failure_is_aborted_for_retry(
        sqlstate: str, code: grpc.StatusCode, wrapped: bool) -> None:
    import asyncio
    from types import SimpleNamespace

    from shanzhi_kit.auth import TokenVerifier, issue_token
    from shanzhi_kit.server import CallInterceptor
    from shanzhi_kit.settings import AuthSettings
    from sqlalchemy.exc import DBAPIError

    secret = "unit-test-secret-0000000000000000000000"
    token = issue_token(secret, "clerk", ["admin"], "130123")

    class DriverError(Exception):
        """As asyncpg raises them, with the SQLSTATE on the exception."""

        def __init__(self, state: str) -> None:
            super().__init__(state)
            self.sqlstate = state

    async def behavior(request: object, context: object) -> None:
        if not wrapped:
            raise DriverError(sqlstate)
        raise DBAPIError("UPDATE accounts", None, DriverError(sqlstate))

    async def continuation(details: object) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(behavior)

    class Context:
        aborted: tuple[grpc.StatusCode, str] | None = None

        def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
            return (("authorization", f"Bearer {token}"),)

        async def abort(self, status: grpc.StatusCode, details: str, trailers: object) -> None:
            self.aborted = (status, details)

    interceptor = CallInterceptor(TokenVerifier(AuthSettings(secret=secret)))  # type: ignore[arg-type]
    handler = await interceptor.intercept_service(
        continuation, SimpleNamespace(method="/shanzhi.points.v1.PointsService/AwardPoints"))  # type: ignore[arg-type]
    context = Context()
    await asyncio.wait_for(handler.unary_unary(paging_pb2.PageRequest(), context), 5)
    assert context.aborted is not None and context.aborted[0] == code
    if code == grpc.StatusCode.ABORTED:
        assert context.aborted[1].endswith("; retry")


def test_freezing_the_start_up_heap_collects_garbage_first_and_keeps_live_objects() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    kept = Node()
    lost_a, lost_b = Node(), Node()
    lost_a.other, lost_b.other = lost_b, lost_a
    lost_ids = {id(lost_a), id(lost_b)}
    del lost_a, lost_b
    frozen_before = gc.get_freeze_count()
    try:
        freeze_startup_heap()
        frozen = gc.get_freeze_count()
        assert frozen > frozen_before
        assert gc.is_tracked(kept)
        assert all(id(o) not in lost_ids for o in gc.get_objects() if isinstance(o, Node))
        # Frozen objects are left out of collections: a full pass walks none of them.
        assert not any(o is kept for o in gc.get_objects())
    finally:
        gc.unfreeze()
