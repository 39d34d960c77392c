"""Tables of the calendar sync: per-connection sync state and lock row, the links from
calendar events to CRM meetings, the sync log, push channels and the CRM -> calendar outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.crm.models import Timestamped
from server.db import Base, utcnow

EXTERNAL_ID_MAX = 1024


class CalendarSyncState(Timestamped, Base):
    """Where a connection's sync stands. The cursor is written in the same transaction as
    the CRM changes of the page it follows, so a crash repeats a page and never skips one."""

    __tablename__ = "calendar_sync_states"

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE"), primary_key=True
    )
    sync_token: Mapped[str | None] = mapped_column(Text)
    page_token: Mapped[str | None] = mapped_column(Text)
    # A full listing is under way (first sync, or after a 410); ``generation`` numbers the
    # full listings so links not seen in the current one can be found (deleted meanwhile).
    full_sync: Mapped[bool] = mapped_column(Boolean, default=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    full_sync_started_at: Mapped[datetime | None]
    next_sync_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set by a push notification when it enqueues a sync; cleared when that sync starts.
    # Only the notification that flips it enqueues, so a burst coalesces into one sync.
    sync_requested_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    # Proof of life of the running sync; lets a queue lock left by a dead worker be taken over.
    heartbeat_at: Mapped[datetime | None]
    channel_retry_at: Mapped[datetime | None]


class CalendarEventLink(Timestamped, Base):
    """An event of a connected calendar and what the sync made of it."""

    __tablename__ = "calendar_event_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_calendar_event_links_series", "connection_id", "recurring_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE")
    )
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX))
    recurring_event_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX))
    is_series: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16), default="calendar")
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("engagements.id", ondelete="SET NULL"), index=True
    )
    event_created: Mapped[datetime | None]
    event_updated: Mapped[datetime | None]
    original_start: Mapped[datetime | None]  # an occurrence's place in its series (R6)
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_generation: Mapped[int] = mapped_column(Integer, default=0)


class CalendarSyncLogEntry(Base):
    """Why the sync did what it did with an event (readable through the API)."""

    __tablename__ = "calendar_sync_log"
    __table_args__ = (
        Index("ix_calendar_sync_log_connection", "connection_id", "id"),
        # /metrics counts the last hour's outcomes by rule.
        Index("ix_calendar_sync_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    external_event_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX))
    action: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500))
    meeting_id: Mapped[int | None] = mapped_column(Integer)  # history: no foreign key


# A push channel's life: active, superseded by its renewal (stopped once the new one works),
# stopped.
CHANNEL_ACTIVE, CHANNEL_SUPERSEDED, CHANNEL_STOPPED = "active", "superseded", "stopped"


class CalendarWatchChannel(Base):
    """A push channel (``events.watch``). Only a hash of its token is kept."""

    __tablename__ = "calendar_watch_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]


class CalendarOutboxItem(Base):
    """A change the CRM asks of a rep's calendar (S1, S3), written in the same transaction as
    the meeting and carried out by the worker. ``idempotency_key`` is chosen here, before any
    call, so a retried create lands on the same event and sends no second invitation; the
    provider's id of the event (``remote_event_id``) is recorded once it answers."""

    __tablename__ = "calendar_outbox"
    __table_args__ = (Index("ix_calendar_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("engagements.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX), index=True)
    remote_event_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX), index=True)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    fields: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    connection_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
