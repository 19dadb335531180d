"""Shared pytest set-up for every test folder of the repository."""

pytest_plugins = ["shanzhi_kit.pytest_plugin"]
