"""A tiny "Salesforce" for the demo: a person logs a call, task or email on one of the org's
contacts, as a rep would in Salesforce, and sees the org's recent activities. The record is
written through the same ``OrgState`` as the API (stamps, ids, validation), so the product's
pull reads it like any other. Served on the stand-in's plain-http browser origin.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response, redirect, request

from .org import OrgState
from .wire import ApiError

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Salesforce (local stand-in)</title>
<style>body{{font-family:sans-serif;max-width:46rem;margin:2rem auto}}
label{{display:block;margin:.4rem 0}} input,select{{font-size:1rem;padding:.2rem}}
td,th{{padding:.2rem .6rem;text-align:left}}</style></head><body>
<h1>Salesforce (local stand-in)</h1>{body}</body></html>"""
SUBTYPES = ("Call", "Task", "Email")


def _page(body: str, status: int = 200) -> Response:
    return Response(_PAGE.format(body=body), status=status, mimetype="text/html")


def activity_blueprint(org: OrgState) -> Blueprint:
    bp = Blueprint("salesforce_page", __name__)

    @bp.get("/activities/")
    def activities() -> Response:
        contacts = org.records("Contact")
        options = "".join(
            "<option value='{}'>{} &lt;{}&gt;</option>".format(
                html.escape(str(c["Id"])),
                html.escape(str(c.get("Name") or "")),
                html.escape(str(c.get("Email") or "")),
            )
            for c in contacts
        )
        kinds = "".join(f"<option>{k}</option>" for k in SUBTYPES)
        names = {str(c["Id"]): str(c.get("Name") or "") for c in contacts}
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(str(t.get("TaskSubtype") or "")),
                html.escape(str(t.get("Subject") or "")),
                html.escape(names.get(str(t.get("WhoId")), "")),
                html.escape(str(t.get("SystemModstamp") or "")[:19]),
            )
            for t in sorted(org.records("Task"), key=lambda t: str(t["SystemModstamp"]))[-20:]
        )
        body = (
            "<h2>Log an activity</h2><form method='post'>"
            f"<label>Contact <select name='who'>{options}</select></label>"
            f"<label>Type <select name='subtype'>{kinds}</select></label>"
            "<label>Subject <input name='subject' value='Discovery call' required></label>"
            "<label>Comments <input name='description' value=''></label>"
            "<button type='submit' id='log'>Save</button></form>"
            "<h2>Recent activities</h2><table id='tasks'><tr><th>Type</th><th>Subject</th>"
            f"<th>Name</th><th>Last modified (UTC)</th></tr>{rows}</table>"
        )
        return _page(body)

    @bp.post("/activities/")
    def log_activity() -> Response:
        subtype = request.form.get("subtype", "Call")
        if subtype not in SUBTYPES:
            return _page("<p>Type: Call, Task or Email.</p>", 400)
        fields = {
            "Subject": request.form.get("subject") or subtype,
            "Description": request.form.get("description") or None,
            "TaskSubtype": subtype,
            "WhoId": request.form.get("who") or None,
            "Status": "Completed",
        }
        try:
            org.insert("Task", fields)
        except ApiError as exc:
            return _page(f"<p id='error'>{html.escape(str(exc))}</p>", 400)
        return redirect("/activities/", code=303)  # type: ignore[return-value]

    return bp
