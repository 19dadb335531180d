"""closed cycle year on accounts

The last year whose cycle (年度结算) has closed for an account. The annual close sets it
on every account it closes, in the same transaction, so a write that locked or read the
account before the close committed finds the close on the account row itself.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('accounts', sa.Column('closed_cycle_year', sa.SmallInteger(), nullable=True))
    op.execute(
        "UPDATE accounts SET closed_cycle_year = c.year FROM ("
        " SELECT s.region_code, s.subject_kind, max(cc.year) AS year"
        " FROM cycle_closes cc JOIN schemes s ON s.id = cc.scheme_id"
        " GROUP BY s.region_code, s.subject_kind) c"
        " WHERE accounts.region_code = c.region_code AND accounts.subject_kind = c.subject_kind")


def downgrade() -> None:
    op.drop_column('accounts', 'closed_cycle_year')
