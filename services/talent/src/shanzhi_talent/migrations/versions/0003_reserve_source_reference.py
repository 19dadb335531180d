"""reserve source reference

A reserve candidate put into the pool by another service's event keeps what put
it there (e.g. the points service's honour of an outstanding villagers'
representative, 优秀村民代表), unique, so the same honour never adds a second
candidate.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('reserve_candidates', sa.Column('source_reference', sa.String(length=100), nullable=True))
    op.create_index('uq_reserve_candidates_source_reference', 'reserve_candidates', ['source_reference'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_reserve_candidates_source_reference', table_name='reserve_candidates')
    with op.batch_alter_table('reserve_candidates', schema=None) as batch_op:
        batch_op.drop_column('source_reference')
