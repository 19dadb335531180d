"""AuditService over real gRPC, on real PostgreSQL, with the outbox relay to a real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc
from shanzhi.common.v1 import event_pb2
from shanzhi_audit.tables import audit_schedule, inspection_round_targets, inspection_rounds, messaging
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_kit.server import ServiceHost
from sqlalchemy import event, func, select

pytestmark = pytest.mark.postgres

COUNTY = "130123"
COUNTY_CODE = f"{COUNTY}000000"
ADMIN = auth_metadata(COUNTY)

Stub = audit_pb2_grpc.AuditServiceStub


def village(n: int, township: int = 101) -> str:
    return f"{COUNTY}{township:03d}{n:03d}"


def rid() -> str:
    return str(uuid.uuid4())


def round_request(**kw: Any) -> audit_pb2.CreateInspectionRoundRequest:
    fields: dict[str, Any] = dict(
        request_id=rid(), region_code=COUNTY_CODE, name="2026年第一轮巡察",
        kind=audit_pb2.INSPECTION_KIND_POLITICAL,
        target_region_codes=[village(1), village(2, township=102)],
        start_date="2026-03-01", end_date="2026-04-30", team_leader="刘组长",
    )
    fields.update(kw)
    return audit_pb2.CreateInspectionRoundRequest(**fields)


async def create_round(stub: Stub, **kw: Any) -> audit_pb2.InspectionRound:
    return (await stub.CreateInspectionRound(round_request(**kw), metadata=ADMIN)).round


async def count(host: ServiceHost, table: Any) -> int:
    async with host.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def written(host: ServiceHost) -> tuple[int, ...]:
    tables = (inspection_rounds, inspection_round_targets, messaging.outbox, messaging.idempotency_keys)
    return tuple([await count(host, t) for t in tables])


# -- service basics --------------------------------------------------------------------


async def test_health_is_serving_once_the_database_answers(audit_host: ServiceHost) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{audit_host.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(
            service="shanzhi.audit.v1.AuditService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_calls_without_a_valid_token_are_refused(audit: Stub) -> None:
    for metadata in [(), (("authorization", "Bearer not-a-jwt"),)]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await audit.ListInspectionRounds(audit_pb2.ListInspectionRoundsRequest(),
                                             metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


# -- inspection rounds (巡察轮次) ----------------------------------------------------------


async def test_create_then_read_one_and_in_batch(audit: Stub, audit_host: ServiceHost) -> None:
    a = await create_round(audit, name="2026年第一轮巡察")
    b = await create_round(audit, name="农村集体“三资”专项巡察", kind=audit_pb2.INSPECTION_KIND_SPECIAL,
                           target_region_codes=[village(3)], team_leader="")
    assert a.target_region_codes == [village(1), village(2, township=102)]
    assert a.created_by == "tester" and a.start_date == "2026-03-01" and a.end_date == "2026-04-30"
    got = (await audit.GetInspectionRound(audit_pb2.GetInspectionRoundRequest(id=a.id),
                                          metadata=ADMIN)).round
    assert got == a
    batch = await audit.BatchGetInspectionRounds(
        audit_pb2.BatchGetInspectionRoundsRequest(ids=[b.id, rid(), a.id, b.id]), metadata=ADMIN)
    assert list(batch.rounds) == [b, a]

    async with audit_host.engine.connect() as conn:
        payloads = (await conn.execute(
            select(messaging.outbox.c.payload).where(messaging.outbox.c.key == a.id))).scalars().all()
    assert len(payloads) == 1
    env = event_pb2.EventEnvelope.FromString(payloads[0])
    assert env.type == "shanzhi.audit.v1.InspectionRoundCreatedEvent"
    assert (env.subject, env.region_code, env.actor) == (a.id, COUNTY_CODE, "tester")


async def test_list_pages_and_filters_by_region_prefix(audit: Stub) -> None:
    township = f"{COUNTY}201"
    made = {(await create_round(audit, region_code=f"{township}000", name=f"第{i}轮",
                                target_region_codes=[f"{township}{i + 1:03d}"])).id
            for i in range(5)}
    await create_round(audit, region_code=f"{COUNTY}202000", target_region_codes=[f"{COUNTY}202001"])
    seen: list[str] = []
    token = ""
    while True:
        reply = await audit.ListInspectionRounds(
            audit_pb2.ListInspectionRoundsRequest(region_code_prefix=township,
                                                  page={"page_size": 2, "page_token": token}),
            metadata=ADMIN)
        assert len(reply.rounds) <= 2
        seen += [r.id for r in reply.rounds]
        assert all(len(r.target_region_codes) == 1 for r in reply.rounds)
        token = reply.page_info.next_page_token
        if not token:
            break
    assert set(seen) == made and len(seen) == 5 and seen == sorted(seen)


async def test_retry_with_the_same_request_id_creates_once(audit: Stub, audit_host: ServiceHost) -> None:
    req = round_request()
    before = await count(audit_host, inspection_rounds)
    first, second = await asyncio.gather(audit.CreateInspectionRound(req, metadata=ADMIN),
                                         audit.CreateInspectionRound(req, metadata=ADMIN))
    third = await audit.CreateInspectionRound(req, metadata=ADMIN)
    assert first.round == second.round == third.round
    assert await count(audit_host, inspection_rounds) == before + 1
    req.name = "另一轮"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.CreateInspectionRound(req, metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "request_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region_code": "13012X000000"}, "region_code"),
        ({"region_code": "1301230000"}, "region_code"),
        ({"name": ""}, "name"),
        ({"kind": audit_pb2.INSPECTION_KIND_UNSPECIFIED}, "kind"),
        ({"target_region_codes": []}, "target_region_codes"),
        ({"target_region_codes": [village(1), "130999101201"]}, "target_region_codes[1]"),
        ({"region_code": f"{COUNTY}101000", "target_region_codes": [village(1, township=102)]},
         "target_region_codes[0]"),
        ({"start_date": ""}, "start_date"),
        ({"end_date": "2026-02-01"}, "end_date"),
        ({"request_id": ""}, "request_id"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    audit: Stub, audit_host: ServiceHost, change: dict[str, Any], field: str,
) -> None:
    before = await written(audit_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.CreateInspectionRound(round_request(**change), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = rpc_error_details(err.value)
    assert [f for f, _ in details] == [field]
    assert all(description for _, description in details)
    assert await written(audit_host) == before


async def test_every_missing_field_is_named_at_once(audit: Stub, audit_host: ServiceHost) -> None:
    before = await written(audit_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.CreateInspectionRound(
            audit_pb2.CreateInspectionRoundRequest(request_id=rid()), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in rpc_error_details(err.value)} == {
        "region_code", "name", "kind", "target_region_codes", "start_date", "end_date"}
    assert await written(audit_host) == before


async def test_unknown_and_malformed_ids(audit: Stub) -> None:
    for call in (
        lambda i: audit.GetInspectionRound(audit_pb2.GetInspectionRoundRequest(id=i), metadata=ADMIN),
        lambda i: audit.GetAuditScheduleEntry(audit_pb2.GetAuditScheduleEntryRequest(id=i),
                                              metadata=ADMIN),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(rid())
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert [f for f, _ in rpc_error_details(err.value)] == ["id"]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call("nope")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error_details(err.value)[0][0] == "id"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.BatchGetInspectionRounds(
            audit_pb2.BatchGetInspectionRoundsRequest(ids=[rid(), "nope"]), metadata=ADMIN)
    assert rpc_error_details(err.value)[0][0] == "ids[1]"


async def test_scope_bounds_round_reads_and_writes(audit: Stub, audit_host: ServiceHost) -> None:
    county_round = await create_round(audit)
    township_officer = auth_metadata(f"{COUNTY}101", roles=("township_officer",), subject="officer")
    before = await written(audit_host)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.CreateInspectionRound(round_request(), metadata=township_officer)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    other_county = auth_metadata("130124", subject="elsewhere")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.CreateInspectionRound(round_request(), metadata=other_county)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await written(audit_host) == before

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.GetInspectionRound(audit_pb2.GetInspectionRoundRequest(id=county_round.id),
                                       metadata=township_officer)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    batch = await audit.BatchGetInspectionRounds(
        audit_pb2.BatchGetInspectionRoundsRequest(ids=[county_round.id]), metadata=township_officer)
    assert list(batch.rounds) == []

    own = (await audit.CreateInspectionRound(
        round_request(region_code=f"{COUNTY}101000", target_region_codes=[village(9)]),
        metadata=township_officer)).round
    assert own.created_by == "officer"
    listed = await audit.ListInspectionRounds(audit_pb2.ListInspectionRoundsRequest(),
                                              metadata=township_officer)
    assert own.id in [r.id for r in listed.rounds]
    assert all(r.region_code.startswith(f"{COUNTY}101") for r in listed.rounds)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.ListInspectionRounds(
            audit_pb2.ListInspectionRoundsRequest(region_code_prefix=f"{COUNTY}102"),
            metadata=township_officer)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    no_scope = auth_metadata("", subject="nobody")
    listed = await audit.ListInspectionRounds(audit_pb2.ListInspectionRoundsRequest(),
                                              metadata=no_scope)
    assert list(listed.rounds) == []


# -- audit schedule (审计计划) --------------------------------------------------------------


async def seed_entries(host: ServiceHost, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    """Schedule entries written straight to the table (the consumer tests cover the event path)."""
    rows = []
    for e in entries:
        row = dict(
            id=rid(), cadre_person_id=rid(), cadre_name="张书记", region_code=village(1),
            post_id=rid(), post_role="POST_ROLE_PARTY_SECRETARY",
            kind=audit_pb2.AUDIT_KIND_IN_OFFICE, due_date=date(2029, 1, 5),
            status=audit_pb2.AUDIT_SCHEDULE_STATUS_DUE, source_event_id=rid(),
            created_at=datetime.now(UTC), created_by="system:talent-event",
        )
        row.update(e)
        rows.append(row)
    async with host.engine.begin() as conn:
        await conn.execute(audit_schedule.insert(), rows)
    return rows


async def test_schedule_entries_read_one_and_in_batch(audit: Stub, audit_host: ServiceHost) -> None:
    a, b = await seed_entries(audit_host, {"region_code": village(11)},
                              {"region_code": village(12), "due_date": date(2028, 7, 1)})
    got = (await audit.GetAuditScheduleEntry(audit_pb2.GetAuditScheduleEntryRequest(id=a["id"]),
                                             metadata=ADMIN)).entry
    assert (got.id, got.cadre_person_id, got.post_id, got.region_code) == (
        a["id"], a["cadre_person_id"], a["post_id"], village(11))
    assert (got.kind, got.status, got.due_date, got.post_role) == (
        audit_pb2.AUDIT_KIND_IN_OFFICE, audit_pb2.AUDIT_SCHEDULE_STATUS_DUE, "2029-01-05",
        "POST_ROLE_PARTY_SECRETARY")
    batch = await audit.BatchGetAuditScheduleEntries(
        audit_pb2.BatchGetAuditScheduleEntriesRequest(ids=[b["id"], rid(), a["id"]]), metadata=ADMIN)
    assert [e.id for e in batch.entries] == [b["id"], a["id"]]
    clerk = auth_metadata(village(11), roles=("village_clerk",), subject="clerk11")
    batch = await audit.BatchGetAuditScheduleEntries(
        audit_pb2.BatchGetAuditScheduleEntriesRequest(ids=[b["id"], a["id"]]), metadata=clerk)
    assert [e.id for e in batch.entries] == [a["id"]]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.GetAuditScheduleEntry(audit_pb2.GetAuditScheduleEntryRequest(id=b["id"]),
                                          metadata=clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def list_all(audit: Stub, metadata: Any, size: int,
                   **filters: Any) -> list[audit_pb2.AuditScheduleEntry]:
    out: list[audit_pb2.AuditScheduleEntry] = []
    token = ""
    while True:
        reply = await audit.ListAuditScheduleEntries(
            audit_pb2.ListAuditScheduleEntriesRequest(page={"page_size": size, "page_token": token},
                                                      **filters),
            metadata=metadata)
        assert len(reply.entries) <= size
        out += reply.entries
        token = reply.page_info.next_page_token
        if not token:
            return out


async def test_schedule_list_pages_by_due_date_then_id(audit: Stub, audit_host: ServiceHost) -> None:
    township = 301
    base = date(2028, 3, 1)
    # Three entries share each due date, so pages break inside a date too.
    rows = await seed_entries(audit_host, *(
        {"region_code": village(1 + i % 2, township), "due_date": base + timedelta(days=i // 3)}
        for i in range(8)))
    await seed_entries(audit_host, {"region_code": village(1, 302)})
    expected = sorted((r["due_date"].isoformat(), r["id"]) for r in rows)
    prefix = f"{COUNTY}{township}"
    listed = await list_all(audit, ADMIN, 3, region_code_prefix=prefix)
    assert [(e.due_date, e.id) for e in listed] == expected

    due = await list_all(audit, ADMIN, 2, region_code_prefix=prefix,
                         due_on_or_before=(base + timedelta(days=1)).isoformat())
    assert [(e.due_date, e.id) for e in due] == expected[:6]

    one = rows[4]
    mine = await list_all(audit, ADMIN, 5, cadre_person_id=one["cadre_person_id"].upper())
    assert [e.id for e in mine] == [one["id"]]

    clerk = auth_metadata(village(2, township), roles=("village_clerk",), subject="clerk")
    narrowed = await list_all(audit, clerk, 50)
    assert {e.id for e in narrowed} == {r["id"] for r in rows if r["region_code"] == village(2, township)}


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"due_on_or_before": "2028-02-30"}, "due_on_or_before"),
        ({"cadre_person_id": "someone"}, "cadre_person_id"),
        ({"region_code_prefix": "13x"}, "region_code_prefix"),
        ({"page": {"page_token": "bm90LWEtdG9rZW4="}}, "page.page_token"),
        ({"page": {"page_token": "WzEsIDJd"}}, "page.page_token"),
        ({"page": {"page_size": 501}}, "page.page_size"),
    ],
)
async def test_bad_schedule_filters_name_the_field(
    audit: Stub, request_fields: dict[str, Any], field: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await audit.ListAuditScheduleEntries(
            audit_pb2.ListAuditScheduleEntriesRequest(**request_fields), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in rpc_error_details(err.value)] == [field]


@contextmanager
def schedule_queries(host: ServiceHost) -> Iterator[list[str]]:
    """The SELECT statements run against audit_schedule while the block runs."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "audit_schedule" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(host.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(host.engine.sync_engine, "before_cursor_execute", seen)


