"""Local stand-in for Google (OAuth, ID-token certs, Calendar v3, Gmail v1) on 127.0.0.1.

Real client libraries talk to it over HTTP in the real wire format::

    stand_in = GoogleStandIn()
    stand_in.start()                  # "http://127.0.0.1:PORT"
    os.environ.update(stand_in.settings())
    ...
    stand_in.stop()
"""

from .app import GoogleStandIn
from .calendar import CalendarState
from .common import ApiError, RecordedRequest
from .gmail import GmailState
from .oauth import OAuthState
from .push import Channel, Delivery, Notification

__all__ = [
    "ApiError",
    "CalendarState",
    "Channel",
    "Delivery",
    "GmailState",
    "GoogleStandIn",
    "Notification",
    "OAuthState",
    "RecordedRequest",
]
