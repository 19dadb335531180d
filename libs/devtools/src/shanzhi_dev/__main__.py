"""``shanzhi-dev run``: the whole suite locally, with demo data (``make run``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from shanzhi_kit.auth import ROLE_ADMIN, ROLE_COUNTY_OFFICER, issue_token

from shanzhi_dev import demo
from shanzhi_dev.suite import Suite, SuiteConfig, kept_key


def dev_secret(var: Path) -> str:
    """A per-checkout development signing secret, kept in var/ (never committed)."""
    return kept_key(var / "dev-jwt-secret")


def run(var: Path, load_demo: bool) -> int:
    config = SuiteConfig.local(var)
    config.jwt_secret = dev_secret(var)
    suite = Suite(config)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"starting broker, services and gateway (logs in {config.log_dir}) …", flush=True)
    try:
        suite.start()
        token = issue_token(config.jwt_secret, "demo-county-officer",
                            [ROLE_COUNTY_OFFICER, ROLE_ADMIN], demo.COUNTY,
                            name="示范县干部", ttl_seconds=7 * 24 * 3600)
        if load_demo:
            clients, channels = demo.clients_for(config.ports)
            counts = demo.load(clients, token)
            for channel in channels:
                channel.close()
            print("demo data for 示范县 (130123): "
                  + ", ".join(f"{v} {k}" for k, v in counts.items()), flush=True)
        grpc_ports = ", ".join(f"{s} :{config.ports[s]}" for s in ("points", "lists", "audit", "talent"))
        print(f"""
Shanzhi is running.
  GraphQL (GraphiQL in a browser): {suite.gateway_url}
  gRPC: {grpc_ports}
  Kafka-compatible broker: {suite.bootstrap}
  Bearer token for the county office of 示范县 (send as 'Authorization: Bearer …'):
{token}
Press Ctrl-C to stop.""", flush=True)
        while not stop.wait(1.0):
            for name, process in suite.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {config.log_dir}/{name}.log",
                          file=sys.stderr)
                    stop.set()
    finally:
        print("stopping …", flush=True)
        suite.stop()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="shanzhi-dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run every service, the gateway and a broker locally")
    run_p.add_argument("--var", type=Path, default=Path("var"), help="folder for data and logs")
    run_p.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    args = parser.parse_args()
    if args.command == "run":
        sys.exit(run(args.var, not args.no_demo))


if __name__ == "__main__":
    main()