async def test_cadre_schedules_in_batch_one_per_id_in_one_query(
    audit: Stub, audit_host: ServiceHost,
) -> None:
    cadre_a, cadre_b, nobody = rid(), rid(), rid()
    rows = await seed_entries(
        audit_host,
        {"cadre_person_id": cadre_a, "region_code": village(1, 401), "due_date": date(2029, 5, 1)},
        {"cadre_person_id": cadre_a, "region_code": village(1, 401), "due_date": date(2027, 5, 1),
         "kind": audit_pb2.AUDIT_KIND_DEPARTURE},
        {"cadre_person_id": cadre_a, "region_code": village(1, 402), "due_date": date(2028, 5, 1)},
        {"cadre_person_id": cadre_b, "region_code": village(2, 401)},
    )
    asked = [cadre_b, nobody, cadre_a, cadre_b, cadre_a.upper(), *(rid() for _ in range(40))]
    with schedule_queries(audit_host) as statements:
        reply = await audit.BatchGetCadreAuditSchedules(
            audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=asked), metadata=ADMIN)
    assert len(statements) == 1
    assert [s.cadre_person_id for s in reply.schedules] == asked
    by_id = {r["id"]: r for r in rows}
    assert [e.id for e in reply.schedules[0].entries] == [rows[3]["id"]]
    assert list(reply.schedules[1].entries) == []
    assert [by_id[e.id]["due_date"] for e in reply.schedules[2].entries] == [
        date(2027, 5, 1), date(2028, 5, 1), date(2029, 5, 1)]
    assert reply.schedules[3] == reply.schedules[0]
    assert reply.schedules[4].entries == reply.schedules[2].entries

    officer = auth_metadata(f"{COUNTY}401", roles=("township_officer",), subject="officer401")
    reply = await audit.BatchGetCadreAuditSchedules(
        audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=[cadre_a]), metadata=officer)
    assert [by_id[e.id]["region_code"] for e in reply.schedules[0].entries] == [village(1, 401)] * 2
    no_scope = auth_metadata("", subject="nobody")
    reply = await audit.BatchGetCadreAuditSchedules(
        audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=[cadre_a]), metadata=no_scope)
    assert [(s.cadre_person_id, list(s.entries)) for s in reply.schedules] == [(cadre_a, [])]


async def test_cadre_schedules_refuse_too_many_or_malformed_ids(audit: Stub) -> None:
    for ids, field in (([rid() for _ in range(1001)], "cadre_person_ids"),
                       ([rid(), "x"], "cadre_person_ids[1]")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await audit.BatchGetCadreAuditSchedules(
                audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=ids), metadata=ADMIN)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error_details(err.value)[0][0] == field
    reply = await audit.BatchGetCadreAuditSchedules(
        audit_pb2.BatchGetCadreAuditSchedulesRequest(cadre_person_ids=[rid() for _ in range(1000)]),
        metadata=ADMIN)
    assert len(reply.schedules) == 1000
