"""claim reversals

A posted claim (积分申报) whose ledger entry is reversed (冲正) becomes reversed
(``CLAIM_STATUS_REVERSED`` = 7, 已冲正) and names the reversing entry in
``claims.reversal_entry_id``; its reviews (评议记录) get a line by whoever reversed it,
with the reversal's reason. The line's id is the reversing entry's id (one line per
reversal). Claims whose entry was reversed before this revision are brought to the same
state from the ledger; a line already there is not written twice.

Downgrading puts reversed claims back to posted (3) and drops the column; the review
lines stay, as the claims' history.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ClaimStatus values (points.proto) and REVIEW_DECISION_REJECT.
POSTED, REVERSED, REJECT = 3, 7, 2

#: The reversing entry of a claim's entry.
REVERSAL_OF_CLAIM = "SELECT {column} FROM entries r WHERE r.reverses_entry_id = claims.entry_id"


def upgrade() -> None:
    op.add_column('claims', sa.Column('reversal_entry_id', sa.String(length=36), nullable=True))
    op.execute(
        "INSERT INTO claim_reviews (id, claim_id, decision, reason, reviewer, reviewed_at)"
        f" SELECT r.id, c.id, {REJECT}, '冲正 (reversed): ' || r.reason, r.created_by, r.created_at"
        " FROM claims c JOIN entries r ON r.reverses_entry_id = c.entry_id"
        f" WHERE c.status = {POSTED}"
        " AND NOT EXISTS (SELECT 1 FROM claim_reviews x WHERE x.id = r.id)")
    op.execute(
        f"UPDATE claims SET status = {REVERSED},"
        f" reversal_entry_id = ({REVERSAL_OF_CLAIM.format(column='r.id')}),"
        f" updated_at = ({REVERSAL_OF_CLAIM.format(column='r.created_at')})"
        f" WHERE status = {POSTED} AND EXISTS ({REVERSAL_OF_CLAIM.format(column='1')})")


def downgrade() -> None:
    op.execute(f"UPDATE claims SET status = {POSTED} WHERE status = {REVERSED}")
    op.drop_column('claims', 'reversal_entry_id')
