"""calendar_event_links.original_start: where an occurrence sat in its series

A calendar that reports a deleted occurrence by its id alone (Graph's ``@removed``) leaves
the sync to remember which series it belonged to and when it was due (R6).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calendar_event_links') as batch:
        batch.add_column(sa.Column('original_start', server.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calendar_event_links') as batch:
        batch.drop_column('original_start')
