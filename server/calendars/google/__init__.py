"""Google Calendar: ``client`` (Calendar v3 over google-api-python-client, retries),
``parse`` (event resources <-> neutral values), ``oauth`` (the offline grant), ``push``
(reading channel notifications) and ``provider`` (the registry entry)."""

from server.calendars.google.client import GoogleCalendar
from server.calendars.retry import Backoff, retry_after_seconds

__all__ = ["Backoff", "GoogleCalendar", "retry_after_seconds"]
