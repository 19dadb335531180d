"""Benchmarks (``make bench``): figures printed beside a pgbench baseline of the same run.

Machines are noisy, so every figure is read against what ``pgbench -N`` reaches
on the same PostgreSQL in the same run. Each benchmark module exposes
``async def run(ctx: BenchContext) -> list[Figure]``; :mod:`shanzhi_dev.bench.__main__`
runs them, prints one table and writes it under ``bench-results/``.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
from shanzhi_kit.auth import ROLE_ADMIN, issue_token
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.testing import free_port, fresh_database, postgres_admin_url
from sqlalchemy.engine import make_url


@dataclass
class Figure:
    """One measured figure; ``ratio_to`` names the baseline it is read against."""

    benchmark: str
    metric: str
    value: float
    unit: str
    ratio_to: str | None = None
    note: str = ""


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_figures(benchmark: str, seconds: list[float]) -> list[Figure]:
    ms = [s * 1000 for s in seconds]
    return [
        Figure(benchmark, "latency p50", percentile(ms, 50), "ms"),
        Figure(benchmark, "latency p99", percentile(ms, 99), "ms"),
        Figure(benchmark, "latency mean", statistics.fmean(ms) if ms else float("nan"), "ms"),
    ]


#: CPU seconds used so far, by process (pid and start time, so a reused pid is another).
CpuReading = dict[tuple[int, float], float]


def _cpu_by_process(processes: Iterable[psutil.Process]) -> CpuReading:
    """User and system CPU time used so far by each of ``processes``; those gone are
    skipped."""
    used: CpuReading = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
            used[(proc.pid, proc.create_time())] = times.user + times.system
        except psutil.Error:
            continue
    return used


def _service_processes(process: psutil.Process) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)]


def _database_processes() -> list[psutil.Process]:
    """PostgreSQL's server processes on this machine (none when it runs elsewhere): its
    backends, WAL writer and checkpointer."""
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def _used_since(before: CpuReading, now: CpuReading) -> float:
    """CPU used between two readings by the processes alive at the second; one that ended
    in between is not counted, one that started in between is counted whole."""
    return sum(cpu - before.get(key, 0.0) for key, cpu in now.items())


def own_cpu_seconds() -> float:
    """CPU time used so far by this process: the benchmark's clients."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


class CpuMeter:
    """CPU spent on a phase of a benchmark by the service, PostgreSQL and the clients.

    The three share the machine's cores, so their sum per operation says how many
    operations per second the machine could carry at most, whatever the service's
    own share; each part says where to look. A database connection closed during the
    phase takes its CPU with it, so keep connections open across a phase.
    """

    def __init__(self, service: psutil.Process) -> None:
        self.service = service
        self._start: tuple[CpuReading, CpuReading, float] = ({}, {}, 0.0)

    def _read(self) -> tuple[CpuReading, CpuReading, float]:
        return (_cpu_by_process(_service_processes(self.service)),
                _cpu_by_process(_database_processes()), own_cpu_seconds())

    def start(self) -> None:
        self._start = self._read()

    def figures(self, benchmark: str, elapsed: float, operations: int, per: str) -> list[Figure]:
        """CPU per operation of each part, and how many cores the service kept busy."""
        service_now, database_now, client_now = self._read()
        service = _used_since(self._start[0], service_now)
        database = _used_since(self._start[1], database_now)
        client = client_now - self._start[2]
        ms = 1000 / operations
        figures = [
            Figure(benchmark, f"service CPU per {per}", service * ms, "ms"),
            Figure(benchmark, "service CPU busy", service / elapsed, "cores"),
        ]
        if database_now:
            figures += [
                Figure(benchmark, f"PostgreSQL CPU per {per}", database * ms, "ms"),
                Figure(benchmark, f"benchmark client CPU per {per}", client * ms, "ms"),
                Figure(benchmark, f"machine CPU per {per} (service, PostgreSQL and client)",
                       (service + database + client) * ms, "ms",
                       note=f"{os.cpu_count()} cores in all"),
            ]
        return figures


def pgbench_tps(database: str, seconds: int = 10, clients: int = 4) -> float:
    """Transactions per second of ``pgbench -N`` (simple updates) against ``database``."""
    url = make_url(postgres_admin_url())
    host = url.host or str(url.query.get("host") or "127.0.0.1")
    base = ["-h", host, "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise RuntimeError("pgbench is not installed (Debian package postgresql-contrib / postgresql-client)")
    subprocess.run([pgbench, *base, "-i", "-q", "-s", "2", database], check=True, capture_output=True)
    out = subprocess.run(
        [pgbench, *base, "-N", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), database],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    if not match:
        raise RuntimeError(f"cannot read pgbench output: {out}")
    return float(match.group(1))


def cpu_reference_ms() -> float:
    """Milliseconds this machine takes for a fixed piece of pure Python, best of three.

    pgbench -N mostly waits on disk flushes, so it hardly moves when the machine's CPU
    is slower for a while; the services' figures do. This figure, taken beside pgbench,
    shows how fast the CPU was during the run: higher is slower.
    """
    def work() -> int:
        total = 0
        for i in range(300_000):
            total += len(f"{i:08x}-{i * 7 % 1000}") + hash((i, "award")) % 3
        return total

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


@dataclass
class BenchContext:
    """What a benchmark needs: fresh databases, service processes, a token."""

    secret: str = "bench-secret-not-for-production-use-000"
    county: str = "130123"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path = Path("bench-results/logs")

    @property
    def token(self) -> str:
        return issue_token(self.secret, "bench", [ROLE_ADMIN], self.county, ttl_seconds=6 * 3600)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    async def database(self, name: str, migrations: Path) -> str:
        url = await fresh_database(f"shanzhi_bench_{name}")
        await upgrade_async(migrations, url)
        return url

    def start_service(self, module: str, database_url: str, **settings: str) -> tuple[int, psutil.Process]:
        """Start ``python -m module`` on a free port; returns the port once it is SERVING.

        Its outbox relay and event consumers are off unless ``settings`` (environment
        variables) turn them on. It logs at its shipped level (INFO: a line per call), as
        a deployed service does, unless SHANZHI_LOG_LEVEL is set.
        """
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        port = free_port()
        env = dict(os.environ, SHANZHI_DATABASE_URL=database_url, SHANZHI_GRPC_PORT=str(port),
                   SHANZHI_JWT_SECRET=self.secret,
                   SHANZHI_RUN_RELAY="false", SHANZHI_RUN_CONSUMERS="false")
        env.update(settings)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{module}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return port, psutil.Process(process.pid)
            except grpc.RpcError:
                time.sleep(0.2)
        raise TimeoutError(f"{module} did not become SERVING")

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
