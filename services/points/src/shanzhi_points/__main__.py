"""Run the points service: ``python -m shanzhi_points`` or ``shanzhi-points``."""

from __future__ import annotations

import asyncio

from shanzhi_kit.logs import configure_logging
from shanzhi_kit.telemetry import setup_telemetry

from shanzhi_points import SERVICE
from shanzhi_points.app import PointsSettings, build


def main() -> None:
    settings = PointsSettings()
    configure_logging(settings.log_level, SERVICE)
    setup_telemetry(SERVICE)
    asyncio.run(build(settings).run_until_signal())


if __name__ == "__main__":
    main()
