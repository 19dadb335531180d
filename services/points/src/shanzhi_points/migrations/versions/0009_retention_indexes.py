"""retention indexes

BRIN indexes on ``idempotency_keys.created_at`` and ``inbox.received_at``, by which
the retention task finds the rows older than their keep periods without reading the
tables. Rows go in in time order, so the indexes are small and cost inserts almost
nothing. SQLite makes them plain indexes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'],
                    postgresql_using='brin')
    op.create_index('ix_inbox_received_at', 'inbox', ['received_at'], postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_inbox_received_at', table_name='inbox')
    op.drop_index('ix_idempotency_keys_created_at', table_name='idempotency_keys')
