"""Salesforce tables: the account's connected org (grant, cursors, settings, API budget), the
links between CRM objects and Salesforce records, and the sync log (rule P1-P7, H9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.crm.models import Timestamped
from server.db import Base, utcnow

ACTIVE = "active"
NEEDS_RECONNECT = "needs_reconnect"
DISCONNECTED = "disconnected"
SF_ID_MAX = 18


class SalesforceOrg(Timestamped, Base):
    """One per account. The refresh token is stored encrypted with the org's ``instance_url``
    and the integration user's id; disconnecting drops the token and keeps the row (its
    settings, cursors and log), as for calendars (C5)."""

    __tablename__ = "salesforce_orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(32), default=DISCONNECTED)
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    instance_url: Mapped[str] = mapped_column(String(500), default="")
    org_id: Mapped[str] = mapped_column(String(SF_ID_MAX), default="")
    integration_user_id: Mapped[str] = mapped_column(String(SF_ID_MAX), default="")
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    # The settings document of the contract, and when each switch was last turned on (P2, H4).
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enabled_at: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    mappings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The pull's (SystemModstamp, Id) cursor per sObject (P7).
    cursors: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # API budget (H8): calls made today (UTC) and what the org said it has used.
    api_day: Mapped[str] = mapped_column(String(10), default="")
    api_calls_today: Mapped[int] = mapped_column(Integer, default=0)
    org_api_used: Mapped[int | None] = mapped_column(Integer)
    org_api_max: Mapped[int | None] = mapped_column(Integer)
    paused_until: Mapped[datetime | None]
    last_pull_at: Mapped[datetime | None]
    last_push_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # the queue lock's sign of life (server/locks.py)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class SalesforceLink(Base):
    """A CRM object and the Salesforce record it stands for. ``origin`` says who made the
        record: ``pull`` (the CRM object was made from it), ``push`` (it was made from the CRM
        object) or ``match`` (both existed: contacts by email). ``written_stamp`` is the
        ``SystemModstamp`` of the sync's own last write, so it is not read back as news (H6), and
    ``written_hash`` a digest of what the push last sent, so an unchanged activity is not sent
    again."""

    __tablename__ = "salesforce_links"
    __table_args__ = (
        UniqueConstraint("account_id", "object_type", "crm_id"),
        Index("ix_salesforce_links_record", "account_id", "salesforce_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(16))  # contact, activity, meeting, ...
    crm_id: Mapped[int] = mapped_column(Integer)
    salesforce_type: Mapped[str] = mapped_column(String(40))
    salesforce_id: Mapped[str] = mapped_column(String(SF_ID_MAX))
    origin: Mapped[str] = mapped_column(String(8), default="match")
    match_key: Mapped[str | None] = mapped_column(String(254))  # a contact link: its email
    written_stamp: Mapped[datetime | None]
    written_hash: Mapped[str | None] = mapped_column(String(64))  # what the push last sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SalesforceLogEntry(Base):
    """What the sync did with one record, and which rule said so, or the error (H9).
    ``status`` is ``failed`` for a record that could not be applied (retry it) and
    ``retried`` once it was retried."""

    __tablename__ = "salesforce_sync_log"
    __table_args__ = (
        Index("ix_salesforce_sync_log_account", "account_id", "id"),
        Index("ix_salesforce_sync_log_failed", "account_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    salesforce_type: Mapped[str] = mapped_column(String(40), default="")
    salesforce_id: Mapped[str | None] = mapped_column(String(SF_ID_MAX))
    crm_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(8), default="")


class SalesforceOutbox(Base):
    """A CRM engagement to push (or whose Task to delete), written in the transaction that
    changed it (H7). Rows are only added; the push reads an engagement's rows together,
    sends its state as it is then, and deletes the rows it handled. ``attempt`` marks a row
    whose create was sent to an org without the external-id field (when, to whom, under which
    subject): were its answer lost, the next push looks the Task up instead of creating a
    second one."""

    __tablename__ = "salesforce_outbox"
    __table_args__ = (Index("ix_salesforce_outbox_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    engagement_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # the engagement's: note, meeting, call, ...
    reason: Mapped[str] = mapped_column(String(16))  # created | changed | deleted | linked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
