"""Run the points service: ``python -m shanzhi_points`` or ``shanzhi-points``."""

from __future__ import annotations

from shanzhi_kit.server import run_service

from shanzhi_points import SERVICE
from shanzhi_points.app import PointsSettings, build


def main() -> None:
    settings = PointsSettings()
    run_service(SERVICE, settings, lambda: build(settings))


if __name__ == "__main__":
    main()
