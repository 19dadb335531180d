"""Run the audit service: ``python -m shanzhi_audit`` or ``shanzhi-audit``."""

from __future__ import annotations

from shanzhi_kit.server import run_service
from shanzhi_kit.settings import ServiceSettings

from shanzhi_audit import SERVICE
from shanzhi_audit.app import build


def main() -> None:
    settings = ServiceSettings()
    run_service(SERVICE, settings, lambda: build(settings))


if __name__ == "__main__":
    main()
