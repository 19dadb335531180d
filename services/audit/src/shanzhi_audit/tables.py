"""Audit storage: tables (SQLAlchemy Core) and the messaging tables."""

from __future__ import annotations

from shanzhi_kit.db import new_metadata
from shanzhi_kit.messaging import MessagingTables
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

metadata = new_metadata()

#: Inspection rounds (巡察轮次).
inspection_rounds = Table(
    "inspection_rounds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("team_leader", String(50), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: Target villages of a round (巡察对象), in the order given.
inspection_round_targets = Table(
    "inspection_round_targets",
    metadata,
    Column("round_id", String(36), ForeignKey("inspection_rounds.id"), nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("region_code", String(12), nullable=False, index=True),
    PrimaryKeyConstraint("round_id", "position"),
    UniqueConstraint("round_id", "region_code"),
)

#: The schedule of village economic-responsibility audits (审计计划, 村级经济责任审计).
audit_schedule = Table(
    "audit_schedule",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("cadre_person_id", String(36), nullable=False, index=True),
    Column("cadre_name", String(50), nullable=False),
    Column("region_code", String(12), nullable=False, index=True),
    Column("post_id", String(36), nullable=False),
    Column("post_role", String(40), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("source_event_id", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    # One audit of a kind per post: a second wall, after the inbox, against
    # scheduling the same appointment twice.
    UniqueConstraint("post_id", "kind"),
    Index("ix_audit_schedule_due_date_id", "due_date", "id"),
)

messaging = MessagingTables(metadata)
