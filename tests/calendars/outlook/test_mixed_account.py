"""One account, two providers (C3 beyond, C4): a Google rep and an Outlook rep at the same
meeting (same iCalendar UID) log one meeting on the contact's timeline, whichever syncs
first; and a rep who moves from Google to Outlook starts afresh without doubling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from server.calendars.sync import SyncEnv, sync_connection
from server.config import Settings
from server.crm import accounts
from server.crm.models import Account
from server.db import Database
from server.stand_ins.google import GoogleStandIn
from server.stand_ins.microsoft import MicrosoftStandIn
from tests.calendars.conftest import Harness, connect_calendar
from tests.calendars.outlook.conftest import SOON, Outlook, attendee, connect_outlook, graph_time
from tests.conftest import Tenant

JANE = "jane@client.example"
GOOGLE_REP = "rep@acme.example"
OUTLOOK_REP = "sam@acme.example"


@pytest.fixture
def pair(
    app: Flask,
    settings: Settings,
    database: Database,
    google: GoogleStandIn,
    outlook: MicrosoftStandIn,
    clock: object,
    make_tenant: object,
) -> tuple[Harness, Outlook]:
    tenant: Tenant = make_tenant("Acme", "acme.example", GOOGLE_REP)  # type: ignore[operator]
    google_id = connect_calendar(settings, database, app, google, tenant.user_id)
    with database.transaction() as session:
        account = session.get(Account, tenant.account_id)
        assert account is not None
        sam_id = accounts.add_user(session, account, OUTLOOK_REP).id
    sam = Tenant(tenant.account_id, sam_id, OUTLOOK_REP, tenant.token, tenant.client)
    outlook_id = connect_outlook(settings, database, app, outlook, sam.user_id)
    g = Harness(app, settings, database, tenant, google_id, google=google)
    o = Outlook(
        app, settings, database, sam, outlook_id, outlook=outlook, clock=clock, mailbox=OUTLOOK_REP
    )  # type: ignore[arg-type]
    return g, o


def invite_both(g: Harness, o: Outlook) -> tuple[dict[str, object], dict[str, object]]:
    """The Google rep invites Jane and the Outlook rep; Outlook holds its copy with the same
    iCalendar UID."""
    made = g.event(guests=[JANE, OUTLOOK_REP], summary="Pricing")
    copy = o.graph.add_event(
        OUTLOOK_REP,
        subject="Pricing",
        start=graph_time(SOON),
        end=graph_time(SOON + timedelta(minutes=30)),
        organizer={"emailAddress": {"address": GOOGLE_REP, "name": "Rep"}},
        attendees=[attendee(JANE), attendee(OUTLOOK_REP, "accepted")],
        isOrganizer=False,
        iCalUId=made["iCalUID"],
    )
    return made, copy


@pytest.mark.parametrize("first", ["google", "outlook"])
def test_two_reps_two_providers_one_meeting_on_the_timeline(
    pair: tuple[Harness, Outlook], first: str
) -> None:
    g, o = pair
    jane = g.contact(JANE)
    made, copy = invite_both(g, o)
    order = [g, o] if first == "google" else [o, g]
    for harness in order:
        assert harness.sync().status == "ok"
    (meeting,) = g.meetings()
    assert meeting.ical_uid == made["iCalUID"]
    assert [i["meeting"]["id"] for i in g.timeline(jane)] == [meeting.id]
    # Both calendars now follow the one meeting: an edit in either reaches it.
    o.graph.patch_event(OUTLOOK_REP, copy["id"], subject="Pricing (v2)")
    o.sync()
    (meeting,) = g.meetings()
    assert meeting.title == "Pricing (v2)"


def test_occurrences_are_never_merged_by_uid(pair: tuple[Harness, Outlook]) -> None:
    """Google's moved occurrences share their series' UID: only series and single events
    are matched across calendars."""
    g, o = pair
    g.contact(JANE)
    single = g.event(guests=[JANE], summary="One")
    other = o.event(SOON + timedelta(days=1), guests=[JANE], subject="Other")
    g.sync()
    o.sync()
    assert sorted(m.title for m in g.meetings()) == ["One", "Other"]
    assert single["iCalUID"] != other["iCalUId"]


def test_moving_from_google_to_outlook_lists_the_new_calendar_afresh(
    pair: tuple[Harness, Outlook],
    app: Flask,
    settings: Settings,
    database: Database,
    outlook: MicrosoftStandIn,
) -> None:
    """C3: the rep connects Outlook in place of Google. The meeting both calendars hold stays
    one meeting; Google's push channel is stopped by the connect flow (see the webapp test)."""
    g, _ = pair
    g.contact(JANE)
    made = g.event(guests=[JANE], summary="Kickoff")
    g.sync()
    # The rep's Outlook mailbox holds the same meeting; then the rep switches provider.
    outlook.graph.add_event(
        GOOGLE_REP,
        subject="Kickoff",
        start=graph_time(SOON),
        end=graph_time(SOON + timedelta(minutes=30)),
        attendees=[attendee(JANE)],
        iCalUId=made["iCalUID"],
    )
    switched = connect_outlook(settings, database, app, outlook, g.tenant.user_id)
    assert switched == g.connection_id
    env = SyncEnv(settings, database, app.extensions["cipher"], app.extensions["jobs"].huey)
    assert sync_connection(env, switched).status == "ok"
    (meeting,) = g.meetings()
    assert meeting.title == "Kickoff"
    assert g.connection().provider == "microsoft"
