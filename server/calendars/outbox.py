"""Scheduling from the CRM (S1-S3) through an outbox.

A new meeting writes a ``create`` row in the meeting's own transaction; the worker creates
the event on the owner's primary calendar, with invitations unless told not to. The row's
idempotency key is chosen when it is written and derived from the meeting, so a retried
create (a lost answer, a crash before the result was recorded) finds the event the first
attempt made and sends no second round of invitations; the provider's id for the event is
recorded apart from the key once it answers. Attendee changes in the CRM queue an ``update``
row that changes the event and notifies the guests (S3, beyond the original). Deleting the
meeting leaves the event alone (S2): nothing is queued.

Rows are claimed with one conditional update (a worker that dies holding one lets it go when
the claim ends), carried out by the handler of their kind, and retried with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import rows
from server.calendars import logfmt, rules
from server.calendars.connections import mark_needs_reconnect
from server.calendars.models import DISCONNECTED, CalendarConnection
from server.calendars.provider import (
    CalendarEvent,
    CalendarProvider,
    EventChanges,
    NewEvent,
    NotFound,
    ProviderError,
    ReconnectNeeded,
    TemporaryError,
)
from server.calendars.rules import LinkStatus
from server.calendars.sync import SyncEnv, refused_access
from server.calendars.tables import CalendarEventLink, CalendarOutboxItem, CalendarSyncState
from server.crm.models import Meeting, User, normalize_email

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=2)  # a worker that died with a row lets go of it after this
MAX_ATTEMPTS = 12
WAIT_FOR_RECONNECT = timedelta(minutes=15)
UPDATE_FIELDS = frozenset({"title", "description", "start", "end", "attendees"})


def idempotency_key(meeting: Meeting) -> str:
    """The key of the meeting's calendar event, derived from the meeting alone: the same
    meeting always gives the same key, a meeting of another database (or a recreated one with
    the same number) a different one, because the creation instant is part of it. It is
    base32hex of 5-1024 characters, so a provider that lets the caller choose the event id
    (Google) takes it as the id, and one that does not (Graph) as its ``transactionId``."""
    seed = f"meeting:{meeting.account_id}:{meeting.id}:{meeting.created_at.isoformat()}"
    digest = hashlib.sha256(seed.encode()).digest()[:20]
    return "ma" + base64.b32hexencode(digest).decode().lower().rstrip("=")


def schedule_create(
    session: Session, meeting: Meeting, *, send_invites: bool
) -> CalendarOutboxItem:
    item = CalendarOutboxItem(
        account_id=meeting.account_id,
        meeting_id=meeting.id,
        kind="create",
        idempotency_key=idempotency_key(meeting),
        notify=send_invites,
        next_attempt_at=meeting.created_at,
    )
    session.add(item)
    session.flush()
    return item


def schedule_update(
    session: Session, meeting: Meeting, fields: Iterable[str], *, send_invites: bool
) -> CalendarOutboxItem | None:
    """Queue a patch of the meeting's calendar event, if the CRM created one (S3)."""
    changed = sorted(set(fields) & UPDATE_FIELDS)
    create = session.scalar(
        select(CalendarOutboxItem).where(
            CalendarOutboxItem.meeting_id == meeting.id, CalendarOutboxItem.kind == "create"
        )
    )
    if not changed or create is None or create.status in ("skipped", "failed"):
        return None
    item = CalendarOutboxItem(
        account_id=meeting.account_id,
        meeting_id=meeting.id,
        kind="update",
        idempotency_key=create.idempotency_key,
        notify=send_invites,
        fields=",".join(changed),
    )
    session.add(item)
    session.flush()
    return item


# --- the worker's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    kind: str
    key: str
    event_id: str | None  # the provider's id of the event to update
    notify: bool
    fields: frozenset[str]
    connection: CalendarConnection
    refresh_token: str
    owner_email: str
    meeting: Meeting


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        (CalendarOutboxItem.status == "pending") & (CalendarOutboxItem.next_attempt_at <= now),
        (CalendarOutboxItem.status == "processing") & (CalendarOutboxItem.claimed_until < now),
    )


def process_due(env: SyncEnv, limit: int = 100) -> Counter[str]:
    """Carry out the due rows, oldest first."""
    with env.database.transaction() as session:
        ids = list(
            session.scalars(
                select(CalendarOutboxItem.id)
                .where(_claimable(env.now()))
                .order_by(CalendarOutboxItem.id)
                .limit(limit)
            )
        )
    return Counter(process_item(env, item_id) for item_id in ids)


