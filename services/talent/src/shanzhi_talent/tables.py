"""Talent storage: tables (SQLAlchemy Core) and the messaging tables."""

from __future__ import annotations

from shanzhi_kit.db import new_metadata
from shanzhi_kit.messaging import MessagingTables
from sqlalchemy import Boolean, Column, Date, DateTime, Index, SmallInteger, String, Table, text

from shanzhi_talent.domain import SINGLE_HOLDER_ROLES

metadata = new_metadata()

people = Table(
    "people",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("name", String(50), nullable=False),
    Column("gender", SmallInteger, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("party_member", Boolean, nullable=False),
    Column("education", SmallInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

_single_roles = ", ".join(str(r) for r in sorted(SINGLE_HOLDER_ROLES))

posts = Table(
    "posts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False, index=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("role", SmallInteger, nullable=False),
    Column("method", SmallInteger, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    # One holder at a time of a single-holder post in a village; the database
    # enforces it, so two concurrent appointments cannot both win.
    Index(
        "uq_posts_single_holder",
        "region_code",
        "role",
        unique=True,
        postgresql_where=text(f"end_date IS NULL AND role IN ({_single_roles})"),
        sqlite_where=text(f"end_date IS NULL AND role IN ({_single_roles})"),
    ),
)

messaging = MessagingTables(metadata)
