"""A service run with several worker processes on one port, and stopped by one signal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.lists.v1 import lists_pb2, lists_pb2_grpc
from shanzhi_kit.pytest_plugin import DatabaseFactory, auth_metadata
from shanzhi_kit.testing import free_port
from shanzhi_lists.app import MIGRATIONS

pytestmark = pytest.mark.postgres


async def test_workers_share_the_port_and_stop_together(make_database: DatabaseFactory) -> None:
    url = await make_database("workers", MIGRATIONS)
    port = free_port()
    env = dict(os.environ, SHANZHI_DATABASE_URL=url, SHANZHI_GRPC_PORT=str(port),
               SHANZHI_WORKERS="2", SHANZHI_RUN_RELAY="false", SHANZHI_RUN_CONSUMERS="false",
               SHANZHI_SHUTDOWN_GRACE_SECONDS="2")
    parent = subprocess.Popen(  # noqa: ASYNC220 - a child process the test owns
        [sys.executable, "-m", "shanzhi_lists"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = psutil.Process(parent.pid).children()
            await asyncio.sleep(0.1)
        assert len(workers) == 2
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.2)
            stub = lists_pb2_grpc.ListsServiceStub(channel)
            made = await stub.CreateListItem(lists_pb2.CreateListItemRequest(
                request_id=str(uuid.uuid4()), region_code="130123000000",
                kind=lists_pb2.LIST_KIND_NEGATIVE, code="FM-W1", title="不得摊派"),
                metadata=auth_metadata("130123"))
            assert made.item.code == "FM-W1"
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(20) == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    finally:
        if parent.poll() is None:
            parent.kill()
