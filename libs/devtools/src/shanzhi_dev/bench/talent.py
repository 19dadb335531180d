"""Talent benchmarks (人才/干部): registrations through gRPC and batch reads of people."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_talent.app import MIGRATIONS

from shanzhi_dev.bench import BenchContext, Figure, latency_figures

PEOPLE = 2000
CONCURRENCY = 16
BATCH = 1000
BATCH_ROUNDS = 50


async def run(ctx: BenchContext) -> list[Figure]:
    url = await ctx.database("talent", MIGRATIONS)
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
                    gender=talent_pb2.GENDER_MALE if i % 2 else talent_pb2.GENDER_FEMALE,
                    birth_date="1985-06-01"), metadata=ctx.metadata)
                latencies.append(time.perf_counter() - started)
                ids.append(reply.person.id)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        figures.append(Figure("talent RegisterPerson", "throughput", PEOPLE / elapsed, "req/s",
                              ratio_to="pgbench", note=f"{CONCURRENCY} concurrent, with outbox"))
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
    figures.append(Figure("talent service", "resident memory", process.memory_info().rss / 2**20, "MiB"))
    return figures
