"""Alembic environment of the audit service."""

import os

from shanzhi_audit.tables import metadata
from shanzhi_kit.migrations import run_env

run_env(metadata, os.environ.get("SHANZHI_DATABASE_URL"))
