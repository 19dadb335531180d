"""Batch scoring (批量评分): all lines or none, once per batch key, even when the service
process is killed in the middle and the batch is retried."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.points.v1 import points_pb2 as P
from shanzhi.points.v1 import points_pb2_grpc
from shanzhi_kit.db import make_engine
from shanzhi_kit.pytest_plugin import DatabaseFactory, rpc_error_details
from shanzhi_kit.testing import free_port
from shanzhi_points.app import MIGRATIONS, PointsSettings, build
from shanzhi_points.clock import ManualClock, SystemClock
from shanzhi_points.tables import accounts, batches, entries, households, lots, messaging
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.postgres

ENTRY_POSTED = "shanzhi.points.v1.EntryPostedEvent"


def lines_for(pk: Any, homes: list[Any], per_home: int, code: str = "HJ-01",
              day: str | None = None) -> list[P.BatchLine]:
    return [P.BatchLine(subject=pk.ref(h), item_code=code, occurred_on=day or pk.TODAY.isoformat(),
                        note=f"第{i + 1}次检查") for i in range(per_home) for h in homes]


async def test_a_batch_scores_every_line_once_per_key(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    homes = [await pk.household(village) for _ in range(12)]
    lines = lines_for(pk, homes, 4) + lines_for(pk, homes[:3], 1, "YF-01")
    request = P.ScoreBatchRequest(request_id=pk.rid(), batch_key="2025-06 人居环境", scheme_id=scheme.id,
                                  title="6月人居环境整治检查", lines=lines)
    events_before = await pk.count(messaging.outbox, messaging.outbox.c.event_type == ENTRY_POSTED)
    batch = (await pk.stub.ScoreBatch(request, metadata=pk.ADMIN)).batch
    assert (batch.entry_count, batch.total_score, batch.region_code) == (51, 12 * 4 * 5 - 3 * 10, village)
    assert await pk.count(entries, entries.c.batch_id == batch.id) == 51
    assert await pk.count(messaging.outbox, messaging.outbox.c.event_type == ENTRY_POSTED) == (
        events_before + 51)
    # The same request, the same key under another request id: the first batch, nothing new.
    assert (await pk.stub.ScoreBatch(request, metadata=pk.ADMIN)).batch == batch
    request.request_id = pk.rid()
    assert (await pk.stub.ScoreBatch(request, metadata=pk.ADMIN)).batch == batch
    assert await pk.count(entries, entries.c.batch_id == batch.id) == 51
    # The key with other lines is refused.
    request.request_id = pk.rid()
    del request.lines[-1]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ScoreBatch(request, metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0][0] == "batch_key"
    balances = [(await pk.account(pk.ref(h))).balance for h in homes]
    assert balances == [10] * 3 + [20] * 9
    got = await pk.stub.GetBatch(P.GetBatchRequest(id=batch.id), metadata=pk.ADMIN)
    assert got.batch == batch


# -- the service killed in the middle of a 10,000-line batch --------------------------------

LINES = 10_000
HOMES = 1_000


class Service:
    """The points service as a child process, as it runs in production."""

    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, SHANZHI_DATABASE_URL=self.url, SHANZHI_GRPC_PORT=str(self.port),
                   SHANZHI_RUN_RELAY="false", SHANZHI_RUN_CONSUMERS="false",
                   SHANZHI_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "shanzhi_points"], env=env,
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            try:
                with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                      timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the points service did not become SERVING")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest_asyncio.fixture(scope="module")
async def kill_ground(make_database: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory,
                      pk: Any) -> AsyncIterator[tuple[str, str, list[str], AsyncEngine]]:
    """A database with a village of 1,000 households and an adopted scheme for this year."""
    url = await make_database("points_kill", MIGRATIONS)
    today = SystemClock().today()
    clock = ManualClock()
    village = f"{pk.COUNTY}109001"
    host = build(PointsSettings(database_url=url, grpc_port=0, run_relay=False, run_consumers=False,
                                shutdown_grace_seconds=1), clock)
    await host.start()
    await host.ready.wait()
    engine = make_engine(url)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            stub = points_pb2_grpc.PointsServiceStub(channel)
            kit = type(pk)(stub, host, clock)
            start = date(today.year, 1, 1)
            scheme = await kit.scheme(village, year=today.year, effective_from=start)
        now = datetime.now(UTC)
        ids = [str(uuid.uuid4()) for _ in range(HOMES)]
        async with engine.begin() as conn:
            await conn.execute(households.insert(), [dict(
                id=i, region_code=village, household_number=f"{n:04d}", head_name=f"户主{n}",
                member_count=3, villager_group="第一组", created_at=now, created_by="setup")
                for n, i in enumerate(ids)])
            await conn.execute(accounts.insert(), [dict(
                id=str(uuid.uuid4()), region_code=village, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                subject_id=i, display_name=f"{n:04d} 户主{n}", balance=0, created_at=now,
                created_by="setup") for n, i in enumerate(ids)])
    finally:
        await host.stop()
    yield url, scheme.id, ids, engine
    await engine.dispose()


async def counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        n_entries = (await conn.execute(select(func.count()).select_from(entries))).scalar_one()
        n_events = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
            messaging.outbox.c.event_type == ENTRY_POSTED))).scalar_one()
        n_batches = (await conn.execute(select(func.count()).select_from(batches))).scalar_one()
    return n_entries, n_events, n_batches


#: What PostgreSQL shows of a COPY in progress in this database: the table and rows so far.
COPY_PROGRESS = text("SELECT relid::regclass::text, tuples_processed FROM pg_stat_progress_copy "
                     "WHERE datname = current_database()")


async def kill_during_copy(engine: AsyncEngine, service: Service, call: asyncio.Future[Any],
                           copies: int) -> int:
    """Kill the service while the batch's transaction is open: on the ``copies``-th COPY
    seen in progress (rows go to the ledger's tables by COPY, a chunk at a time, and the
    transaction commits only after the last). Returns the COPY it was killed in; 0 if the
    call ended first."""
    seen, last = 0, ("", -1)
    async with engine.connect() as conn:
        while not call.done():
            row = (await conn.execute(COPY_PROGRESS)).first()
            await conn.commit()  # a transaction sees one snapshot of the server's activity
            if row is not None:
                if row[0] != last[0] or row[1] < last[1]:
                    seen += 1
                last = (row[0], row[1])
                if seen >= copies:
                    service.kill()
                    return seen
            await asyncio.sleep(0.002)
    return 0


@pytest.mark.slow
async def test_a_batch_killed_midway_is_retried_into_exactly_one_batch(
        kill_ground: tuple[str, str, list[str], AsyncEngine], tmp_path: Path, pk: Any) -> None:
    """Two kills, then the retry: the first while rows are being copied in (so the
    transaction is open and nothing may stay), the second at a random moment of the call
    (before, during or after its commit); the retry then makes the batch exactly once."""
    url, scheme_id, ids, engine = kill_ground
    today = SystemClock().today().isoformat()
    request = P.ScoreBatchRequest(
        request_id=pk.rid(), batch_key=f"{today} 全村人居环境检查", scheme_id=scheme_id,
        title="全村人居环境检查", lines=[
            P.BatchLine(subject=P.SubjectRef(kind=P.SUBJECT_KIND_HOUSEHOLD, id=ids[i % HOMES]),
                        item_code="HJ-01", occurred_on=today) for i in range(LINES)])
    seed = int(os.environ.get("SHANZHI_KILL_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    copies, delay = rng.randint(1, 9), rng.uniform(0.0, 1.5)
    service = Service(url, tmp_path / "points.log")
    options = [("grpc.max_send_message_length", 16 << 20)]
    try:
        # 1. Killed in the middle of writing: the call fails and nothing is left.
        service.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}", options=options) as channel:
            stub = points_pb2_grpc.PointsServiceStub(channel)
            call = asyncio.ensure_future(stub.ScoreBatch(request, metadata=pk.ADMIN, timeout=60))
            killed_in = await kill_during_copy(engine, service, call, copies)
            assert killed_in, (seed, "the batch ended before the COPY to kill it in")
            with pytest.raises(grpc.aio.AioRpcError):
                await call
        assert await counts(engine) == (0, 0, 0), (seed, killed_in)
        # 2. Killed at a random moment: all or nothing, whichever it was.
        service.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}", options=options) as channel:
            stub = points_pb2_grpc.PointsServiceStub(channel)
            call = asyncio.ensure_future(stub.ScoreBatch(request, metadata=pk.ADMIN, timeout=60))
            await asyncio.sleep(delay)
            killed_before_reply = not call.done()
            service.kill()
            with pytest.raises(grpc.aio.AioRpcError) if killed_before_reply else nullcontext():
                await call
        after_kill = await counts(engine)
        assert after_kill in [(0, 0, 0), (LINES, LINES, 1)], (seed, delay, after_kill)
        # 3. The retry, the same request again, and the same key under another request id.
        service.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}", options=options) as channel:
            stub = points_pb2_grpc.PointsServiceStub(channel)
            started = time.perf_counter()
            batch = (await stub.ScoreBatch(request, metadata=pk.ADMIN, timeout=60)).batch
            took = time.perf_counter() - started
            again = (await stub.ScoreBatch(request, metadata=pk.ADMIN, timeout=60)).batch
            request.request_id = pk.rid()
            by_key = (await stub.ScoreBatch(request, metadata=pk.ADMIN, timeout=60)).batch
    finally:
        service.stop()
    assert batch == again == by_key and batch.entry_count == LINES
    assert await counts(engine) == (LINES, LINES, 1), (seed, delay)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count(func.distinct(entries.c.id))).where(
            entries.c.batch_id == batch.id))).scalar_one() == LINES
        total = (await conn.execute(select(func.sum(accounts.c.balance)))).scalar_one()
        in_lots = (await conn.execute(select(func.sum(lots.c.available)))).scalar_one()
    assert total == in_lots == LINES * 5
    print(f"kill seed {seed}: first killed in COPY {killed_in}, left nothing; second killed after "
          f"{delay:.2f}s, {'before' if killed_before_reply else 'after'} the reply, left "
          f"{after_kill}; the retry took {took:.2f}s")


async def test_rows_written_ahead_by_copy_roll_back_with_a_post_that_fails(pk: Any) -> None:
    from shanzhi_kit.db import make_sessionmaker
    from shanzhi_kit.events import Outbox
    from shanzhi_points.ledger import plan_credit
    from shanzhi_points.outbox import EventBuffer
    from shanzhi_points.posting import LedgerWriter

    home = await pk.household(pk.village())
    today = pk.TODAY
    outbox = Outbox(messaging.outbox, source="shanzhi.points", topic="shanzhi.points.v1")

    async def write(count: int, fail_at: int | None) -> None:
        async with make_sessionmaker(pk.host.engine)() as session, session.begin():
            writer = LedgerWriter(session, EventBuffer(outbox), "tester", datetime.now(UTC), today)
            state = (await writer.lock_accounts([home.account_id]))[home.account_id]

            def post_one(n: int) -> None:
                if n == fail_at:
                    raise AssertionError("an invariant would break")
                writer.post(state, P.ENTRY_KIND_AWARD, plan_credit(1), entry_date=today, year=today.year)

            await writer.post_all(range(count), post_one)

    # Two chunks have gone ahead by COPY when the post fails: none of them stays.
    with pytest.raises(AssertionError):
        await write(6000, fail_at=4500)
    assert await pk.count(entries, entries.c.account_id == home.account_id) == 0
    assert await pk.count(lots, lots.c.account_id == home.account_id) == 0
    await write(4500, fail_at=None)
    assert await pk.count(entries, entries.c.account_id == home.account_id) == 4500
    assert await pk.count(lots, lots.c.account_id == home.account_id, lots.c.available == 1) == 4500
    assert await pk.count(messaging.outbox, messaging.outbox.c.key == home.account_id,
                          messaging.outbox.c.event_type == ENTRY_POSTED) == 4500
    assert (await pk.account(pk.ref(home))).balance == 4500
