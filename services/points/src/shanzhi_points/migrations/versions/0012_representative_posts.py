"""representative posts

Villagers' representatives' posts (村民代表任职) as talent's events tell them, one row per
talent post: recorded by the appointment (任职) or the end of the term (离任), whichever
arrives first, even when the person has no account. The representative's account is open
while one of the person's posts is open, so an end delivered before its appointment, an
appointment resent after its end, and the end of one of two posts (two villages) no longer
open or close the account wrongly.

Existing accounts start without their posts: events from now on record them. Downgrading
drops the table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('representative_posts',
    sa.Column('post_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_representative_posts'))
    )
    op.create_index('ix_representative_posts_person', 'representative_posts', ['person_id'])


def downgrade() -> None:
    op.drop_index('ix_representative_posts_person', table_name='representative_posts')
    op.drop_table('representative_posts')
