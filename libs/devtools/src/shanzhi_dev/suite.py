"""Start and stop the whole suite: broker, four services and the gateway.

Used by ``make run`` (SQLite files under ``var/``) and by the end-to-end tests
(PostgreSQL databases). Every process is a real child process; :meth:`Suite.stop`
sends SIGTERM to each and waits, so services shut down gracefully.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi_kit.testing import Broker, wait_for_port

SERVICES = ("points", "lists", "audit", "talent")
DEFAULT_PORTS = {"gateway": 8000, "points": 50051, "lists": 50052, "audit": 50053,
                 "talent": 50054, "broker": 9092}


@dataclass
class SuiteConfig:
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    #: Database URL per service.
    databases: dict[str, str] = field(default_factory=dict)
    jwt_secret: str = ""
    log_dir: Path = Path("var/log")
    #: Start a broker, or use one already at ports["broker"].
    start_broker: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Personal-data keys of the talent service (base64 of 32 bytes each).
    pii_hmac_key: str = field(default_factory=lambda: new_key())
    pii_encryption_key: str = field(default_factory=lambda: new_key())

    @classmethod
    def local(cls, var: Path) -> SuiteConfig:
        """Ports from SHANZHI_<NAME>_PORT, SQLite files under ``var``."""
        ports = {name: int(os.environ.get(f"SHANZHI_{name.upper()}_PORT", port))
                 for name, port in DEFAULT_PORTS.items()}
        dbs = {s: f"sqlite+aiosqlite:///{(var / f'{s}.db').resolve()}" for s in SERVICES}
        # The keys must outlive a run: the data in var/ was encrypted with them.
        return cls(ports=ports, databases=dbs, log_dir=var / "log",
                    pii_hmac_key=kept_key(var / "dev-pii-hmac-key"),
                    pii_encryption_key=kept_key(var / "dev-pii-encryption-key"))


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def kept_key(path: Path) -> str:
    """A development key stored in ``path`` (made on first use, readable only by its owner)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_key())
        path.chmod(0o600)
    return path.read_text().strip()


class Suite:
    """The running suite."""

    def __init__(self, config: SuiteConfig) -> None:
        self.config = config
        self.broker: Broker | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.config.ports['broker']}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.ports['gateway']}/graphql"

    def _env(self, **values: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.config.extra_env)
        env.update(values)
        env["SHANZHI_JWT_SECRET"] = self.config.jwt_secret
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.config.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=log, stderr=subprocess.STDOUT,
        )

    def start_service(self, name: str) -> None:
        self._spawn(name, f"shanzhi_{name}", self._env(
            SHANZHI_DATABASE_URL=self.config.databases[name],
            SHANZHI_GRPC_PORT=str(self.config.ports[name]),
            SHANZHI_KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            SHANZHI_MIGRATE_ON_START="true",
            SHANZHI_RELAY_POLL_SECONDS="0.2",
            SHANZHI_SHUTDOWN_GRACE_SECONDS="5",
            SHANZHI_PII_HMAC_KEY=self.config.pii_hmac_key,
            SHANZHI_PII_ENCRYPTION_KEY=self.config.pii_encryption_key,
        ))

    def start(self, timeout: float = 60.0) -> None:
        if self.config.start_broker:
            self.broker = Broker(self.config.ports["broker"],
                                 log_file=self.config.log_dir / "broker.log")
            self.config.log_dir.mkdir(parents=True, exist_ok=True)
            self.broker.start()
        for name in SERVICES:
            self.start_service(name)
        addr = {f"SHANZHI_GATEWAY_{s.upper()}_ADDR": f"127.0.0.1:{self.config.ports[s]}"
                for s in SERVICES}
        self._spawn("gateway", "shanzhi_gateway", self._env(
            SHANZHI_GATEWAY_PORT=str(self.config.ports["gateway"]),
            SHANZHI_GATEWAY_KAFKA_BOOTSTRAP_SERVERS=self.bootstrap, **addr))
        for name in SERVICES:
            self.wait_serving(name, timeout)
        wait_for_port(self.config.ports["gateway"], timeout)

    def health(self, name: str) -> int:
        """The overall health status of a service (health_pb2 enum value)."""
        with grpc.insecure_channel(f"127.0.0.1:{self.config.ports[name]}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=2)
        return int(reply.status)

    def wait_serving(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see "
                                   f"{self.config.log_dir / (name + '.log')}")
            try:
                if self.health(name) == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{name} not SERVING after {timeout}s")

    def kill(self, name: str) -> None:
        """Kill a process at once (SIGKILL), as a crash would."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop_process(self, name: str, timeout: float = 15.0) -> int:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return int(process.returncode)

    def stop(self) -> None:
        for name in list(self.processes):
            if self.processes[name].poll() is None:
                self.processes[name].send_signal(signal.SIGTERM)
        for name in list(self.processes):
            self.stop_process(name)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
