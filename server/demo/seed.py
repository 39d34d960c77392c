"""The demo's CRM data, written once: re-running the demo finds it and leaves it alone.

Everything goes through the CRM services, as the REST API and the console do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.calendars import connections
from server.calendars.models import ACTIVE, NEEDS_RECONNECT, CalendarConnection
from server.crm import accounts, services
from server.crm.models import Account, Company, Contact, User
from server.crypto import TokenCipher
from server.db import Database, utcnow

from . import people

TOKEN_FILE = "demo-api-token"  # noqa: S105 (a file name)


@dataclass(frozen=True)
class Seeded:
    account_id: int
    rep_email: str
    api_token: str
    created: bool


def seed(database: Database, instance_path: Path, now: datetime | None = None) -> Seeded:
    """Create the demo account and its data unless it exists; return its REST API token.

    The token is shown once by the services, so it is kept in the instance folder (mode 0600);
    if that file is gone a new token is issued.
    """
    moment = now or utcnow()
    token_path = instance_path / TOKEN_FILE
    with database.transaction() as session:
        rep = accounts.user_by_email(session, people.REP.email)
        if rep is None:
            account_id, token = _create(session, moment)
            created = True
        else:
            account_id, created = rep.account_id, False
            token = token_path.read_text().strip() if token_path.exists() else ""
            if not token:
                account = session.get(Account, account_id)
                assert account is not None
                token = accounts.issue_api_token(session, account)
    if created or not token_path.exists():
        _write_secret(token_path, token)
    return Seeded(account_id, people.REP.email, token, created)


def _create(session: Session, now: datetime) -> tuple[int, str]:
    account, _rep, token = accounts.create_account(
        session, people.ACCOUNT_NAME, people.DOMAINS, people.REP.email, people.REP.name
    )
    accounts.add_user(session, account, people.MANAGER.email, people.MANAGER.name)
    companies: dict[str, Company] = {}
    for item in people.COMPANIES:
        company = services.create_record(session, account.id, "company", item.name)
        company.domain = item.domain
        companies[item.name] = company
    contacts: dict[str, Contact] = {}
    for seed_contact in people.CONTACTS:
        person = seed_contact.person
        contacts[person.email] = services.create_contact(
            session,
            account.id,
            person.email,
            person.first_name,
            person.last_name,
            companies[seed_contact.company].id,
        )
    for name, company_name in people.DEALS:
        deal = services.create_record(session, account.id, "deal", name)
        deal.company_id = companies[company_name].id
    session.flush()
    _history(session, account, contacts, now)
    return account.id, token


def _history(
    session: Session, account: Account, contacts: dict[str, Contact], now: datetime
) -> None:
    """A little past activity, so the contacts' timelines are not empty."""
    rep = session.scalar(select(User).where(User.email_normalized == people.REP.email))
    directory = accounts.directory(session, account.id)
    start = (now - timedelta(days=6)).replace(minute=0, second=0, microsecond=0)
    alice = contacts[people.ALICE.email]
    meeting = services.create_meeting(
        session,
        account.id,
        title="Northwind Traders: pricing walkthrough",
        start=start,
        end=start + timedelta(minutes=30),
        people=directory,
        attendees=[
            services.AttendeeInput(people.REP.email, people.REP.name, "accepted", True),
            services.AttendeeInput(people.ALICE.email, people.ALICE.name, "accepted"),
        ],
        associations=[("contact", alice.id)],
        owner=rep,
        outcome="completed",
    )
    services.add_note(session, meeting, "Alice wants the 200-seat quote by Friday.", rep)
    bob = contacts[people.BOB.email]
    services.create_activity(
        session,
        account.id,
        "email",
        "Re: Globex renewal",
        now - timedelta(days=2, hours=3),
        body="Bob asked for the 2027 price sheet.",
        owner=rep,
        associations=[("contact", bob.id)],
    )
    services.create_activity(
        session,
        account.id,
        "call",
        "Intro call with Carol",
        now - timedelta(days=13),
        body="Pilot scope agreed: 3 teams, 6 weeks.",
        owner=rep,
        associations=[("contact", contacts[people.CAROL.email].id)],
    )


def drop_stale_connections(database: Database, cipher: TokenCipher) -> int:
    """Disconnect every stored calendar grant: they were issued by an earlier run's stand-in,
    which is gone, so the reps connect again (or the demo connects them with ``--connected``)."""
    with database.transaction() as session:
        rows = session.scalars(
            select(CalendarConnection).where(
                CalendarConnection.status.in_((ACTIVE, NEEDS_RECONNECT))
            )
        ).all()
        for row in rows:
            connections.disconnect(session, cipher, row)
        return len(rows)


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
