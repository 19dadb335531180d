"""Run the talent service: ``python -m shanzhi_talent`` or ``shanzhi-talent``."""

from __future__ import annotations

import asyncio

from shanzhi_kit.logs import configure_logging
from shanzhi_kit.telemetry import setup_telemetry

from shanzhi_talent import SERVICE
from shanzhi_talent.app import build
from shanzhi_talent.settings import TalentSettings


def main() -> None:
    settings = TalentSettings()
    configure_logging(settings.log_level, SERVICE)
    setup_telemetry(SERVICE)
    asyncio.run(build(settings).run_until_signal())


if __name__ == "__main__":
    main()
