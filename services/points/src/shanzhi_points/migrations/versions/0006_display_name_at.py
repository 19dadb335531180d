"""display name time on accounts

When the talent record an account's display name (显示名称) came from was changed: the
time of the event that set it. A rename older than that is not applied, so a rename
delivered late, or replayed under another event id, does not bring an old name back.
Existing accounts start without one: the next rename applies.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('accounts', sa.Column('display_name_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('accounts', 'display_name_at')
