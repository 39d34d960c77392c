"""Google Calendar as a registered provider: its client, OAuth flow and push reader."""

from __future__ import annotations

from server.calendars.google.client import GoogleCalendar
from server.calendars.google.oauth import NAME, GoogleOAuth
from server.calendars.google.push import read_push
from server.calendars.provider import CalendarProvider
from server.calendars.providers import CalendarIntegration
from server.config import Settings


def open_calendar(settings: Settings, refresh_token: str) -> CalendarProvider:
    return GoogleCalendar(settings, refresh_token)


GOOGLE = CalendarIntegration(
    name=NAME,
    label="Google",
    open=open_calendar,
    oauth=GoogleOAuth(),
    read_push=read_push,
)
