"""Outlook / Microsoft 365 as a registered provider: its Graph client, OAuth flow and push
reader."""

from __future__ import annotations

from server.calendars.microsoft.client import GraphCalendar
from server.calendars.microsoft.oauth import NAME, MicrosoftOAuth
from server.calendars.microsoft.push import read_push
from server.calendars.provider import CalendarProvider
from server.calendars.providers import CalendarIntegration
from server.config import Settings


def open_calendar(settings: Settings, refresh_token: str) -> CalendarProvider:
    return GraphCalendar(settings, refresh_token)


MICROSOFT = CalendarIntegration(
    name=NAME,
    label="Outlook",
    open=open_calendar,
    oauth=MicrosoftOAuth(),
    read_push=read_push,
)
