"""What the sync does with one calendar event: the rules R1-R9 of calendar-rules.md as one
pure function, :func:`decide`, that answers log / update / remove / mark canceled / freeze /
skip with the rule id and a reason. No database, no clock, no network: the engine gathers
the facts (what was decided before, the series, who is a contact) and applies the answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from server.calendars.provider import CalendarEvent
from server.crm.accounts import Directory
from server.crm.models import normalize_email


class Action(StrEnum):
    LOG = "log"
    UPDATE = "update"
    REMOVE = "remove"
    MARK_CANCELED = "mark_canceled"
    FREEZE = "freeze"
    SKIP = "skip"


class LinkStatus(StrEnum):
    """What the sync remembers about an event it has seen."""

    LOGGED = "logged"  # a meeting was logged for it (it may since have been deleted in the CRM)
    FROZEN = "frozen"  # R8: it turned private; its meeting stays as it was
    SKIPPED = "skipped"  # nothing logged (yet): R9 may log it on its next change
    REMOVED = "removed"  # its meeting was removed (R2, R6)


@dataclass(frozen=True)
class Known:
    """What the sync stored about this event id before."""

    status: LinkStatus
    has_meeting: bool
    origin: str = "calendar"  # "crm": the event was created by scheduling in the CRM (S1)
    has_notes: bool = False
    updated: datetime | None = None
    cancelled: bool = False  # the event was already a tombstone when last seen
    is_series: bool = False


@dataclass(frozen=True)
class Series:
    """The recurring master of an occurrence, as last stored."""

    cancelled: bool
    logged: bool
    frozen: bool = False
    private: bool = False
    created: datetime | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class People:
    """Who is who for this connection: the rep's calendar address, the account's internal
    directory (R4) and the existing contacts among the addresses in view (R3)."""

    calendar_email: str
    directory: Directory
    contacts: frozenset[str]


@dataclass(frozen=True)
class Decision:
    action: Action
    rule: str
    reason: str
    status: LinkStatus | None  # what to remember; None: nothing (the event can never qualify)
    contacts: tuple[str, ...] = ()  # normalised addresses of the contacts to log it for
    cascade: bool = False  # a whole series went: its occurrences' meetings go too (R6)
    quiet: bool = False  # not worth a sync-log line (an unchanged replay)


def fingerprint(event: CalendarEvent) -> str:
    """What makes an occurrence look like its series, start time aside (R6)."""
    duration = (event.end - event.start).total_seconds() if event.start and event.end else 0
    guests = sorted((normalize_email(a.email), a.response_status) for a in event.attendees)
    parts = [event.title, event.description, event.location, event.visibility, str(duration)]
    parts += [f"{email}={status}" for email, status in guests]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Guests:
    contacts: tuple[str, ...]
    internal: int
    external: int


def match_guests(event: CalendarEvent, people: People) -> Guests:
    """R1, R3, R4: the guests (and the organizer) who are existing contacts, compared
    case-insensitively and never guessed; internal people and the rep never count."""
    addresses = [a.email for a in event.attendees if not a.resource]
    if event.organizer_email:
        addresses.append(event.organizer_email)
    own = normalize_email(people.calendar_email)
    contacts: list[str] = []
    internal = external = 0
    for email in dict.fromkeys(normalize_email(a) for a in addresses):
        if email == own:
            continue
        if people.directory.is_internal(email):
            internal += 1
        elif email in people.contacts:
            contacts.append(email)
        else:
            external += 1
    return Guests(tuple(contacts), internal, external)


def _skip(rule: str, reason: str, status: LinkStatus | None = LinkStatus.SKIPPED) -> Decision:
    return Decision(Action.SKIP, rule, reason, status)


def decide(
    event: CalendarEvent,
    people: People,
    connected_at: datetime,
    known: Known | None = None,
    series: Series | None = None,
) -> Decision:
    """The one decision for ``event`` on a calendar connected at ``connected_at``."""
    if known is not None:
        if known.status is LinkStatus.FROZEN:
            return _skip("R8", "turned private earlier: its meeting stays as it was", known.status)
        if known.status is LinkStatus.LOGGED and not known.has_meeting:
            reason = "its meeting was deleted in the CRM: the event is left alone (S2)"
            return _skip("S2", reason, known.status)
        unchanged = (
            event.updated is not None
            and known.updated is not None
            and event.updated <= known.updated
        ) or (event.cancelled and known.cancelled)
        if unchanged:
            return Decision(Action.SKIP, "-", "unchanged", known.status, quiet=True)
    if event.cancelled:
        return _cancelled(event, known, series)
    return _live(event, people, connected_at, known, series)


def _cancelled(event: CalendarEvent, known: Known | None, series: Series | None) -> Decision:
    has_meeting = known is not None and known.status is LinkStatus.LOGGED and known.has_meeting
    keep = known is not None and (known.has_notes or known.origin == "crm")
    why_kept = "it carries notes" if known and known.has_notes else "it was scheduled in the CRM"
    if event.is_series or (known is not None and known.is_series):
        reason = "the whole series was deleted: every meeting it logged is removed"
        if has_meeting and keep:
            reason += f"; the first occurrence is kept as canceled because {why_kept}"
            return Decision(Action.MARK_CANCELED, "R6", reason, LinkStatus.LOGGED, cascade=True)
        return Decision(Action.REMOVE, "R6", reason, LinkStatus.REMOVED, cascade=True)
    if event.is_instance:
        if series is not None and series.cancelled:
            if has_meeting and not keep:
                return Decision(Action.REMOVE, "R6", "its series was deleted", LinkStatus.REMOVED)
            if has_meeting:
                reason = f"its series was deleted; kept as canceled because {why_kept}"
                return Decision(Action.MARK_CANCELED, "R6", reason, LinkStatus.LOGGED)
            return _skip("R6", "its series was deleted; nothing logged for it", LinkStatus.REMOVED)
        reason = "this occurrence was cancelled on its own: logged as canceled"
        if has_meeting:
            return Decision(Action.MARK_CANCELED, "R6", reason, LinkStatus.LOGGED)
        if series is None:
            return _skip("R6", "cancelled occurrence of a series that was never synced")
        if series.frozen or series.private:
            return _skip("R8", "cancelled occurrence of a private series")
        if not series.logged:
            return _skip("R6", "cancelled occurrence of a series that logged nothing")
        return Decision(Action.MARK_CANCELED, "R6", reason, LinkStatus.LOGGED)
    if has_meeting and keep:
        reason = f"deleted in the calendar; kept with outcome canceled because {why_kept}"
        return Decision(Action.MARK_CANCELED, "R2", reason, LinkStatus.LOGGED)
    if has_meeting:
        return Decision(Action.REMOVE, "R2", "deleted in the calendar", LinkStatus.REMOVED)
    return _skip("R2", "deleted; nothing had been logged for it", LinkStatus.REMOVED)


def _live(
    event: CalendarEvent,
    people: People,
    connected_at: datetime,
    known: Known | None,
    series: Series | None,
) -> Decision:
    has_meeting = known is not None and known.status is LinkStatus.LOGGED and known.has_meeting
    own = known is not None and known.origin == "crm"
    if not event.is_meeting:
        return _skip("R1", f"not a meeting ({event.event_type.replace('_', ' ')})")
    if event.private:
        if has_meeting:
            reason = "turned private: the meeting stays as it was and is no longer synced"
            return Decision(Action.FREEZE, "R8", reason, LinkStatus.FROZEN)
        return _skip("R8", "private event")
    if event.all_day:
        if has_meeting and not own and not (known and known.has_notes):
            return Decision(Action.REMOVE, "R7", "turned into an all-day event", LinkStatus.REMOVED)
        status = LinkStatus.LOGGED if has_meeting else LinkStatus.SKIPPED
        return _skip("R7", "all-day event", status)
    if own:
        reason = "scheduled from the CRM: the meeting follows the event (logged once)"
        return Decision(Action.UPDATE, "S1", reason, LinkStatus.LOGGED)
    created = event.created or (series.created if series else None)
    if not has_meeting and (created is None or _ms(created) < _ms(connected_at)):
        return _skip("R5", "created before the calendar was connected", None)
    if event.is_instance and not has_meeting and series is not None:
        moved = event.original_start is not None and event.start != event.original_start
        if not moved and series.fingerprint == fingerprint(event):
            return _skip("R6", "occurrence follows its series, logged at its first occurrence")
    guests = match_guests(event, people)
    if not guests.contacts:
        if has_meeting and known and known.has_notes:
            reason = "no guest is a contact any more; kept because it carries notes"
            return Decision(Action.UPDATE, "R2", reason, LinkStatus.LOGGED)
        if has_meeting:
            reason = "no guest is a contact any more"
            return Decision(Action.REMOVE, "R2", reason, LinkStatus.REMOVED)
        if guests.internal and not guests.external:
            return _skip("R4", "every guest is internal")
        if not guests.external:
            return _skip("R1", "no guests")
        return _skip("R9", "no guest is an existing contact (contacts are never created)")
    if has_meeting:
        return Decision(Action.UPDATE, "R2", "event changed", LinkStatus.LOGGED, guests.contacts)
    if event.is_series:
        reason = "recurring: logged at the series' first occurrence"
        return Decision(Action.LOG, "R6", reason, LinkStatus.LOGGED, guests.contacts)
    if event.is_instance:
        reason = "occurrence moved, edited or re-answered: logged on its own"
        return Decision(Action.LOG, "R6", reason, LinkStatus.LOGGED, guests.contacts)
    reason = "guests include existing contacts"
    return Decision(Action.LOG, "R1", reason, LinkStatus.LOGGED, guests.contacts)


def _ms(moment: datetime) -> int:
    """Milliseconds: calendars stamp ``created`` to the millisecond; compare at that grain."""
    return int(moment.timestamp() * 1000)
