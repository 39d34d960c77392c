"""Local stand-in for the Microsoft identity platform (v2.0: OpenID configuration, authorize,
token, keys) and Microsoft Graph v1.0 calendars over https with a test CA, for the demo and the
tests; msal and plain ``requests`` run against it unchanged."""

from .app import MicrosoftStandIn
from .graph import GraphState
from .identity import TENANT_ID, IdentityState
from .tls import TestCA

__all__ = ["TENANT_ID", "GraphState", "IdentityState", "MicrosoftStandIn", "TestCA"]
