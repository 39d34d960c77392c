"""A tiny "Outlook on the web" for the demo: a person picks a mailbox, sees its events and
adds a meeting with guests, as they would in Outlook. Each change goes through the same
``GraphState`` operations as the API, so it reaches delta listings and subscriptions (the
demo's webhook) exactly like a change made in Outlook. Served on the stand-in's plain-http
browser origin, loopback only, like the sign-in page.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, redirect, request

from .graph import GraphState

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Outlook (local stand-in)</title>
<style>body{{font-family:sans-serif;max-width:44rem;margin:2rem auto}}
label{{display:block;margin:.4rem 0}} input{{font-size:1rem;padding:.2rem;width:22rem}}
td,th{{padding:.2rem .6rem;text-align:left}}</style></head><body>
<h1>Outlook (local stand-in)</h1>{body}</body></html>"""


def _page(body: str, status: int = 200) -> Response:
    return Response(_PAGE.format(body=body), status=status, mimetype="text/html")


def _when(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def outlook_blueprint(graph: GraphState, default_mailbox: Any) -> Blueprint:
    bp = Blueprint("outlook_page", __name__)

    @bp.get("/outlook/")
    def mailbox() -> Response:
        who = (request.args.get("mailbox") or default_mailbox()).strip().lower()
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(str(e.get("subject") or "")),
                html.escape(str((e.get("start") or {}).get("dateTime", ""))[:16]),
                html.escape(
                    ", ".join(a["emailAddress"]["address"] for a in e.get("attendees") or ())
                ),
            )
            for e in graph.events(who)
        )
        body = (
            f"<form method='get'><label>Mailbox <input name='mailbox' type='email' "
            f"value='{html.escape(who)}'></label><button>Open</button></form>"
            f"<h2>New meeting in {html.escape(who)}</h2>"
            "<form method='post'>"
            f"<input type='hidden' name='mailbox' value='{html.escape(who)}'>"
            "<label>Subject <input name='subject' value='Intro call' required></label>"
            "<label>Guests (comma-separated) <input name='guests' required></label>"
            "<label>Starts in (minutes) <input name='in_minutes' type='number' value='60'>"
            "</label><button type='submit' id='create'>Send</button></form>"
            f"<h2>Events</h2><table id='events'><tr><th>Subject</th><th>Start (UTC)</th>"
            f"<th>Guests</th></tr>{rows}</table>"
        )
        return _page(body)

    @bp.post("/outlook/")
    def create() -> Response:
        who = request.form.get("mailbox", "").strip().lower()
        guests = [g.strip() for g in request.form.get("guests", "").split(",") if g.strip()]
        try:
            minutes = int(request.form.get("in_minutes") or 60)
        except ValueError:
            return _page("<p>Starts in: a number of minutes.</p>", 400)
        if "@" not in who or not guests:
            return _page("<p>A mailbox and at least one guest, please.</p>", 400)
        start = (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        graph.add_event(
            who,
            subject=request.form.get("subject") or "Meeting",
            start=_when(start),
            end=_when(start + timedelta(minutes=30)),
            attendees=[
                {"type": "required", "emailAddress": {"address": g, "name": g}} for g in guests
            ],
        )
        return redirect(f"/outlook/?mailbox={quote(who)}", code=303)  # type: ignore[return-value]

    return bp
