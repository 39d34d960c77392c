"""What fields the org's objects have (``describe``), for checking mappings (P5) and the
outbound Task types (H2): asked of the org when an admin saves them, one API call, counted
against the budget."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app

from server.config import Settings
from server.crypto import TokenCipher
from server.db import utcnow
from server.errors import Invalid
from server.salesforce import org as orgs
from server.salesforce.client import Paused, RecordError
from server.salesforce.oauth import OAuthError
from server.web import database, db_session


def fields_for(account_id: int, sobject: str) -> dict[str, str] | None:
    """Field name -> Salesforce type of the org's ``sobject``; None without a connected org
    (then a mapping is checked for its shape only, and again when the org is connected)."""
    described = _describe(account_id, sobject)
    if described is None:
        return None
    return {str(f["name"]): str(f["type"]) for f in described.get("fields") or ()}


def picklist(account_id: int, sobject: str, field: str) -> list[str] | None:
    """The active values of a picklist of the org's ``sobject`` (H2: Task ``Type``); None
    without a connected org."""
    described = _describe(account_id, sobject)
    if described is None:
        return None
    for item in described.get("fields") or ():
        if item.get("name") == field:
            return [str(v["value"]) for v in item.get("picklistValues") or () if v.get("active")]
    return []


def _describe(account_id: int, sobject: str) -> dict[str, Any] | None:
    session = db_session()
    org = orgs.org_of(session, account_id)
    if org is None or not org.active or not org.refresh_token_encrypted:
        return None
    settings = cast(Settings, current_app.config["SETTINGS"])
    cipher = cast(TokenCipher, current_app.extensions["cipher"])
    now = utcnow()
    api = orgs.open_api(settings, database(), cipher, org, now)
    try:
        described = api.describe(sobject)
    except (Paused, RecordError, OAuthError) as exc:
        raise Invalid(f"Salesforce could not say which fields {sobject} has; try again") from exc
    finally:
        orgs.record_usage(org, api, now)
        api.close()
    return described
