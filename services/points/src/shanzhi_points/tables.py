"""Points storage: tables (SQLAlchemy Core) and the messaging tables."""

from __future__ import annotations

from shanzhi_kit.db import new_metadata
from shanzhi_kit.messaging import MessagingTables
from sqlalchemy import Column, DateTime, SmallInteger, String, Table, UniqueConstraint

from shanzhi_points.domain import MAX_HEAD_NAME, MAX_HOUSEHOLD_NUMBER, MAX_VILLAGER_GROUP

metadata = new_metadata()

#: Households (农户) of the village rosters (一户一档).
households = Table(
    "households",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("household_number", String(MAX_HOUSEHOLD_NUMBER), nullable=False),
    Column("head_name", String(MAX_HEAD_NAME), nullable=False),
    Column("member_count", SmallInteger, nullable=False),
    Column("villager_group", String(MAX_VILLAGER_GROUP), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    # A household number (户号) names one household within its village; the
    # database enforces it, so two concurrent creations cannot both win. The
    # index also serves lookups by village code.
    UniqueConstraint("region_code", "household_number"),
)

messaging = MessagingTables(metadata)
