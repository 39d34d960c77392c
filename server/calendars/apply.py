"""Applying the rules' decisions to the CRM, one page of events at a time.

Everything here runs inside the page's transaction: the meetings, the event links, the sync
log lines and (in ``sync.py``) the cursor commit together or not at all. What the page needs
is loaded up front (``context``); new meetings are written in bulk (``writer``) when the page
is done, or before anything that reads the database back (a series' cascade, reconciling);
changes to existing meetings touch only what was loaded. No per-event query or flush.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update

from server.calendars import links, rules, writer
from server.calendars.context import (
    PageContext,
    known_for,
    load_context,
    load_meetings,
    order_for_processing,
    series_for,
)
from server.calendars.links import Link, LogLine
from server.calendars.meetings import attendee_inputs, meeting_key
from server.calendars.provider import CalendarEvent
from server.calendars.rules import Action, Decision, Known, LinkStatus, Series
from server.calendars.writer import NewMeeting
from server.crm import services
from server.crm.models import Association, Attendee, Meeting
from server.crm.services import AttendeeInput

__all__ = ["PageContext", "load_context", "order_for_processing", "process", "reconcile"]

_AUTO = Known(LinkStatus.SKIPPED, False)  # marker: look the event's history up


def process(
    ctx: PageContext, event: CalendarEvent, *, known: Known | None = _AUTO, note: str = ""
) -> Decision:
    """Decide for one event and apply the decision, with its sync-log line; returns it."""
    if known is _AUTO:
        known = known_for(ctx, event.id)
    series = series_for(ctx, event)
    decision = rules.decide(event, ctx.people, ctx.connection.connected_at, known, series)
    if note:
        decision = replace(decision, reason=f"{note}: {decision.reason}")
    link = ctx.links.get(event.id)
    meeting: Meeting | NewMeeting | None
    if link is not None:
        meeting = ctx.meeting_of(link)
    else:
        meeting = ctx.meetings.get(ctx.adoptable.get(event.id, (None, ""))[0] or -1)
    meeting = _apply(ctx, event, decision, meeting, series)
    if meeting is None and decision.action in (Action.LOG, Action.MARK_CANCELED):
        # Nothing could be made (a cancelled occurrence whose series' meeting is gone): a
        # LOGGED link without a meeting would read as "deleted in the CRM" from now on.
        decision = replace(decision, action=Action.SKIP, status=LinkStatus.SKIPPED)
    if decision.status is not None:
        _remember(ctx, event, decision, link, meeting, known)
    if decision.cascade:
        _cascade(ctx, event.id)
    ctx.counts[decision.action.value] += 1
    if not decision.quiet:
        entry = LogLine(
            connection_id=ctx.connection.id,
            created_at=ctx.now,
            external_event_id=event.id,
            action=decision.action.value,
            rule=decision.rule,
            reason=decision.reason[:500],
        )
        _point_at(entry, meeting)
        ctx.log.append(entry)
    return decision


def _point_at(row: Link | LogLine, meeting: object) -> None:
    if isinstance(meeting, NewMeeting):
        meeting.refer(row)
    else:
        row.meeting_id = meeting.id if isinstance(meeting, Meeting) else None


def write_pending(ctx: PageContext) -> None:
    """Write what the page decided so far: new meetings (see ``writer``), then the links and
    log lines that point at them (see ``links``), then changes to loaded meetings."""
    pending = list(ctx.pending.values())
    writer.write(ctx.session, pending)
    for meeting in pending:
        assert meeting.id is not None
        ctx.written[meeting.id] = meeting
    ctx.pending.clear()
    links.write(ctx.session, list(ctx.links.values()), ctx.log, ctx.now)
    ctx.log.clear()
    ctx.session.flush()


def _apply(
    ctx: PageContext,
    event: CalendarEvent,
    decision: Decision,
    meeting: Meeting | NewMeeting | None,
    series: Series | None,
) -> Meeting | NewMeeting | None:
    action = decision.action
    if isinstance(meeting, NewMeeting) and action in (Action.UPDATE, Action.REMOVE):
        write_pending(ctx)  # written this page: act on it as on any stored meeting
        load_meetings(ctx, [meeting.id] if meeting.id else [])
        meeting = ctx.meetings.get(meeting.id or -1)
    if action is Action.LOG:
        return _create(ctx, event, decision.contacts)
    if action is Action.UPDATE and isinstance(meeting, Meeting):
        _update(ctx, meeting, event, decision.contacts)
        return meeting
    if action is Action.REMOVE and isinstance(meeting, Meeting):
        ctx.session.delete(meeting)
        ctx.meetings.pop(meeting.id, None)
        ctx.written.pop(meeting.id, None)
        return None
    if action is Action.MARK_CANCELED:
        if isinstance(meeting, NewMeeting):
            meeting.row["outcome"] = "canceled"
            if meeting.id is not None:  # already written this page
                engagements = writer.ENGAGEMENTS
                ctx.session.execute(
                    update(engagements)
                    .where(engagements.c.id == meeting.id)
                    .values(outcome="canceled")
                )
            return meeting
        if meeting is not None:
            meeting.outcome = "canceled"
            return meeting
        return _canceled_occurrence(ctx, event, series)
    return meeting


def _contact_pairs(ctx: PageContext, contacts: Sequence[str]) -> list[tuple[str, int]]:
    return [("contact", ctx.contact_ids[email]) for email in contacts if email in ctx.contact_ids]


def _create(ctx: PageContext, event: CalendarEvent, contacts: Sequence[str]) -> NewMeeting:
    assert event.start is not None
    assert event.end is not None
    people = attendee_inputs(event)
    meeting = writer.new_meeting(
        event.id,
        account_id=ctx.connection.account_id,
        owner_id=ctx.owner.id,
        title=event.title or "(no title)",
        start=event.start,
        end=event.end,
        attendees=writer.attendee_rows(people, ctx.people.directory, ctx.contact_ids),
        associations=_contact_pairs(ctx, contacts),
        now=ctx.now,
        description=event.description,
        time_zone=event.time_zone,
        outcome="scheduled",
        location=event.location or None,
        video_url=event.video_url,
        external_calendar_id=ctx.connection.calendar_id,
        external_event_id=event.id,
        ical_uid=event.ical_uid,
        idempotency_key=meeting_key(event.id),
    )
    ctx.pending[event.id] = meeting
    return meeting


def _update(
    ctx: PageContext, meeting: Meeting, event: CalendarEvent, contacts: Sequence[str]
) -> None:
    if event.start is not None and event.end is not None:
        services.reschedule(meeting, event.start, max(event.end, event.start))
    meeting.title = event.title or meeting.title
    meeting.body = event.description
    meeting.time_zone = event.time_zone or meeting.time_zone
    meeting.location = event.location or None
    meeting.video_url = event.video_url or meeting.video_url
    meeting.ical_uid = event.ical_uid or meeting.ical_uid
    meeting.external_event_id = event.id
    if meeting.outcome == "canceled":
        meeting.outcome = "scheduled"  # the event is live again
    _set_attendees(ctx, meeting, attendee_inputs(event))
    if meeting.source == "calendar":
        # The contacts are ours to keep in step; deals or companies someone added are not.
        _set_contacts(meeting, _contact_pairs(ctx, contacts))


def _set_attendees(ctx: PageContext, meeting: Meeting, people: Sequence[AttendeeInput]) -> None:
    """``services.set_attendees`` on what the page loaded: no query, no flush."""
    wanted = {
        row["email_normalized"]: row
        for row in writer.attendee_rows(people, ctx.people.directory, ctx.contact_ids)
    }
    current = {a.email_normalized: a for a in meeting.attendees}
    for key, attendee in current.items():
        if key not in wanted:
            meeting.attendees.remove(attendee)
    for key, row in wanted.items():
        found = current.get(key)
        if found is None:
            meeting.attendees.append(Attendee(**row))
            continue
        attendee = found
        attendee.name = row["name"] or attendee.name or ""
        attendee.response_status = row["response_status"]
        attendee.organizer = row["organizer"]
        attendee.internal = row["internal"]
        attendee.contact_id = row["contact_id"]


def _set_contacts(meeting: Meeting, pairs: Sequence[tuple[str, int]]) -> None:
    """The meeting's contact associations become ``pairs``; others stay as they are."""
    wanted = set(pairs)
    for association in list(meeting.associations):
        pair = (association.object_type, association.object_id)
        if association.object_type == "contact" and pair not in wanted:
            meeting.associations.remove(association)
    have = {(a.object_type, a.object_id) for a in meeting.associations}
    for object_type, object_id in dict.fromkeys(pairs):
        if (object_type, object_id) not in have:
            meeting.associations.append(Association(object_type=object_type, object_id=object_id))


