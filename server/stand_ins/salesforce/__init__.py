"""Local stand-in for a Salesforce org: OAuth 2.0 (web-server flow with PKCE, refresh-token
rotation, revocation) and the REST API (sObject rows, describe, SOQL query/queryAll with
paging, getUpdated/getDeleted, sObject Collections, limits) over https with a test CA, for
the demo and the tests; simple-salesforce and ``requests`` run against it unchanged."""

from .app import SalesforceStandIn
from .oauth import OAuthError
from .org import OrgRequest, OrgState
from .wire import ApiError, format_datetime, normalize_id, with_checksum

__all__ = [
    "ApiError",
    "OAuthError",
    "OrgRequest",
    "OrgState",
    "SalesforceStandIn",
    "format_datetime",
    "normalize_id",
    "with_checksum",
]
