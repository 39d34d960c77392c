"""Local stand-in for the Microsoft identity platform (v2.0: OpenID configuration, authorize,
token, keys) over https with a test CA, for the demo and the tests; msal runs against it
unchanged."""

from .app import MicrosoftStandIn
from .identity import TENANT_ID, IdentityState
from .tls import TestCA

__all__ = ["TENANT_ID", "IdentityState", "MicrosoftStandIn", "TestCA"]
