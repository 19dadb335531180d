"""Run the talent service: ``python -m shanzhi_talent`` or ``shanzhi-talent``."""

from __future__ import annotations

from shanzhi_kit.server import run_service

from shanzhi_talent import SERVICE
from shanzhi_talent.app import build
from shanzhi_talent.settings import TalentSettings


def main() -> None:
    settings = TalentSettings()
    run_service(SERVICE, settings, lambda: build(settings))


if __name__ == "__main__":
    main()
