"""Accounts, their internal domains and users, and API tokens (stored hashed, shown once)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.crm.models import Account, AccountDomain, ApiToken, User, email_domain, normalize_email
from server.errors import Conflict, Invalid


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_account(
    session: Session, name: str, domains: Sequence[str], user_email: str, user_name: str = ""
) -> tuple[Account, User, str]:
    """Create an account with its internal domains, a first user and an API token (shown once)."""
    account = Account(name=name)
    account.domains = [AccountDomain(domain=d.strip().lower()) for d in dict.fromkeys(domains)]
    session.add(account)
    session.flush()
    user = add_user(session, account, user_email, user_name)
    return account, user, issue_api_token(session, account)


def add_user(session: Session, account: Account, email: str, name: str = "") -> User:
    normalized = normalize_email(email)
    if "@" not in normalized:
        raise Invalid("not an email address", {"email": email})
    if session.scalar(select(User.id).where(User.email_normalized == normalized)):
        raise Conflict("a user with this email already exists", {"email": email})
    user = User(account_id=account.id, email=email.strip(), email_normalized=normalized, name=name)
    session.add(user)
    session.flush()
    return user


def issue_api_token(session: Session, account: Account) -> str:
    token = "ma_" + secrets.token_urlsafe(32)
    session.add(ApiToken(account_id=account.id, token_hash=hash_token(token), prefix=token[:10]))
    session.flush()
    return token


def account_for_token(session: Session, token: str) -> Account | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    return session.get(Account, row.account_id) if row else None


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email_normalized == normalize_email(email)))


@dataclass(frozen=True)
class Directory:
    """Who counts as internal for an account (R4, A3): its domains and its users."""

    domains: frozenset[str]
    user_emails: frozenset[str]
    vendor_domains: frozenset[str] = frozenset()

    def is_internal(self, email: str) -> bool:
        domain = email_domain(email)
        return (
            domain in self.domains
            or domain in self.vendor_domains
            or normalize_email(email) in self.user_emails
        )


def directory(session: Session, account_id: int, vendor_domains: Iterable[str] = ()) -> Directory:
    domains = session.scalars(
        select(AccountDomain.domain).where(AccountDomain.account_id == account_id)
    )
    emails = session.scalars(select(User.email_normalized).where(User.account_id == account_id))
    return Directory(
        domains=frozenset(d.lower() for d in domains),
        user_emails=frozenset(emails),
        vendor_domains=frozenset(d.lower() for d in vendor_domains),
    )
