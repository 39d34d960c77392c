"""The demo's Salesforce org: a stand-in org signed by the Microsoft stand-in's test CA (one
trusted bundle for both), with the connected app registered for the demo's callback and the
demo's customers as Accounts and Contacts (one as a Lead), plus a call logged last week (from
before any switch: the sync leaves it, P2)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from server.stand_ins.microsoft.tls import TestCA
from server.stand_ins.salesforce import SalesforceStandIn

from . import people

CLIENT_ID = "3MVG9demo-meeting-assistant"
CALLBACK = "/settings/salesforce/callback"


def start(
    public: str, ca: TestCA, host: str = "127.0.0.1"
) -> tuple[SalesforceStandIn, dict[str, str]]:
    """Serve the org; returns it and the product's settings for it."""
    stand_in = SalesforceStandIn(ca=ca)
    stand_in.start(host)
    secret = secrets.token_urlsafe(24)
    stand_in.org.register_app(CLIENT_ID, secret, [public + CALLBACK])
    seed(stand_in)
    return stand_in, {
        **stand_in.settings(),
        "SALESFORCE_CLIENT_ID": CLIENT_ID,
        "SALESFORCE_CLIENT_SECRET": secret,
    }


def seed(stand_in: SalesforceStandIn) -> None:
    org = stand_in.org
    accounts = {
        company.name: org.insert("Account", {"Name": company.name, "Website": company.domain})
        for company in people.COMPANIES
    }
    for contact in people.CONTACTS:
        person = contact.person
        if person is people.DAVE:  # not a Contact yet in Salesforce
            org.insert(
                "Lead",
                {
                    "FirstName": person.first_name,
                    "LastName": person.last_name,
                    "Email": person.email,
                    "Company": contact.company,
                },
            )
            continue
        who = org.insert(
            "Contact",
            {
                "FirstName": person.first_name,
                "LastName": person.last_name,
                "Email": person.email,
                "AccountId": accounts[contact.company],
            },
        )
        if person is people.ALICE:
            real_now = org.now
            org.now = lambda: datetime.now(UTC) - timedelta(days=7)
            try:
                org.insert(
                    "Task",
                    {
                        "Subject": "Intro call (last week)",
                        "TaskSubtype": "Call",
                        "WhoId": who,
                        "Status": "Completed",
                    },
                )
            finally:
                org.now = real_now
