"""Five lists storage: tables (SQLAlchemy Core) and the messaging tables."""

from __future__ import annotations

from shanzhi_kit.db import new_metadata
from shanzhi_kit.messaging import MessagingTables
from sqlalchemy import JSON, Column, DateTime, Integer, SmallInteger, String, Table, UniqueConstraint

from shanzhi_lists.domain import MAX_BODY, MAX_CODE, MAX_LEGAL_BASIS, MAX_TITLE

metadata = new_metadata()

#: Items of the five lists (清单事项), each owned by a county, township or village.
list_items = Table(
    "list_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("code", String(MAX_CODE), nullable=False),
    Column("title", String(MAX_TITLE), nullable=False),
    Column("legal_basis", String(MAX_LEGAL_BASIS), nullable=False),
    Column("responsible_body", String(MAX_BODY), nullable=False),
    # Steps in order (办理流程): a JSON array of strings.
    Column("steps", JSON, nullable=False),
    Column("time_limit_days", Integer, nullable=False),
    Column("supervisor", String(MAX_BODY), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    # An item code (事项编码) names one item of a list at one level; the database
    # enforces it, so two concurrent creations cannot both win. The index also
    # serves lookups by region code.
    UniqueConstraint("region_code", "kind", "code"),
)

messaging = MessagingTables(metadata)
