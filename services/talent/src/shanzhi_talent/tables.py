"""Talent storage: tables (SQLAlchemy Core) and the messaging tables."""

from __future__ import annotations

from shanzhi_kit.db import new_metadata
from shanzhi_kit.messaging import MessagingTables
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from shanzhi_talent.career import ACTIVE_RESERVE
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
    # Resident ID number (公民身份号码): never stored in clear. The keyed hash is the
    # look-up and uniqueness key; the ciphertext is opened only for allowed roles.
    Column("id_number_hmac", String(64), nullable=True, unique=True),
    Column("id_number_cipher", LargeBinary, nullable=True),
    Column("id_number_masked", String(18), nullable=True),
    Column("party_join_date", Date, nullable=True),
    Column("phone_cipher", LargeBinary, nullable=True),
    Column("phone_masked", String(20), nullable=True),
    # The last change by UpdatePerson (人员信息维护, 留痕); null until the first one.
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("updated_by", String(200), nullable=True),
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
    # The end of a term is recorded once, never changed (离任).
    Column("end_reason", SmallInteger, nullable=True),
    Column("end_note", Text, nullable=True),
    Column("ended_by", String(200), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("review_id", String(36), nullable=True),
    Column("review_override_reason", Text, nullable=True),
    # County-level filing of villagers' representatives (县级备案).
    Column("filing_date", Date, nullable=True),
    Column("filing_reference", String(100), nullable=True),
    Column("filed_by", String(200), nullable=True),
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

#: County rules (县级配置): one row per version, the highest version is in force.
county_configs = Table(
    "county_configs",
    metadata,
    Column("county_code", String(6), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("min_women_per_village", SmallInteger, nullable=False),
    Column("min_young_per_village", SmallInteger, nullable=False),
    Column("young_age_limit", SmallInteger, nullable=False),
    Column("one_shoulder_share_percent", SmallInteger, nullable=False),
    Column("college_share_percent", SmallInteger, nullable=False),
    Column("max_member_age", SmallInteger, nullable=False),
    Column("min_age_at_appointment", SmallInteger, nullable=False),
    Column("max_age_at_appointment", SmallInteger, nullable=False),
    Column("min_education_at_appointment", SmallInteger, nullable=False),
    Column("required_checks", JSON, nullable=False),
    Column("allow_appointment_without_review", Boolean, nullable=False),
    Column("min_training_hours_per_year", SmallInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: Qualification reviews (任职资格审查); the required checks are frozen when it opens.
reviews = Table(
    "reviews",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False, index=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("role", SmallInteger, nullable=False),
    Column("required_checks", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: Every recorded check result; the latest per (review, kind) counts.
review_checks = Table(
    "review_checks",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("review_id", String(36), nullable=False, index=True),
    Column("kind", SmallInteger, nullable=False),
    Column("department", String(100), nullable=False),
    Column("result", SmallInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("checked_date", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(200), nullable=False),
)

_active_reserve = ", ".join(str(s) for s in sorted(ACTIVE_RESERVE))

#: Reserve talent pool (后备人才).
reserve_candidates = Table(
    "reserve_candidates",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False, index=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("source", SmallInteger, nullable=False),
    Column("mentor_person_id", String(36), nullable=True),
    Column("status", SmallInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    # What put the candidate in the pool when another service's event did, e.g.
    # "points-honour:<honour id>" for an outstanding villagers' representative
    # (优秀村民代表); null for candidates added by a person. One candidate per reference.
    Column("source_reference", String(100), nullable=True),
    Index("uq_reserve_candidates_source_reference", "source_reference", unique=True),
    # A person is an active candidate at most once.
    Index(
        "uq_reserve_candidates_active_person",
        "person_id",
        unique=True,
        postgresql_where=text(f"status IN ({_active_reserve})"),
        sqlite_where=text(f"status IN ({_active_reserve})"),
    ),
)

#: Each step of a candidate (and mentor changes), in order.
reserve_changes = Table(
    "reserve_changes",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("candidate_id", String(36), nullable=False, index=True),
    Column("from_status", SmallInteger, nullable=False),
    Column("to_status", SmallInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(200), nullable=False),
)

#: Training courses (轮训班次).
training_courses = Table(
    "training_courses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("organizer", String(100), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("hours", SmallInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: Attendance (参训记录): one row per person and course.
training_records = Table(
    "training_records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("course_id", String(36), nullable=False),
    Column("person_id", String(36), nullable=False, index=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("hours", SmallInteger, nullable=False),
    Column("course_start_date", Date, nullable=False),
    Column("course_title", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("course_id", "person_id"),
)

#: Assessments (考核): one per person and period.
assessments = Table(
    "assessments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False),
    Column("region_code", String(12), nullable=False, index=True),
    Column("year", SmallInteger, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("total_score", Integer, nullable=False),
    Column("total_max_score", Integer, nullable=False),
    Column("democratic_appraisal_percent", SmallInteger, nullable=False),
    Column("grade", SmallInteger, nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("finalized_at", DateTime(timezone=True), nullable=True),
    Column("finalized_by", String(200), nullable=True),
    UniqueConstraint("person_id", "year", "period"),
)

#: Removal flags (调整/罢免预警).
removal_flags = Table(
    "removal_flags",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False, index=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("assessment_ids", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # "<earlier id>:<later id>": one flag per pair, however often finalisations race.
    Column("pair_key", String(80), nullable=False, unique=True),
)

#: Major-matter reports (重大事项报告).
major_matters = Table(
    "major_matters",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), nullable=False, index=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("category", SmallInteger, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("occurred_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

messaging = MessagingTables(metadata)
