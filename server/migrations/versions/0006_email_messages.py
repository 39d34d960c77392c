"""logged emails (A7): one row per RFC 822 Message-ID per account

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 00:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'email_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('rfc822_id', sa.String(length=998), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('sender', sa.String(length=254), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('logged_by_id', sa.Integer(), nullable=True),
        sa.Column('logged_at', server.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['activity_id'], ['engagements.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['logged_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('account_id', 'rfc822_id'),
    )


def downgrade() -> None:
    op.drop_table('email_messages')
