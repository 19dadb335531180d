"""Alembic environment of the points service."""

import os

from shanzhi_kit.migrations import run_env
from shanzhi_points.tables import metadata

run_env(metadata, os.environ.get("SHANZHI_DATABASE_URL"))