def _claim(env: SyncEnv, item_id: int) -> bool:
    """Take the row for a while; a worker that dies holding it lets it go when the claim ends."""
    now = env.now()
    with env.database.transaction() as session:
        return rows.claim(
            session,
            CalendarOutboxItem,
            (CalendarOutboxItem.id == item_id) & _claimable(now),
            {
                "status": "processing",
                "claimed_until": now + CLAIM_FOR,
                "attempts": CalendarOutboxItem.attempts + 1,
            },
        )


def process_item(env: SyncEnv, item_id: int) -> str:
    """Create or patch one event; returns the row's new status (or ``busy``)."""
    if not _claim(env, item_id):
        return "busy"
    prepared = _prepare(env, item_id)
    if isinstance(prepared, str):
        return prepared
    provider = env.provider(prepared.connection, prepared.refresh_token)
    try:
        return _call(env, item_id, prepared, provider)
    finally:
        provider.close()


def _call(env: SyncEnv, item_id: int, prepared: _Job, provider: CalendarProvider) -> str:
    try:
        created = HANDLERS[prepared.kind](provider, prepared)
    except NotFound:
        return _finish(env, item_id, "skipped", "the calendar event no longer exists")
    except ReconnectNeeded:
        return _wait_for_reconnect(env, item_id, prepared.connection.id)
    except TemporaryError as exc:
        return _retry(env, item_id, str(exc), exc.retry_after)
    except ProviderError as exc:
        return _retry(env, item_id, str(exc), 300)
    env.fault("outbox.called")
    return _record(env, item_id, prepared, created)


def _prepare(env: SyncEnv, item_id: int) -> _Job | str:
    with env.database.transaction() as session:
        item = session.get(CalendarOutboxItem, item_id)
        assert item is not None
        meeting = session.get(Meeting, item.meeting_id) if item.meeting_id else None
        if meeting is None:
            reason = "the meeting was deleted before its event was made (S2: nothing to do)"
            return _close(item, "skipped", reason, env)
        owner = session.get(User, meeting.owner_id) if meeting.owner_id else None
        if owner is None:
            return _close(
                item, "skipped", "the meeting has no owner: no calendar to put it on", env
            )
        connection = session.scalar(
            select(CalendarConnection).where(CalendarConnection.user_id == owner.id)
        )
        if connection is None or connection.status == DISCONNECTED:
            reason = "the owner has no connected calendar: the meeting is logged, no event made"
            return _close(item, "skipped", reason, env)
        if not connection.active or not connection.refresh_token_encrypted:
            item.status, item.claimed_until = "pending", None
            item.next_attempt_at = env.now() + WAIT_FOR_RECONNECT
            item.reason = "waiting for the owner to reconnect the calendar"
            return "pending"
        create = None
        if item.kind == "update":
            create = session.scalar(
                select(CalendarOutboxItem).where(
                    CalendarOutboxItem.meeting_id == meeting.id,
                    CalendarOutboxItem.kind == "create",
                )
            )
            if create is None or create.status in ("skipped", "failed"):
                return _close(item, "skipped", "no calendar event was made for this meeting", env)
            if create.status != "done":  # the event must exist before it can be patched
                item.status, item.claimed_until = "pending", None
                item.next_attempt_at = env.now() + timedelta(seconds=30)
                return "pending"
        item.connection_id = connection.id
        token = env.cipher.decrypt(connection.refresh_token_encrypted)
        _ = meeting.attendees  # loaded now: used after the session closes
        target = create.remote_event_id if create is not None else None
        session.expunge_all()
        return _Job(
            item.kind,
            item.idempotency_key,
            target,
            item.notify,
            frozenset(filter(None, item.fields.split(","))),
            connection,
            token,
            owner.email_normalized,
            meeting,
        )


def _guests(job: _Job) -> tuple[tuple[str, str], ...]:
    return tuple(
        (a.email, a.name)
        for a in job.meeting.attendees
        if normalize_email(a.email) != job.owner_email
    )


def _new_event(job: _Job) -> NewEvent:
    meeting = job.meeting
    assert meeting.start_at is not None
    assert meeting.end_at is not None
    return NewEvent(
        title=meeting.title,
        start=meeting.start_at,
        end=meeting.end_at,
        time_zone=meeting.time_zone or "UTC",
        description=meeting.body,
        location=meeting.location or "",
        attendees=_guests(job),
        private_properties={"meetingAssistantMeetingId": str(meeting.id)},
    )


