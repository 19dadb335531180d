"""Run the audit service: ``python -m shanzhi_audit`` or ``shanzhi-audit``."""

from __future__ import annotations

import asyncio

from shanzhi_kit.logs import configure_logging
from shanzhi_kit.settings import ServiceSettings
from shanzhi_kit.telemetry import setup_telemetry

from shanzhi_audit import SERVICE
from shanzhi_audit.app import build


def main() -> None:
    settings = ServiceSettings()
    configure_logging(settings.log_level, SERVICE)
    setup_telemetry(SERVICE)
    asyncio.run(build(settings).run_until_signal())


if __name__ == "__main__":
    main()
