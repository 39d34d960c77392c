"""engagements.parent_id: a partial index (only notes have a parent)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text('parent_id IS NOT NULL')


def upgrade() -> None:
    op.drop_index('ix_engagements_parent_id', table_name='engagements')
    op.create_index(
        'ix_engagements_parent_id',
        'engagements',
        ['parent_id'],
        postgresql_where=WHERE,
        sqlite_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index('ix_engagements_parent_id', table_name='engagements')
    op.create_index('ix_engagements_parent_id', 'engagements', ['parent_id'])
