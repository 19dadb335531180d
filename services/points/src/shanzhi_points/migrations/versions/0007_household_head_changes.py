"""household head changes

Changes of head of household (户主变更): each change is kept in
``household_head_changes`` (户主变更记录) with the previous and new head, the day,
the reason and who recorded it; ``households.head_member_id`` names the member who
is head when the head was chosen from the recorded members. Existing households
start without a history and without a head member.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('households', sa.Column('head_member_id', sa.String(length=36), nullable=True))
    op.create_table('household_head_changes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('previous_head_name', sa.String(length=50), nullable=False),
    sa.Column('previous_member_id', sa.String(length=36), nullable=True),
    sa.Column('head_name', sa.String(length=50), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=True),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_head_changes_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_head_changes'))
    )
    op.create_index(op.f('ix_household_head_changes_household_id'), 'household_head_changes', ['household_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_household_head_changes_household_id'), table_name='household_head_changes')
    op.drop_table('household_head_changes')
    op.drop_column('households', 'head_member_id')
