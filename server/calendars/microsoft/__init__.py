"""Outlook / Microsoft 365 calendars through Microsoft Graph: ``client`` (calendarView delta,
events, subscriptions; tokens from msal; retries), ``parse`` (Graph events <-> neutral values,
Windows time zones), ``oauth`` (the offline grant with PKCE), ``push`` (reading notifications)
and ``provider`` (the registry entry)."""

from server.calendars.microsoft.client import GraphCalendar

__all__ = ["GraphCalendar"]
