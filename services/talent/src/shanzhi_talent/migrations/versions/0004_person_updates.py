"""person updates

Who last changed a person's record (人员信息维护, 留痕) and when: UpdatePerson sets
both; null until the first change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 22:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('people', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('people', sa.Column('updated_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('updated_by')
        batch_op.drop_column('updated_at')
