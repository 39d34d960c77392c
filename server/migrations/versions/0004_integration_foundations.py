"""integration foundations: outbox key apart from the remote event id; needs_reconnect

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calendar_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_outbox_event_id'))
        batch_op.alter_column('event_id', new_column_name='idempotency_key')
        batch_op.add_column(sa.Column('remote_event_id', sa.String(length=1024), nullable=True))
        batch_op.add_column(
            sa.Column('notify', sa.Boolean(), nullable=False, server_default=sa.true())
        )
    # A create whose row is done made the event under its key (Google took it as the id).
    op.execute(
        "UPDATE calendar_outbox SET notify = (send_updates = 'all'), "
        "remote_event_id = CASE WHEN status = 'done' THEN idempotency_key END"
    )
    with op.batch_alter_table('calendar_outbox', schema=None) as batch_op:
        batch_op.drop_column('send_updates')
        batch_op.alter_column('notify', server_default=None)
        batch_op.create_index(
            batch_op.f('ix_calendar_outbox_idempotency_key'), ['idempotency_key'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_calendar_outbox_remote_event_id'), ['remote_event_id'], unique=False
        )
    op.execute(
        "UPDATE calendar_connections SET status = 'needs_reconnect' "
        "WHERE status = 'reconnect_needed'"
    )
    # The sync lock is an advisory lock (server/locks.py): no row of its own any more.
    op.drop_table('calendar_sync_locks')


def downgrade() -> None:
    op.create_table(
        'calendar_sync_locks',
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['connection_id'],
            ['calendar_connections.id'],
            name=op.f('fk_calendar_sync_locks_connection_id_calendar_connections'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('connection_id', name=op.f('pk_calendar_sync_locks')),
    )
    op.execute(
        "INSERT INTO calendar_sync_locks (connection_id) SELECT connection_id FROM calendar_sync_states"
    )
    op.execute(
        "UPDATE calendar_connections SET status = 'reconnect_needed' "
        "WHERE status = 'needs_reconnect'"
    )
    with op.batch_alter_table('calendar_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_outbox_remote_event_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_outbox_idempotency_key'))
        batch_op.add_column(
            sa.Column('send_updates', sa.String(length=16), nullable=False, server_default='all')
        )
    op.execute("UPDATE calendar_outbox SET send_updates = CASE WHEN notify THEN 'all' ELSE 'none' END")
    with op.batch_alter_table('calendar_outbox', schema=None) as batch_op:
        batch_op.alter_column('send_updates', server_default=None)
        batch_op.drop_column('notify')
        batch_op.drop_column('remote_event_id')
        batch_op.alter_column('idempotency_key', new_column_name='event_id')
    with op.batch_alter_table('calendar_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_outbox_event_id'), ['event_id'], unique=False)
