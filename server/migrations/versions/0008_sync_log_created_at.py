"""calendar_sync_log.created_at index (metrics: the last hour's outcomes by rule)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_calendar_sync_log_created_at', 'calendar_sync_log', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_calendar_sync_log_created_at', table_name='calendar_sync_log')
