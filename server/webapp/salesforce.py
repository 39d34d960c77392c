"""The admin's Salesforce page (``/settings/salesforce``): connect the org (OAuth web-server
flow with PKCE at ``SALESFORCE_LOGIN_URL``), its status (calls used today against the budget,
last pull and push, per-record errors with a retry), the switches, Task types and delete
behaviour of the settings document (both directions) as a form, and disconnect."""

from __future__ import annotations

import secrets
from typing import Any, cast

import requests
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from server.config import Settings
from server.crypto import TokenCipher
from server.db import utcnow
from server.errors import DomainError
from server.jobs import Jobs
from server.salesforce import api as salesforce_api
from server.salesforce import document, oauth
from server.salesforce import org as orgs
from server.salesforce.describe import fields_for
from server.salesforce.models import SalesforceLogEntry
from server.salesforce.tasks import PULL
from server.web import db_session

from . import auth

bp = Blueprint("settings_salesforce", __name__, url_prefix=auth.PREFIX)
PAGE = "/settings/salesforce"
PENDING = "salesforce_flow"


def _settings() -> Settings:
    return cast(Settings, current_app.config["SETTINGS"])


def _cipher() -> TokenCipher:
    return cast(TokenCipher, current_app.extensions["cipher"])


@bp.get("/salesforce")
@auth.admin_required
def page() -> str:
    account_id = auth.user().account_id
    org = orgs.org_of(db_session(), account_id)
    failed = db_session().scalars(
        select(SalesforceLogEntry)
        .where(SalesforceLogEntry.account_id == account_id)
        .order_by(SalesforceLogEntry.id.desc())
        .limit(25)
    )
    return render_template(
        "settings/salesforce.html",
        org=org,
        status=salesforce_api.status_of(account_id),
        doc=orgs.settings_of(org),
        inbound=document.INBOUND,
        outbound=document.OUTBOUND,
        mappings={
            k: document.mappings_of(org.mappings if org else None, k) for k in document.INBOUND
        },
        types=document.TYPES,
        log=list(failed),
    )


@bp.get("/salesforce/connect")
@auth.admin_required
def connect() -> Response | tuple[str, int]:
    state = secrets.token_urlsafe(32)
    http = cast(requests.Session, current_app.extensions["http"])
    try:
        url, verifier = oauth.begin(_settings(), state, http)
    except oauth.OAuthError as exc:
        return render_template("settings/error.html", status=503, message=str(exc)), 503
    session[PENDING] = {"state": state, "verifier": verifier}
    return redirect(url)


@bp.get("/salesforce/callback")
@auth.admin_required
def callback() -> Response | tuple[str, int]:
    pending = session.pop(PENDING, None)
    answer = request.args
    if not isinstance(pending, dict) or not secrets.compare_digest(
        str(answer.get("state", "")), str(pending.get("state", "-"))
    ):
        return _refused("This connect link is not valid any more; connect again.")
    if answer.get("error"):
        return _refused("Salesforce access was not granted.")
    http = cast(requests.Session, current_app.extensions["http"])
    try:
        tokens = oauth.finish(_settings(), answer.get("code", ""), pending["verifier"], http)
    except oauth.OAuthError as exc:
        return _refused(str(exc))
    orgs.connect(db_session(), _cipher(), auth.user().account_id, tokens, utcnow())
    flash(f"Salesforce is connected ({tokens.instance_url}).")
    return redirect(PAGE)


@bp.post("/salesforce/settings")
@auth.admin_required
def save() -> Response | tuple[str, int]:
    account_id = auth.user().account_id
    doc = orgs.settings_of(orgs.org_of(db_session(), account_id))
    for kind in document.INBOUND:
        doc["inbound"][kind]["enabled"] = request.form.get(f"inbound.{kind}.enabled") == "on"
        doc["inbound"][kind]["on_delete"] = request.form.get(f"inbound.{kind}.on_delete", "")
    for kind in document.OUTBOUND:
        outbound, prefix = doc["outbound"][kind], f"outbound.{kind}."
        outbound["enabled"] = request.form.get(prefix + "enabled") == "on"
        if prefix + "task_type" in request.form:
            outbound["task_type"] = request.form[prefix + "task_type"].strip() or None
        outbound["on_delete"] = request.form.get(prefix + "on_delete", outbound["on_delete"])
    budget: Any = request.form.get("daily_api_budget", "")
    doc["daily_api_budget"] = int(budget) if budget.isdigit() else budget
    try:
        salesforce_api.save_settings(account_id, doc)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(PAGE)
    flash("Saved. Switches turned on sync what changes from now on (nothing older).")
    return redirect(PAGE)


@bp.post("/salesforce/mappings/<kind>")
@auth.admin_required
def save_mappings(kind: str) -> Response:
    """The kind's mapping table as the form sends it: rows with a field filled in are kept."""
    if kind not in document.INBOUND:
        abort(404)
    form = request.form
    rows = [
        {
            "salesforce_field": field.strip(),
            "crm_property": form.get(f"crm_property.{i}", "").strip(),
            "type": form.get(f"type.{i}", ""),
        }
        for i, field in enumerate(form.getlist("salesforce_field"))
        if field.strip()
    ]
    account_id = auth.user().account_id
    try:
        known = fields_for(account_id, document.SOBJECT[kind])
        salesforce_api.save_mappings(account_id, kind, rows, known)
    except DomainError as exc:
        flash(f"{kind} mappings not saved: {exc.message}", "error")
        return redirect(PAGE)
    flash(f"The {kind} mappings are saved.")
    return redirect(PAGE)


@bp.post("/salesforce/pull")
@auth.admin_required
def pull_now() -> Response:
    jobs = cast(Jobs, current_app.extensions["jobs"])
    jobs.tasks["run_periodic"](PULL)
    flash("A sync (pull, then push) is on its way.")
    return redirect(PAGE)


@bp.post("/salesforce/retry")
@auth.admin_required
def retry() -> Response:
    count = salesforce_api.queue_retry(auth.user().account_id)
    flash(f"{count} record(s) will be tried again." if count else "No record failed.")
    return redirect(PAGE)


@bp.post("/salesforce/disconnect")
@auth.admin_required
def disconnect() -> Response:
    org = orgs.org_of(db_session(), auth.user().account_id)
    if org is not None and org.refresh_token_encrypted:
        http = cast(requests.Session, current_app.extensions["http"])
        orgs.disconnect(
            db_session(), _cipher(), org, lambda token: oauth.revoke(_settings(), token, http)
        )
    flash("Salesforce is disconnected. What it synced stays in the CRM.")
    return redirect(PAGE)


def _refused(message: str) -> tuple[str, int]:
    return render_template("settings/error.html", status=400, message=message), 400
