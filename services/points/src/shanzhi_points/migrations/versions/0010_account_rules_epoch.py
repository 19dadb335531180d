"""account rules epoch

``accounts.rules_epoch`` counts the adoptions (方案修订) that changed the rules an account
is scored by. Adopting a version that may take effect today raises it on every account
the scheme scores, so that a score read under the old rules but not yet written fails its
guard, or is read again, instead of landing on a day the new version governs.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('accounts', sa.Column('rules_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('rules_epoch')
