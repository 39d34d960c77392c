"""The sync's memory of each event (``calendar_event_links``) and its log lines, as plain
rows: read in one query per page, changed in memory while the page is decided, and written
back in bulk when the page is done (new ones by one multi-row insert, changed ones by one
``executemany`` update, log lines by one insert). No ORM unit of work on the hot path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from server.calendars.tables import CalendarEventLink, CalendarSyncLogEntry

LINKS = cast(Table, CalendarEventLink.__table__)
LOG = cast(Table, CalendarSyncLogEntry.__table__)
CHUNK = 500


@dataclass(eq=False)
class Link:
    connection_id: int
    external_id: str
    status: str = ""
    origin: str = "calendar"
    recurring_event_id: str | None = None
    is_series: bool = False
    remote_cancelled: bool = False
    meeting_id: int | None = None
    event_created: datetime | None = None
    event_updated: datetime | None = None
    original_start: datetime | None = None
    fingerprint: str | None = None
    private: bool = False
    seen_generation: int = 0
    id: int | None = None  # None until written
    changed: bool = False


_COLUMNS = tuple(f.name for f in fields(Link) if f.name not in ("id", "changed"))


@dataclass(eq=False)
class LogLine:
    connection_id: int
    created_at: datetime
    external_event_id: str | None
    action: str
    rule: str
    reason: str
    meeting_id: int | None = None


def load(session: Session, where: ColumnElement[bool]) -> list[Link]:
    query = select(LINKS.c.id, *(LINKS.c[name] for name in _COLUMNS)).where(where)
    return [Link(**row._asdict()) for row in session.execute(query)]


def load_by_ids(session: Session, connection_id: int, external_ids: Iterable[str]) -> list[Link]:
    wanted = list(external_ids)
    found: list[Link] = []
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found += load(
            session, (LINKS.c.connection_id == connection_id) & LINKS.c.external_id.in_(chunk)
        )
    return found


def write(session: Session, links: Iterable[Link], lines: Sequence[LogLine], now: datetime) -> None:
    """Insert the new links, update the changed ones, insert the log lines."""
    new = [link for link in links if link.id is None]
    changed = [link for link in links if link.id is not None and link.changed]
    if new:
        inserting = insert(LINKS).returning(LINKS.c.id, sort_by_parameter_order=True)
        rows = [{**values(link), "created_at": now, "updated_at": now} for link in new]
        for link, link_id in zip(new, session.execute(inserting, rows).scalars(), strict=True):
            link.id, link.changed = link_id, False
    if changed:
        # Core fills the SET clause from the parameters' keys.
        updating = update(LINKS).where(LINKS.c.id == bindparam("link_id"))
        session.execute(
            updating,
            [{**values(link), "link_id": link.id, "updated_at": now} for link in changed],
        )
        for link in changed:
            link.changed = False
    if lines:
        session.execute(insert(LOG), [line.__dict__ for line in lines])


def values(link: Link) -> dict[str, Any]:
    return {name: getattr(link, name) for name in _COLUMNS}
