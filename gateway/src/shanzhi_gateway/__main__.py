"""Run the gateway: ``shanzhi-gateway`` or ``python -m shanzhi_gateway``."""

from __future__ import annotations

from shanzhi_kit.logs import configure_logging
from shanzhi_kit.telemetry import setup_telemetry, shutdown_telemetry

from shanzhi_gateway.app import make_server
from shanzhi_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, "gateway")
    setup_telemetry("shanzhi-gateway")
    try:
        make_server(settings).run()
    finally:
        shutdown_telemetry()


if __name__ == "__main__":
    main()