def _canceled_occurrence(
    ctx: PageContext, event: CalendarEvent, series: Series | None
) -> NewMeeting | None:
    """R6: a meeting of its own, outcome canceled, at the occurrence's original time, with
    the series' title and guests (a cancelled occurrence arrives as a bare tombstone)."""
    master_link = ctx.links.get(event.recurring_event_id or "")
    master = ctx.meeting_of(master_link) if master_link else None
    if master is None or series is None or event.original_start is None:
        return None
    if isinstance(master, NewMeeting):
        row, attendees, associations = master.row, master.attendees, master.associations
        copied = {k: row[k] for k in ("title", "time_zone", "location", "ical_uid")}
        length = row["end_at"] - row["start_at"]
    else:
        attendees = [{c: getattr(a, c) for c in writer.ATTENDEE_FIELDS} for a in master.attendees]
        associations = [(a.object_type, a.object_id) for a in master.associations]
        copied = {k: getattr(master, k) for k in ("title", "time_zone", "location", "ical_uid")}
        ends = master.end_at and master.start_at
        length = (master.end_at - master.start_at) if ends else timedelta(0)  # type: ignore[operator]
    start = event.original_start
    meeting = writer.new_meeting(
        event.id,
        account_id=ctx.connection.account_id,
        owner_id=ctx.owner.id,
        start=start,
        end=start + length,
        attendees=[dict(a) for a in attendees],
        associations=associations,
        now=ctx.now,
        outcome="canceled",
        external_calendar_id=ctx.connection.calendar_id,
        external_event_id=event.id,
        idempotency_key=meeting_key(event.id),
        **copied,
    )
    ctx.pending[event.id] = meeting
    return meeting


