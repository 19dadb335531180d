"""Points storage: tables (SQLAlchemy Core) and the messaging tables.

The ledger keeps three invariants the database helps hold: an account's
``balance`` is the sum of its entries' ``amount`` and of its lots' ``available``;
no balance and no lot goes below zero (CHECK constraints); an entry is never
updated or deleted. Points are whole numbers (BIGINT).
"""

from __future__ import annotations

from shanzhi_kit.db import new_metadata
from shanzhi_kit.messaging import BigIntPK, MessagingTables
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from shanzhi_points.domain import (
    MAX_CERTIFICATE_NUMBER,
    MAX_HEAD_NAME,
    MAX_HOUSEHOLD_NUMBER,
    MAX_VILLAGER_GROUP,
)

metadata = new_metadata()

Id = String(36)
Actor = String(200)

#: Households (农户) of the village rosters (一户一档).
households = Table(
    "households",
    metadata,
    Column("id", Id, primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("household_number", String(MAX_HOUSEHOLD_NUMBER), nullable=False),
    Column("head_name", String(MAX_HEAD_NAME), nullable=False),
    Column("member_count", SmallInteger, nullable=False),
    Column("villager_group", String(MAX_VILLAGER_GROUP), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    # HouseholdStatus: 1 active (在册), 2 moved out (整户迁出).
    Column("status", SmallInteger, nullable=False, server_default=text("1")),
    Column("moved_out_on", Date, nullable=True),
    Column("move_out_reason", String(500), nullable=False, server_default=""),
    # The last day the household came back after moving out (回迁), if it ever did: a
    # later move-out is not dated before it.
    Column("returned_on", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("updated_by", Actor, nullable=True),
    # The member (家庭成员) who is head (户主), when the head was chosen from the members;
    # null otherwise. No foreign key: members already point to their household.
    Column("head_member_id", Id, nullable=True),
    # A household number (户号) names one household within its village; the
    # database enforces it, so two concurrent creations cannot both win. The
    # index also serves lookups by village code.
    UniqueConstraint("region_code", "household_number"),
)

CURRENT_PERSON = text("talent_person_id IS NOT NULL AND left_on IS NULL")

#: Named members of households (家庭成员); those who left keep their row.
household_members = Table(
    "household_members",
    metadata,
    Column("id", Id, primary_key=True),
    Column("household_id", Id, ForeignKey("households.id"), nullable=False, index=True),
    Column("name", String(50), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("talent_person_id", Id, nullable=True),
    Column("joined_on", Date, nullable=True),
    Column("left_on", Date, nullable=True),
    Column("left_reason", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    Column("left_recorded_by", Actor, nullable=True),
    # A person known to talent is a current member (在册成员) of one household at most;
    # members of a household that moves out leave with it.
    Index("uq_household_members_current_person", "talent_person_id", unique=True,
          postgresql_where=CURRENT_PERSON, sqlite_where=CURRENT_PERSON),
)

#: Changes of head of household (户主变更记录); never updated or deleted.
household_head_changes = Table(
    "household_head_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("household_id", Id, ForeignKey("households.id"), nullable=False, index=True),
    Column("previous_head_name", String(MAX_HEAD_NAME), nullable=False),
    Column("previous_member_id", Id, nullable=True),
    Column("head_name", String(MAX_HEAD_NAME), nullable=False),
    Column("member_id", Id, nullable=True),
    Column("changed_on", Date, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
)

#: Points schemes (积分方案): one per village, year and subject kind, or a template.
schemes = Table(
    "schemes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("subject_kind", SmallInteger, nullable=False),
    Column("title", String(200), nullable=False),
    Column("is_template", Boolean, nullable=False),
    Column("template_scheme_id", Id, ForeignKey("schemes.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    UniqueConstraint("region_code", "year", "subject_kind"),
)

#: Versions of a scheme: draft → publicised → adopted → superseded. Never deleted.
scheme_versions = Table(
    "scheme_versions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("scheme_id", Id, ForeignKey("schemes.id"), nullable=False),
    Column("version", SmallInteger, nullable=False),
    # SchemeVersionStatus.
    Column("status", SmallInteger, nullable=False),
    Column("claim_publicity_days", SmallInteger, nullable=False),
    Column("comment_days", SmallInteger, nullable=False),
    Column("cycle_policy", SmallInteger, nullable=False),
    Column("base_score", BigInteger, nullable=False),
    Column("points_valid_months", SmallInteger, nullable=False),
    Column("red_list_size", SmallInteger, nullable=False),
    Column("black_list_size", SmallInteger, nullable=False),
    Column("black_list_below", BigInteger, nullable=False),
    Column("star_thresholds", JSON, nullable=False),
    Column("change_note", Text, nullable=False),
    Column("publicized_at", DateTime(timezone=True), nullable=True),
    Column("publicized_by", Actor, nullable=True),
    Column("comment_ends_on", Date, nullable=True),
    # The adopting resolution of the villagers' representative meeting (村民代表会议决议).
    Column("meeting_date", Date, nullable=True),
    Column("representatives_total", SmallInteger, nullable=True),
    Column("attendees", SmallInteger, nullable=True),
    Column("votes_for", SmallInteger, nullable=True),
    Column("votes_against", SmallInteger, nullable=True),
    Column("votes_abstain", SmallInteger, nullable=True),
    Column("resolution_number", String(200), nullable=True),
    Column("resolution_note", Text, nullable=True),
    Column("adopted_at", DateTime(timezone=True), nullable=True),
    Column("adopted_by", Actor, nullable=True),
    Column("effective_from", Date, nullable=True),
    Column("effective_to", Date, nullable=True),
    Column("superseded_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    UniqueConstraint("scheme_id", "version"),
)

#: Items of a version (积分事项, 正负积分清单).
catalog_items = Table(
    "catalog_items",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version_id", Id, ForeignKey("scheme_versions.id"), nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("code", String(30), nullable=False),
    Column("name", String(200), nullable=False),
    Column("category", SmallInteger, nullable=False),
    Column("sign", SmallInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("evidence_required", String(500), nullable=False),
    Column("limit_per_day", SmallInteger, nullable=False),
    Column("limit_per_week", SmallInteger, nullable=False),
    Column("limit_per_month", SmallInteger, nullable=False),
    Column("limit_per_year", SmallInteger, nullable=False),
    Column("effective_from", Date, nullable=True),
    Column("effective_to", Date, nullable=True),
    Column("template_item_id", Id, nullable=True),
    UniqueConstraint("version_id", "code"),
    CheckConstraint("points > 0", name="points_positive"),
)

#: Points accounts (积分账户): one per subject. ``balance`` is the sum of the entries.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("subject_kind", SmallInteger, nullable=False),
    Column("subject_id", Id, nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("balance", BigInteger, nullable=False),
    # Day the account stopped earning (the household moved out); null while open.
    Column("closed_on", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    # The last year whose cycle (年度结算) closed for the account; set by the close itself,
    # so a write that waited for the close's lock on the account sees it on the row.
    Column("closed_cycle_year", SmallInteger, nullable=True),
    # When the talent record the display name (显示名称) came from was changed: the time
    # of the event that set it. A rename older than that is not applied. Null for a name
    # given by a clerk or at opening.
    Column("display_name_at", DateTime(timezone=True), nullable=True),
    # Raised on each of the scheme's accounts by an adoption that may take effect the same
    # day, so that scores read under the rules before it are read again (方案修订).
    Column("rules_epoch", Integer, nullable=False, server_default="0"),
    UniqueConstraint("subject_kind", "subject_id"),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    Index("ix_accounts_region", "region_code", "subject_kind"),
)

#: Ledger entries (积分明细): append-only; ``seq`` orders them.
entries = Table(
    "entries",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", Id, nullable=False, unique=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    # EntryKind.
    Column("kind", SmallInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("score", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("entry_date", Date, nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("scheme_id", Id, nullable=True),
    Column("item_code", String(30), nullable=True),
    Column("item_name", String(200), nullable=True),
    Column("quantity", SmallInteger, nullable=False),
    Column("source_id", Id, nullable=True),
    Column("batch_id", Id, nullable=True),
    Column("reverses_entry_id", Id, nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
    # Few indexes, since a batch writes thousands of entries at once: one account's entries
    # by day serve statements, limit counts and rankings alike.
    Index("ix_entries_account_date", "account_id", "entry_date"),
    # An entry is reversed at most once.
    Index("uq_entries_reverses", "reverses_entry_id", unique=True,
          postgresql_where=text("reverses_entry_id IS NOT NULL"),
          sqlite_where=text("reverses_entry_id IS NOT NULL")),
    # A claim posts once (kind 1 = ENTRY_KIND_CLAIM).
    Index("uq_entries_claim_source", "source_id", unique=True,
          postgresql_where=text("kind = 1"), sqlite_where=text("kind = 1")),
    # A subject gets one base score a year (kind 4 = ENTRY_KIND_BASE).
    Index("uq_entries_base_year", "account_id", "year", unique=True,
          postgresql_where=text("kind = 4"), sqlite_where=text("kind = 4")),
)

#: Credit lots (积分批次): what each credit put in an account and what is left of it.
lots = Table(
    "lots",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("entry_id", Id, nullable=False, unique=True),
    Column("lot_date", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("expires_on", Date, nullable=True),
    Column("closed", Boolean, nullable=False),
    CheckConstraint("available >= 0 AND available <= amount", name="available_within_amount"),
    Index("ix_lots_spending", "account_id", "lot_date", "id"),
    Index("ix_lots_expiring", "expires_on", postgresql_where=text("NOT closed AND expires_on IS NOT NULL"),
          sqlite_where=text("NOT closed AND expires_on IS NOT NULL")),
)

#: What each entry took from or gave back to each lot.
lot_moves = Table(
    "lot_moves",
    metadata,
    Column("entry_id", Id, primary_key=True),
    Column("lot_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

#: Batch scorings (批量评分): one per village and batch key.
batches = Table(
    "batches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("batch_key", String(100), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("scheme_id", Id, ForeignKey("schemes.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("total_score", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    UniqueConstraint("region_code", "batch_key"),
)

#: Claims (积分申报) on their way through review and publicity.
claims = Table(
    "claims",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("scheme_id", Id, ForeignKey("schemes.id"), nullable=False),
    Column("version_id", Id, ForeignKey("scheme_versions.id"), nullable=False),
    Column("item_code", String(30), nullable=False),
    Column("item_name", String(200), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("quantity", SmallInteger, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("source", SmallInteger, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("evidence_urls", JSON, nullable=False),
    # ClaimStatus.
    Column("status", SmallInteger, nullable=False),
    Column("publicity_ends_at", DateTime(timezone=True), nullable=True),
    Column("entry_id", Id, nullable=True),
    # The entry that reversed entry_id (冲正), once reversed (CLAIM_STATUS_REVERSED).
    Column("reversal_entry_id", Id, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_claims_region", "region_code", "created_at"),
    Index("ix_claims_account_item", "account_id", "item_code", "occurred_on"),
    # Windows to close (status 2 = CLAIM_STATUS_IN_PUBLICITY).
    Index("ix_claims_publicity_due", "publicity_ends_at",
          postgresql_where=text("status = 2"), sqlite_where=text("status = 2")),
)

#: The review group's decisions (评议记录).
claim_reviews = Table(
    "claim_reviews",
    metadata,
    Column("id", Id, primary_key=True),
    Column("claim_id", Id, ForeignKey("claims.id"), nullable=False, index=True),
    Column("decision", SmallInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reviewer", Actor, nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
)

#: Objections raised during publicity (异议).
claim_objections = Table(
    "claim_objections",
    metadata,
    Column("id", Id, primary_key=True),
    Column("claim_id", Id, ForeignKey("claims.id"), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("raised_by", Actor, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    # ObjectionStatus.
    Column("status", SmallInteger, nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by", Actor, nullable=True),
)

#: Goods of the points supermarkets (积分超市).
goods = Table(
    "goods",
    metadata,
    Column("id", Id, primary_key=True),
    Column("region_code", String(12), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Actor, nullable=False),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
    CheckConstraint("price > 0", name="price_positive"),
)

#: Every change of stock, with its reason (库存台账).
stock_moves = Table(
    "stock_moves",
    metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("goods_id", Id, ForeignKey("goods.id"), nullable=False, index=True),
    Column("change", Integer, nullable=False),
    Column("stock_after", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("redemption_id", Id, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
)

#: Redemptions (积分兑换).
redemptions = Table(
    "redemptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("region_code", String(12), nullable=False),
    Column("goods_id", Id, ForeignKey("goods.id"), nullable=False),
    Column("goods_name", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("points", BigInteger, nullable=False),
    # RedemptionStatus.
    Column("status", SmallInteger, nullable=False),
    Column("entry_id", Id, nullable=False),
    Column("cancel_entry_id", Id, nullable=True),
    Column("cancel_reason", String(500), nullable=True),
    Column("reserved_at", DateTime(timezone=True), nullable=False),
    Column("reserved_by", Actor, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("completed_by", Actor, nullable=True),
    Index("ix_redemptions_region", "region_code", "reserved_at"),
)

#: Closes of a scheme's year (年度结算): one per scheme.
cycle_closes = Table(
    "cycle_closes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("scheme_id", Id, ForeignKey("schemes.id"), nullable=False, unique=True),
    Column("year", SmallInteger, nullable=False),
    Column("policy", SmallInteger, nullable=False),
    Column("accounts", Integer, nullable=False),
    Column("points_reset", BigInteger, nullable=False),
    Column("base_scores_opened", Integer, nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("closed_by", Actor, nullable=False),
)

#: Outstanding villagers' representatives (优秀村民代表): the meeting's vote and the
#: certificate (荣誉证书), one per representative's account and year.
representative_honours = Table(
    "representative_honours",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    # The account's subject: the talent service's person id.
    Column("person_id", Id, nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("certificate_number", String(MAX_CERTIFICATE_NUMBER), nullable=False),
    # The resolution of the villagers' representative meeting (村民代表会议决议).
    Column("meeting_date", Date, nullable=False),
    Column("representatives_total", SmallInteger, nullable=False),
    Column("attendees", SmallInteger, nullable=False),
    Column("votes_for", SmallInteger, nullable=False),
    Column("votes_against", SmallInteger, nullable=False),
    Column("votes_abstain", SmallInteger, nullable=False),
    Column("resolution_number", String(200), nullable=False),
    Column("resolution_note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Actor, nullable=False),
    # One honour per representative and year; a certificate number names one honour
    # within its village and year. The index on region_code first serves the lists.
    UniqueConstraint("account_id", "year"),
    UniqueConstraint("region_code", "year", "certificate_number"),
)

#: Villagers' representatives' posts (村民代表任职) as talent's events tell them: one row per
#: talent post (``post_id``), written by its appointment (任职) or its end (离任), whichever
#: arrives first, and kept whether or not the person has an account. A representative's
#: account (村民代表积分) is open while one of the person's posts here is open; an
#: appointment of a post already ended opens nothing.
representative_posts = Table(
    "representative_posts",
    metadata,
    # Talent's post id (``GetPost``).
    Column("post_id", Id, primary_key=True),
    # Talent's person id: the representative account's subject.
    Column("person_id", Id, nullable=False),
    # 12-digit village code of the post.
    Column("region_code", String(12), nullable=False),
    # First and last day of the term; no last day while it is open.
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Index("ix_representative_posts_person", "person_id"),
)

messaging = MessagingTables(metadata)
