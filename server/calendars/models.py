"""Calendar connection tables: one connection per rep (rules C1-C5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.crm.models import Timestamped, User
from server.db import Base

ACTIVE = "active"
NEEDS_RECONNECT = "needs_reconnect"
DISCONNECTED = "disconnected"


class CalendarConnection(Timestamped, Base):
    """A rep's connected calendar. Only the primary calendar is ever synced (C2).

    The refresh token is stored encrypted (C1). Disconnecting drops it and keeps the row, so
    what was logged stays and a later reconnect starts a fresh connection period (R5).
    """

    __tablename__ = "calendar_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    provider: Mapped[str] = mapped_column(String(16))
    external_email: Mapped[str] = mapped_column(String(254))
    calendar_id: Mapped[str] = mapped_column(String(1024), default="primary")
    status: Mapped[str] = mapped_column(String(32), default=ACTIVE)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text, default="")
    connected_at: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]
    status_reason: Mapped[str] = mapped_column(String(500), default="")

    user: Mapped[User] = relationship()

    @property
    def active(self) -> bool:
        return self.status == ACTIVE
