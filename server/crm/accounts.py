"""Accounts, their internal domains and users (admins among them), and API tokens (stored
hashed, shown once, revocable). Every function that takes an ``account`` acts only on that
account's rows: another account's id is :class:`NotFound`, as an unknown one is.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.crm.models import (
    NAME_MAX,
    Account,
    AccountDomain,
    ApiToken,
    User,
    email_domain,
    normalize_email,
)
from server.db import Database, utcnow
from server.errors import Conflict, Invalid
from server.rows import get_owned

# ``last_used_at`` is written at most this often per token: the API stays read-only per request.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
DOMAIN_MAX = 253
TOKEN_NAME_MAX = 100


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
    user = add_user(session, account, user_email, user_name, admin=True)
    return account, user, issue_api_token(session, account, "first token")


def add_user(
    session: Session, account: Account, email: str, name: str = "", *, admin: bool = False
) -> User:
    normalized = normalize_email(email)
    local, _, domain = normalized.partition("@")
    if not local or "." not in domain or len(normalized) > 254 or any(c.isspace() for c in email):
        raise Invalid("not an email address", {"email": email})
    if len(name.strip()) > NAME_MAX:
        raise Invalid(f"a name has at most {NAME_MAX} characters", {"name": name[:50]})
    if session.scalar(select(User.id).where(User.email_normalized == normalized)):
        raise Conflict("a user with this email already exists", {"email": email})
    user = User(
        account_id=account.id,
        email=email.strip(),
        email_normalized=normalized,
        name=name.strip(),
        is_admin=admin,
    )
    session.add(user)
    session.flush()
    return user


def account_user(session: Session, account: Account, user_id: int) -> User:
    return get_owned(session, User, account.id, user_id, "user")


def users(session: Session, account: Account) -> list[User]:
    return list(
        session.scalars(select(User).where(User.account_id == account.id).order_by(User.id))
    )


def set_admin(session: Session, account: Account, user: User, admin: bool) -> None:
    """Make ``user`` an admin or not; the account always keeps one admin."""
    if not admin and user.is_admin and _admins(session, account) <= 1:
        raise Conflict("the account needs at least one admin", {"user_id": user.id})
    user.is_admin = admin
    session.flush()


def remove_user(session: Session, account: Account, user: User) -> None:
    """Delete the user; what they logged stays (its owner becomes empty). Their calendar
    connection goes with them: disconnect it first (the settings app does)."""
    if user.is_admin and _admins(session, account) <= 1:
        raise Conflict("the account needs at least one admin", {"user_id": user.id})
    session.delete(user)
    session.flush()


def _admins(session: Session, account: Account) -> int:
    query = select(func.count()).where(User.account_id == account.id, User.is_admin.is_(True))
    return int(session.scalar(query) or 0)


def add_domain(session: Session, account: Account, domain: str) -> AccountDomain:
    name = domain.strip().lower().lstrip("@")
    labels = name.split(".")
    if len(name) > DOMAIN_MAX or len(labels) < 2 or not all(_label(part) for part in labels):
        raise Invalid("not a domain name", {"domain": domain})
    exists = select(AccountDomain.id).where(
        AccountDomain.account_id == account.id, AccountDomain.domain == name
    )
    if session.scalar(exists):
        raise Conflict("the account already has this domain", {"domain": name})
    row = AccountDomain(account_id=account.id, domain=name)
    session.add(row)
    session.flush()
    return row


def _label(part: str) -> bool:
    return 0 < len(part) <= 63 and part.replace("-", "").isalnum() and part.isascii()


def remove_domain(session: Session, account: Account, domain_id: int) -> None:
    row = get_owned(session, AccountDomain, account.id, domain_id, "domain")
    session.delete(row)
    session.flush()


def domains(session: Session, account: Account) -> list[AccountDomain]:
    query = select(AccountDomain).where(AccountDomain.account_id == account.id)
    return list(session.scalars(query.order_by(AccountDomain.domain)))


def issue_api_token(session: Session, account: Account, name: str = "") -> str:
    """A new token for the account; the caller shows it once, only its hash is kept."""
    if len(name) > TOKEN_NAME_MAX:
        raise Invalid(f"a token name has at most {TOKEN_NAME_MAX} characters", {"name": name})
    token = "ma_" + secrets.token_urlsafe(32)
    row = ApiToken(
        account_id=account.id, token_hash=hash_token(token), prefix=token[:10], name=name.strip()
    )
    session.add(row)
    session.flush()
    return token


def api_tokens(session: Session, account: Account) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.account_id == account.id)
    return list(session.scalars(query.order_by(ApiToken.id.desc())))


def revoke_api_token(
    session: Session, account: Account, token_id: int, now: datetime | None = None
) -> ApiToken:
    """Revoke at once: the next request with it is refused."""
    row = get_owned(session, ApiToken, account.id, token_id, "API token")
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.flush()
    return row


def account_for_token(session: Session, token: str) -> tuple[Account, ApiToken] | None:
    """The account of a live (not revoked) token, and the token's row."""
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    account = session.get(Account, row.account_id)
    return (account, row) if account is not None else None


def note_token_use(database: Database, row: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used: at most once a minute per token, in a transaction of
    its own (the request's stays read-only and holds no lock for it)."""
    now = now or utcnow()
    if row.last_used_at is not None and now - row.last_used_at < TOKEN_USE_RESOLUTION:
        return
    stale = (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - TOKEN_USE_RESOLUTION)
    with database.transaction() as session:
        session.execute(
            update(ApiToken).where(ApiToken.id == row.id, stale).values(last_used_at=now)
        )


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
