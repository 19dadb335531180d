"""Run the lists service: ``python -m shanzhi_lists`` or ``shanzhi-lists``."""

from __future__ import annotations

from shanzhi_kit.server import run_service
from shanzhi_kit.settings import ServiceSettings

from shanzhi_lists import SERVICE
from shanzhi_lists.app import build


def main() -> None:
    settings = ServiceSettings()
    run_service(SERVICE, settings, lambda: build(settings))


if __name__ == "__main__":
    main()
