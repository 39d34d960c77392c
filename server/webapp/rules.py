"""The rules the sync log names, in the words the settings page shows beside each id."""

from __future__ import annotations

RULES = {
    "C1": "connecting needs an offline grant, kept encrypted",
    "C2": "only the primary calendar is synced",
    "C3": "one calendar connection per rep",
    "C4": "every user of the account can connect their own calendar",
    "C5": "disconnecting stops the sync and keeps what was logged",
    "S1": "meetings scheduled in the CRM go on the calendar, invitations sent",
    "S2": "deleting a meeting in the CRM leaves the calendar event",
    "S3": "attendee changes in the CRM update the event",
    "R1": "events with contacts among the guests are logged on their timelines",
    "R2": "editing an event updates the meeting; deleting or cancelling removes it",
    "R3": "contacts are never created by the sync; guests match by exact email",
    "R4": "internal people are never logged",
    "R5": "events created before the calendar was connected are not synced",
    "R6": "recurring meetings: the first occurrence, and occurrences that differ",
    "R7": "all-day events are not synced",
    "R8": "private events are not synced",
    "R9": "events whose outside guests are not contacts log nothing",
}


def describe_rule(rule: str | None) -> str:
    return RULES.get((rule or "").upper(), "")
