"""representative honours

Outstanding villagers' representatives (优秀村民代表): the representative meeting's
vote and the honour certificate (荣誉证书), one per representative's account and
year; a certificate number is unique within its village and year.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('representative_honours',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('certificate_number', sa.String(length=50), nullable=False),
    sa.Column('meeting_date', sa.Date(), nullable=False),
    sa.Column('representatives_total', sa.SmallInteger(), nullable=False),
    sa.Column('attendees', sa.SmallInteger(), nullable=False),
    sa.Column('votes_for', sa.SmallInteger(), nullable=False),
    sa.Column('votes_against', sa.SmallInteger(), nullable=False),
    sa.Column('votes_abstain', sa.SmallInteger(), nullable=False),
    sa.Column('resolution_number', sa.String(length=200), nullable=False),
    sa.Column('resolution_note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_representative_honours_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_representative_honours')),
    sa.UniqueConstraint('account_id', 'year', name=op.f('uq_representative_honours_account_id_year')),
    sa.UniqueConstraint('region_code', 'year', 'certificate_number', name=op.f('uq_representative_honours_region_code_year_certificate_number'))
    )


def downgrade() -> None:
    op.drop_table('representative_honours')
