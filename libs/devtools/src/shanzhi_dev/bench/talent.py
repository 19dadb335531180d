"""Talent benchmarks (人才/干部): registrations through gRPC, batch reads of people, and the
structure-target report (班子结构报告) of a county of 300 villages and 3,000 cadres."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import grpc
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_kit.auth import ROLE_ADMIN, Caller, issue_token, reset_current_caller, set_current_caller
from shanzhi_kit.db import make_engine, make_sessionmaker
from shanzhi_kit.regions import RegionScope
from shanzhi_talent.api import TalentApi
from shanzhi_talent.app import MIGRATIONS
from shanzhi_talent.idnumbers import check_character
from shanzhi_talent.tables import people, posts, reserve_candidates
from sqlalchemy import event

from shanzhi_dev.bench import BenchContext, Figure, latency_figures

PEOPLE = 2000
CONCURRENCY = 16
BATCH = 1000
BATCH_ROUNDS = 50
#: The structure report's county: 3 townships of 100 villages, 10 cadres each.
REPORT_COUNTY = "130124"
REPORT_VILLAGES = 300
CADRES_PER_VILLAGE = 10
REPORT_ROUNDS = 20


def id_number(i: int) -> str:
    first17 = f"130123{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return first17 + check_character(first17)


async def seed_county(url: str) -> int:
    """Insert a county's two committees directly (the report is measured, not the seeding)."""
    rng = random.Random(3000)
    now = datetime.now(UTC)
    people_rows: list[dict[str, Any]] = []
    post_rows: list[dict[str, Any]] = []
    reserve_rows: list[dict[str, Any]] = []
    roles = [talent_pb2.POST_ROLE_PARTY_COMMITTEE_MEMBER, talent_pb2.POST_ROLE_VILLAGE_COMMITTEE_MEMBER]
    for v in range(REPORT_VILLAGES):
        code = f"{REPORT_COUNTY}{101 + v // 100:03d}{1 + v % 100:03d}"
        one_shoulder = rng.random() < 0.4
        for k in range(CADRES_PER_VILLAGE + 2):
            pid = str(uuid.uuid4())
            people_rows.append(dict(
                id=pid, region_code=code, name=f"干部{v}-{k}", gender=1 + (rng.random() < 0.3),
                birth_date=date(rng.randint(1958, 2000), rng.randint(1, 12), rng.randint(1, 28)),
                party_member=rng.random() < 0.7, education=rng.randint(1, 5),
                created_at=now, created_by="bench"))
            if k >= CADRES_PER_VILLAGE:  # two reserve candidates per village
                reserve_rows.append(dict(
                    id=str(uuid.uuid4()), person_id=pid, region_code=code,
                    source=talent_pb2.RESERVE_SOURCE_GRADUATE, mentor_person_id=None,
                    status=rng.choice([1, 2, 3]), note="", created_at=now, created_by="bench"))
                continue
            held = [talent_pb2.POST_ROLE_PARTY_SECRETARY] if k == 0 else [rng.choice(roles)]
            if k == 0 and one_shoulder:
                held.append(talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR)
            elif k == 1 and not one_shoulder:
                held = [talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR]
            for role in held:
                post_rows.append(dict(
                    id=str(uuid.uuid4()), person_id=pid, region_code=code, role=role,
                    method=talent_pb2.APPOINTMENT_METHOD_ELECTION, start_date=date(2021, 1, 15),
                    end_date=None, created_at=now, created_by="bench"))
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(people.insert(), people_rows)
            await conn.execute(posts.insert(), post_rows)
            await conn.execute(reserve_candidates.insert(), reserve_rows)
    finally:
        await engine.dispose()
    return len({r["person_id"] for r in post_rows})


async def report_in_process(url: str) -> tuple[float, int, int]:
    """Run the report once in this process: seconds, SQL statements, villages reported."""
    engine = make_engine(url)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    api = TalentApi(make_sessionmaker(engine), None, None, None)  # type: ignore[arg-type]
    scope = RegionScope(REPORT_COUNTY)
    token = set_current_caller(Caller("bench", frozenset({ROLE_ADMIN}), scope))
    try:
        await api.structure_report(REPORT_COUNTY, date.today(), 3, scope)  # warm the pool
        statements.clear()
        started = time.perf_counter()
        report = await api.structure_report(REPORT_COUNTY, date.today(), 3, scope)
        elapsed = time.perf_counter() - started
    finally:
        reset_current_caller(token)
        await engine.dispose()
    return elapsed, len(statements), len(report.villages)


async def run(ctx: BenchContext) -> list[Figure]:
    url = await ctx.database("talent", MIGRATIONS)
    for name in ("SHANZHI_PII_HMAC_KEY", "SHANZHI_PII_ENCRYPTION_KEY"):
        os.environ.setdefault(name, base64.b64encode(os.urandom(32)).decode())
    port, process = ctx.start_service("shanzhi_talent", url)
    figures: list[Figure] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = talent_pb2_grpc.TalentServiceStub(channel)
        ids: list[str] = []
        latencies: list[float] = []
        queue = list(range(PEOPLE))

        async def worker() -> None:
            while queue:
                i = queue.pop()
                village = f"{ctx.county}{101 + i % 5:03d}{201 + i % 60:03d}"
                started = time.perf_counter()
                reply = await stub.RegisterPerson(talent_pb2.RegisterPersonRequest(
                    request_id=str(uuid.uuid4()), region_code=village, name=f"村民{i}",
                    id_number=id_number(i)), metadata=ctx.metadata)
                latencies.append(time.perf_counter() - started)
                ids.append(reply.person.id)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        figures.append(Figure("talent RegisterPerson", "throughput", PEOPLE / elapsed, "req/s",
                              ratio_to="pgbench",
                              note=f"{CONCURRENCY} concurrent, with ID number and outbox"))
        figures += latency_figures("talent RegisterPerson", latencies)

        batch_latencies = []
        for r in range(BATCH_ROUNDS):
            chunk = ids[(r * 37) % (len(ids) - BATCH):][:BATCH]
            started = time.perf_counter()
            reply = await stub.BatchGetPeople(talent_pb2.BatchGetPeopleRequest(ids=chunk),
                                              metadata=ctx.metadata)
            batch_latencies.append(time.perf_counter() - started)
            assert len(reply.people) == BATCH
        figures += latency_figures(f"talent BatchGetPeople ({BATCH} ids)", batch_latencies)[:2]

        cadres = await seed_county(url)
        name = f"talent GetStructureReport ({REPORT_VILLAGES} villages, {cadres:,} cadres)"
        county_md = (("authorization", "Bearer " + issue_token(
            ctx.secret, "bench", [ROLE_ADMIN], REPORT_COUNTY, ttl_seconds=3600)),)
        report_latencies = []
        for _ in range(REPORT_ROUNDS):
            started = time.perf_counter()
            report = await stub.GetStructureReport(
                talent_pb2.GetStructureReportRequest(region_code_prefix=REPORT_COUNTY), metadata=county_md)
            report_latencies.append(time.perf_counter() - started)
            assert len(report.villages) == REPORT_VILLAGES
        figures += latency_figures(name, report_latencies)[:2]
        seconds, statements, villages = await report_in_process(url)
        assert villages == REPORT_VILLAGES
        figures.append(Figure(name, "in process, one run", seconds * 1000, "ms"))
        figures.append(Figure(name, "SQL statements", statements, "queries",
                              note="the same for 1 village or 300"))
    figures.append(Figure("talent service", "resident memory", process.memory_info().rss / 2**20, "MiB"))
    return figures
