"""Run the gateway: ``shanzhi-gateway`` or ``python -m shanzhi_gateway``."""

from __future__ import annotations

import logging

from shanzhi_kit.logs import configure_logging
from shanzhi_kit.metrics import setup_metrics, shutdown_metrics
from shanzhi_kit.server import freeze_startup_heap
from shanzhi_kit.telemetry import setup_telemetry, shutdown_telemetry

from shanzhi_gateway.app import make_server
from shanzhi_gateway.settings import GatewaySettings


class WithoutClientAddresses(logging.Filter):
    """Drops uvicorn's per-connection lines ('<client address> - "WebSocket …"'):
    a caller's address is personal data and the line says nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith('%s - "WebSocket'))


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, "gateway")
    logging.getLogger("uvicorn.error").addFilter(WithoutClientAddresses())
    setup_telemetry("shanzhi-gateway")
    setup_metrics("shanzhi-gateway")
    server = make_server(settings)
    freeze_startup_heap()
    try:
        server.run()
    finally:
        shutdown_telemetry()
        shutdown_metrics()


if __name__ == "__main__":
    main()
