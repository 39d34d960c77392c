"""salesforce push: the outbox of CRM activities to push, and what each link last sent

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('salesforce_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
    sa.Column('attempt', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_salesforce_outbox_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salesforce_outbox'))
    )
    with op.batch_alter_table('salesforce_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_salesforce_outbox_account', ['account_id', 'id'], unique=False)
    with op.batch_alter_table('salesforce_links') as batch:
        batch.add_column(sa.Column('written_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('salesforce_links') as batch:
        batch.drop_column('written_hash')
    with op.batch_alter_table('salesforce_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_salesforce_outbox_account')
    op.drop_table('salesforce_outbox')
