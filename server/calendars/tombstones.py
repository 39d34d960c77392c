"""Completing bare tombstones before a page is applied.

Google's tombstone of an occurrence names its series and its original start; Graph's
``@removed`` names nothing but the id. What the id was is in its link: an occurrence of a
series (and when it was due), or a series master. Whether the occurrence was cancelled on its
own or went with its whole series (R6) depends on whether the series still exists, which only
the calendar can say: its master is asked for once (outside any transaction), and a master
that is gone joins the page as a deleted series, ahead of its occurrences.
"""

from __future__ import annotations

from dataclasses import replace

from server.calendars import links
from server.calendars.provider import CalendarEvent, CalendarProvider, EventPage, NotFound
from server.db import Database


def complete(
    database: Database, provider: CalendarProvider, connection_id: int, page: EventPage
) -> EventPage:
    bare = [e for e in page.events if e.cancelled and not e.is_instance and not e.is_series]
    if not bare:
        return page
    with database.transaction() as session:
        remembered = {
            link.external_id: link
            for link in links.load_by_ids(session, connection_id, [e.id for e in bare])
            if link.recurring_event_id or link.is_series
        }
    if not remembered:
        return page
    bare_ids = {e.id for e in bare}
    listed = {e.id for e in page.events}
    gone: dict[str, CalendarEvent] = {}
    events: list[CalendarEvent] = []
    for event in page.events:
        link = remembered.get(event.id) if event.id in bare_ids else None
        if link is None:
            events.append(event)
        elif link.is_series:
            events.append(replace(event, is_series=True))
        else:
            master = str(link.recurring_event_id)
            if master not in listed and master not in gone:
                deleted = _deleted_series(provider, master)
                if deleted is not None:
                    gone[master] = deleted
            events.append(
                replace(event, recurring_event_id=master, original_start=link.original_start)
            )
    return replace(page, events=tuple(gone.values()) + tuple(events))


def _deleted_series(provider: CalendarProvider, master_id: str) -> CalendarEvent | None:
    """A tombstone for the series when the calendar no longer has it, else None."""
    try:
        master = provider.get_event(master_id)
    except NotFound:
        return CalendarEvent(id=master_id, status="cancelled", is_series=True)
    return replace(master, is_series=True) if master.cancelled else None
