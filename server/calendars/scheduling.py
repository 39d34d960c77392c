"""Scheduling from the CRM (S1-S3): the calendar's subscriber to CRM engagement events.

A meeting made in the CRM (source ``crm``) queues its calendar event in the meeting's own
transaction; a change to the fields an event carries queues a patch, when the CRM made the
event. Deleting a meeting queues nothing: the event stays (S2). Each queued row is handed to
the worker once the transaction commits; the periodic sweep carries out any row whose
hand-over was lost.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server import rows
from server.calendars import outbox, tasks
from server.crm import events
from server.crm.models import Meeting
from server.db import Database
from server.jobs import Jobs


def subscribe(database: Database, jobs: Jobs) -> None:
    """Follow the CRM's meetings on ``database``, handing rows to ``jobs``' queue."""

    def on_engagement(session: Session, event: events.EngagementEvent) -> None:
        if event.engagement_type != "meeting" or event.kind == "deleted":
            return
        meeting = session.get(Meeting, event.engagement_id)
        if meeting is None:
            return
        if event.kind == "created":
            if event.source != "crm":
                return  # logged from a calendar or the sidebar: the event exists already
            item = outbox.schedule_create(session, meeting, send_invites=event.notify)
        else:
            found = outbox.schedule_update(
                session, meeting, event.changed, send_invites=event.notify
            )
            if found is None:
                return
            item = found
        item_id = item.id
        rows.after_commit(session, lambda: tasks.enqueue_outbox(jobs, item_id))

    events.subscribe(database, on_engagement)