def _remember(
    ctx: PageContext,
    event: CalendarEvent,
    decision: Decision,
    link: Link | None,
    meeting: Meeting | NewMeeting | None,
    known: Known | None,
) -> Link:
    assert decision.status is not None
    if link is None:
        link = Link(
            connection_id=ctx.connection.id,
            external_id=event.id,
            origin=known.origin if known else "calendar",
        )
        ctx.links[event.id] = link
    before = links.values(link)
    link.status = decision.status.value
    _point_at(link, meeting)
    link.remote_cancelled = event.cancelled
    link.recurring_event_id = event.recurring_event_id or link.recurring_event_id
    link.original_start = event.original_start or link.original_start
    link.is_series = event.is_series or link.is_series
    if not event.cancelled:
        link.private = event.private
        link.fingerprint = rules.fingerprint(event)
        link.event_created = event.created or link.event_created
    if event.updated is not None and (
        link.event_updated is None or event.updated > link.event_updated
    ):
        link.event_updated = event.updated
    if ctx.state.full_sync:
        link.seen_generation = ctx.state.generation
    link.changed = link.changed or links.values(link) != before
    return link


def _as_news(known: Known | None) -> Known | None:
    """The event's end is news even if it was a tombstone before (skip no "unchanged")."""
    return replace(known, cancelled=False, updated=None) if known is not None else None


def _cascade(ctx: PageContext, master_id: str) -> None:
    """R6: a deleted series takes every meeting its occurrences logged with it."""
    write_pending(ctx)
    children = links.load(
        ctx.session,
        (links.LINKS.c.connection_id == ctx.connection.id)
        & (links.LINKS.c.recurring_event_id == master_id)
        & links.LINKS.c.meeting_id.is_not(None),
    )
    for child in children:
        ctx.links.setdefault(child.external_id, child)
    load_meetings(ctx, [c.meeting_id for c in children if c.meeting_id])
    for child in children:
        tombstone = CalendarEvent(
            id=child.external_id, status="cancelled", recurring_event_id=master_id
        )
        known = _as_news(known_for(ctx, child.external_id))
        process(ctx, tombstone, known=known, note="series deleted")


def reconcile(ctx: PageContext, window: tuple[datetime, datetime] | None = None) -> int:
    """After a full listing: a logged event the listing no longer holds was deleted while we
    were not looking (tombstones do not last forever). Links touched since the listing began
    are spared: the outbox may have just created their event. Where the listing covered only
    a ``window`` of time, only meetings inside it are judged."""
    write_pending(ctx)
    state = ctx.state
    started = state.full_sync_started_at or ctx.now
    table = links.LINKS
    where = (
        (table.c.connection_id == ctx.connection.id)
        & (table.c.seen_generation < state.generation)
        & (table.c.status == LinkStatus.LOGGED.value)
        & table.c.meeting_id.is_not(None)
        & (table.c.updated_at < started)
    )
    if window is not None:
        inside = select(Meeting.id).where(
            Meeting.start_at >= window[0], Meeting.start_at < window[1]
        )
        where = where & table.c.meeting_id.in_(inside)
    stale = links.load(ctx.session, where)
    for link in stale:
        ctx.links.setdefault(link.external_id, link)
    load_meetings(ctx, [lk.meeting_id for lk in stale if lk.meeting_id])
    for link in stale:
        if link.meeting_id not in ctx.meetings:
            continue  # already removed with its series in this loop
        tombstone = CalendarEvent(
            id=link.external_id, status="cancelled", recurring_event_id=link.recurring_event_id
        )
        known = _as_news(known_for(ctx, link.external_id))
        process(ctx, tombstone, known=known, note="missing from the full listing")
    return len(stale)
