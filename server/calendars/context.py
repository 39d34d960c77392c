"""What one page's decisions need to know, loaded in a handful of queries: the account's
directory and contacts, the stored links of the page's events (and of their series), the
meetings behind them, and the meetings the account already has for events this connection has
no link for yet (scheduled from the CRM (S1), logged from the sidebar (A6), or logged from
another rep's calendar), which the sync takes over instead of logging a second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from server.calendars import links
from server.calendars.links import Link, LogLine
from server.calendars.models import CalendarConnection
from server.calendars.provider import CalendarEvent
from server.calendars.rules import Known, LinkStatus, People, Series
from server.calendars.tables import CalendarOutboxItem, CalendarSyncState
from server.calendars.writer import NewMeeting
from server.crm import accounts, services
from server.crm.models import Meeting, Note, User


@dataclass
class PageContext:
    session: Session
    connection: CalendarConnection
    state: CalendarSyncState
    owner: User
    people: People
    now: datetime
    links: dict[str, Link] = field(default_factory=dict)
    log: list[LogLine] = field(default_factory=list)
    meetings: dict[int, Meeting] = field(default_factory=dict)
    with_notes: set[int] = field(default_factory=set)
    contact_ids: dict[str, int] = field(default_factory=dict)  # normalised address -> contact
    # event id -> (meeting, origin) for meetings to take over; see _adoptable
    adoptable: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    # Meetings this page logs: by event id until written, then by id (see ``writer``).
    pending: dict[str, NewMeeting] = field(default_factory=dict)
    written: dict[int, NewMeeting] = field(default_factory=dict)

    def meeting_of(self, link: Link) -> Meeting | NewMeeting | None:
        """The meeting behind a link, whether loaded, written by this page or still to be."""
        if link.meeting_id is not None:
            return self.meetings.get(link.meeting_id) or self.written.get(link.meeting_id)
        return self.pending.get(link.external_id)


def load_context(
    session: Session,
    connection: CalendarConnection,
    state: CalendarSyncState,
    events: Sequence[CalendarEvent],
    vendor_domains: Iterable[str],
    now: datetime,
) -> PageContext:
    """Everything the page's decisions need, in a handful of queries whatever its size."""
    owner = session.get(User, connection.user_id)
    assert owner is not None
    emails = {a.email for e in events for a in e.attendees} | {
        e.organizer_email for e in events if e.organizer_email
    }
    contacts = services.contacts_by_email(session, connection.account_id, emails)
    people = People(
        calendar_email=connection.external_email or owner.email,
        directory=accounts.directory(session, connection.account_id, vendor_domains),
        contacts=frozenset(contacts),
    )
    ctx = PageContext(session, connection, state, owner, people, now)
    ctx.contact_ids = {email: contact.id for email, contact in contacts.items()}
    ids = {e.id for e in events} | {e.recurring_event_id for e in events if e.recurring_event_id}
    _load_links(ctx, ids)
    unknown = [e for e in events if e.id not in ctx.links]
    if unknown:
        ctx.adoptable = _adoptable(session, connection.account_id, unknown)
        load_meetings(ctx, [m for m, _ in ctx.adoptable.values() if m])
    return ctx