def _changes(job: _Job) -> EventChanges:
    meeting, fields = job.meeting, job.fields
    return EventChanges(
        title=meeting.title if "title" in fields else None,
        description=meeting.body if "description" in fields else None,
        start=meeting.start_at if "start" in fields or "end" in fields else None,
        end=meeting.end_at if "start" in fields or "end" in fields else None,
        time_zone=meeting.time_zone or "UTC",
        attendees=_guests(job) if "attendees" in fields else None,
    )


def _create(provider: CalendarProvider, job: _Job) -> CalendarEvent:
    return provider.create_event(job.key, _new_event(job), notify=job.notify)


def _update(provider: CalendarProvider, job: _Job) -> CalendarEvent:
    if job.event_id is None:
        raise NotFound("the calendar event was never recorded")
    return provider.update_event(job.event_id, _changes(job), notify=job.notify)


# What a row of each kind does to the calendar.
HANDLERS: dict[str, Callable[[CalendarProvider, _Job], CalendarEvent]] = {
    "create": _create,
    "update": _update,
}


def _close(item: CalendarOutboxItem, status: str, reason: str, env: SyncEnv) -> str:
    item.status, item.reason, item.claimed_until = status, reason[:500], None
    item.done_at = env.now()
    logfmt.info(log, "calendar outbox row closed", item=item.id, status=status)
    return status


def _finish(env: SyncEnv, item_id: int, status: str, reason: str) -> str:
    with env.database.transaction() as session:
        item = session.get(CalendarOutboxItem, item_id)
        assert item is not None
        return _close(item, status, reason, env)


def _retry(env: SyncEnv, item_id: int, error: str, after: float) -> str:
    with env.database.transaction() as session:
        item = session.get(CalendarOutboxItem, item_id)
        assert item is not None
        if item.attempts >= MAX_ATTEMPTS:
            return _close(item, "failed", error, env)
        item.status, item.reason, item.claimed_until = "pending", error[:500], None
        delay = max(after, 30.0 * 2 ** min(item.attempts - 1, 7))
        item.next_attempt_at = env.now() + timedelta(seconds=delay)
        return "pending"


def _wait_for_reconnect(env: SyncEnv, item_id: int, connection_id: int) -> str:
    with env.database.transaction() as session:
        connection = session.get(CalendarConnection, connection_id)
        if connection is not None and connection.active:
            mark_needs_reconnect(session, connection, refused_access(connection))
        item = session.get(CalendarOutboxItem, item_id)
        assert item is not None
        item.status, item.claimed_until = "pending", None
        item.next_attempt_at = env.now() + WAIT_FOR_RECONNECT
        item.reason = "waiting for the owner to reconnect the calendar"
        return "pending"


def _record(env: SyncEnv, item_id: int, job: _Job, event: CalendarEvent) -> str:
    """The event exists: note it on the meeting and link it, so the sync knows it as ours."""
    for attempt in (1, 2):
        try:
            with env.database.transaction() as session:
                item = session.get(CalendarOutboxItem, item_id)
                meeting = session.get(Meeting, job.meeting.id)
                assert item is not None
                if job.kind == "create":
                    item.remote_event_id = event.id
                if meeting is not None and job.kind == "create":
                    meeting.external_event_id = event.id
                    meeting.external_calendar_id = job.connection.calendar_id
                    meeting.ical_uid = event.ical_uid
                    _link(session, job.connection.id, event, meeting.id)
                elif meeting is not None:
                    _link(session, job.connection.id, event, meeting.id)
                sent = "invitations sent" if job.notify else "no invitations"
                verb = "created" if job.kind == "create" else "updated"
                return _close(item, "done", f"calendar event {verb} ({sent})", env)
        except IntegrityError:
            if attempt == 2:
                raise  # the sync linked the event at the same moment; the retry sees its link
    raise AssertionError("unreachable")


def _link(session: Session, connection_id: int, event: CalendarEvent, meeting_id: int) -> None:
    link = session.scalar(
        select(CalendarEventLink).where(
            CalendarEventLink.connection_id == connection_id,
            CalendarEventLink.external_id == event.id,
        )
    )
    state = session.get(CalendarSyncState, connection_id)
    if link is None:
        link = CalendarEventLink(connection_id=connection_id, external_id=event.id)
        session.add(link)
    link.origin, link.status, link.meeting_id = "crm", LinkStatus.LOGGED.value, meeting_id
    link.remote_cancelled = event.cancelled
    link.private = event.private
    link.fingerprint = rules.fingerprint(event)
    link.event_created = event.created or link.event_created
    if event.updated and (link.event_updated is None or event.updated > link.event_updated):
        link.event_updated = event.updated
    if state is not None:
        link.seen_generation = state.generation
