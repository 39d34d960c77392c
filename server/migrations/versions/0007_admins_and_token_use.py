"""account admins; API token names, last use and revocation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(
            sa.Column('is_admin', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The first user of each account (the one ``account create`` made) is its admin.
    op.execute(
        'UPDATE users SET is_admin = true WHERE id IN '
        '(SELECT MIN(id) FROM users GROUP BY account_id)'
    )
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('name', sa.String(length=100), nullable=False, server_default=''))
        batch.add_column(sa.Column('last_used_at', server.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('revoked_at', server.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('api_tokens') as batch:
        batch.alter_column('name', existing_type=sa.String(length=100), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('revoked_at')
        batch.drop_column('last_used_at')
        batch.drop_column('name')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('is_admin')