def _adoptable(
    session: Session, account_id: int, events: Sequence[CalendarEvent]
) -> dict[str, tuple[int | None, str]]:
    """The account's meetings for these events, with the origin their link will get.

    A meeting someone chose to log (scheduled in the CRM, or noted in the sidebar) has origin
    "crm": it follows the event and outlives its deletion. One another rep's calendar logged
    keeps the calendar's rules. The outbox's own creates count even before the calendar
    answered with the event (the meeting may not carry the event id yet): by the event's id
    (Google's is our key) or by the key the calendar kept (Graph's ``transactionId``).
    Another calendar's copy of the same meeting (another rep, another provider) is found by
    its iCalendar UID.
    """
    keys: dict[str, str] = {}  # what to look for -> the event it stands for
    for event in events:
        keys[event.id] = event.id
        if event.client_key:
            keys.setdefault(event.client_key, event.id)
    wanted = list(keys)
    found: dict[str, tuple[int | None, str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for key, meeting_id, source in session.execute(
            select(Meeting.external_event_id, Meeting.id, Meeting.source)
            .where(Meeting.account_id == account_id, Meeting.external_event_id.in_(chunk))
            .order_by(Meeting.id)
        ):
            if key is not None and keys[key] not in found:
                found[keys[key]] = (meeting_id, _origin(source))
        for key, remote_id, meeting_id in session.execute(
            select(
                CalendarOutboxItem.idempotency_key,
                CalendarOutboxItem.remote_event_id,
                CalendarOutboxItem.meeting_id,
            ).where(
                CalendarOutboxItem.account_id == account_id,
                CalendarOutboxItem.kind == "create",
                or_(
                    CalendarOutboxItem.idempotency_key.in_(chunk),
                    CalendarOutboxItem.remote_event_id.in_(chunk),
                ),
            )
        ):
            found[keys[remote_id] if remote_id in keys else keys[key]] = (meeting_id, "crm")
    found.update(_same_meeting(session, account_id, [e for e in events if e.id not in found]))
    return found


def _origin(source: str) -> str:
    return "calendar" if source == "calendar" else "crm"


def _same_meeting(
    session: Session, account_id: int, events: Sequence[CalendarEvent]
) -> dict[str, tuple[int | None, str]]:
    """Meetings the account already has for these events' iCalendar UIDs. Only single events
    and series: an occurrence shares its series' UID at Google. Of several meetings with the
    UID (a series and its moved occurrences), the earliest is the series' or the event's."""
    by_uid: dict[str, str] = {}
    for event in events:
        if event.ical_uid and not event.is_instance and not event.cancelled:
            by_uid.setdefault(event.ical_uid, event.id)
    found: dict[str, tuple[int | None, str]] = {}
    uids = list(by_uid)
    for start in range(0, len(uids), 500):
        rows = session.execute(
            select(Meeting.ical_uid, Meeting.id, Meeting.source)
            .where(
                Meeting.account_id == account_id, Meeting.ical_uid.in_(uids[start : start + 500])
            )
            .order_by(Meeting.start_at, Meeting.id)
        )
        for uid, meeting_id, source in rows:
            event_id = by_uid[str(uid)]
            found.setdefault(event_id, (meeting_id, _origin(source)))
    return found


def _load_links(ctx: PageContext, ids: Iterable[str]) -> None:
    wanted = [i for i in ids if i not in ctx.links]
    for link in links.load_by_ids(ctx.session, ctx.connection.id, wanted):
        ctx.links[link.external_id] = link
    load_meetings(ctx, [lk.meeting_id for lk in ctx.links.values() if lk.meeting_id])


def load_meetings(ctx: PageContext, ids: Iterable[int]) -> None:
    wanted = [i for i in set(ids) if i not in ctx.meetings]
    if not wanted:
        return
    query = (
        select(Meeting)
        .where(Meeting.id.in_(wanted))
        .options(selectinload(Meeting.attendees), selectinload(Meeting.associations))
    )
    for meeting in ctx.session.scalars(query):
        ctx.meetings[meeting.id] = meeting
    noted = ctx.session.scalars(select(Note.parent_id).where(Note.parent_id.in_(wanted)))
    ctx.with_notes.update(n for n in noted if n is not None)


def order_for_processing(ctx: PageContext, events: Sequence[CalendarEvent]) -> list[CalendarEvent]:
    """Series masters first (live or deleted) so their occurrences see them."""

    def is_master(event: CalendarEvent) -> bool:
        link = ctx.links.get(event.id)
        return event.is_series or (link is not None and link.is_series)

    return sorted(events, key=lambda e: 0 if is_master(e) else 1)


def known_for(ctx: PageContext, event_id: str) -> Known | None:
    link = ctx.links.get(event_id)
    if link is None:
        if event_id in ctx.adoptable:  # a meeting exists; this connection has no link yet
            meeting_id, origin = ctx.adoptable[event_id]
            has = meeting_id is not None and meeting_id in ctx.meetings
            return Known(
                LinkStatus.LOGGED, has, origin=origin, has_notes=meeting_id in ctx.with_notes
            )
        return None
    meeting_id = link.meeting_id
    return Known(
        status=LinkStatus(link.status),
        has_meeting=ctx.meeting_of(link) is not None,
        origin=link.origin,
        has_notes=meeting_id is not None and meeting_id in ctx.with_notes,
        updated=link.event_updated,
        cancelled=link.remote_cancelled,
        is_series=link.is_series,
    )


def series_for(ctx: PageContext, event: CalendarEvent) -> Series | None:
    if event.recurring_event_id is None:
        return None
    master = ctx.links.get(event.recurring_event_id)
    if master is None:
        return None
    return Series(
        cancelled=master.remote_cancelled,
        logged=ctx.meeting_of(master) is not None,
        frozen=master.status == LinkStatus.FROZEN,
        private=master.private,
        created=master.event_created,
        fingerprint=master.fingerprint,
    )
