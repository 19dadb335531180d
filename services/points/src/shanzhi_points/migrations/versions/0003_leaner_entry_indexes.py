"""leaner entry indexes

A batch scoring writes thousands of entries in one transaction; each index on
entries costs it. One index on (account, day) now serves statements, limit counts
and rankings; reversals keep a partial unique index (an entry is reversed once).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 20:30:12.725901
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_entries_account'))
        batch_op.drop_index(op.f('ix_entries_batch'))
        batch_op.drop_index(op.f('ix_entries_item_use'))
        batch_op.drop_index(op.f('ix_entries_region_date'))
        batch_op.drop_constraint(op.f('uq_entries_reverses_entry_id'), type_='unique')
        batch_op.create_index('ix_entries_account_date', ['account_id', 'entry_date'], unique=False)
        batch_op.create_index('uq_entries_reverses', ['reverses_entry_id'], unique=True,
                              postgresql_where=sa.text('reverses_entry_id IS NOT NULL'),
                              sqlite_where=sa.text('reverses_entry_id IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index('uq_entries_reverses', postgresql_where=sa.text('reverses_entry_id IS NOT NULL'),
                            sqlite_where=sa.text('reverses_entry_id IS NOT NULL'))
        batch_op.drop_index('ix_entries_account_date')
        batch_op.create_unique_constraint(op.f('uq_entries_reverses_entry_id'), ['reverses_entry_id'])
        batch_op.create_index(op.f('ix_entries_region_date'), ['region_code', 'entry_date'], unique=False)
        batch_op.create_index(op.f('ix_entries_item_use'), ['account_id', 'item_code', 'entry_date'],
                              unique=False)
        batch_op.create_index(op.f('ix_entries_batch'), ['batch_id'], unique=False)
        batch_op.create_index(op.f('ix_entries_account'), ['account_id', 'seq'], unique=False)
