"""household returned on

``households.returned_on``: the last day a household came back after moving out (回迁,
``ReturnHousehold``), so that a later move-out (整户迁出) is not dated before it. Empty for
households that never moved back.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('households', sa.Column('returned_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('households') as batch:
        batch.drop_column('returned_on')
