"""Settings: read from the environment once, into one typed object, and passed on.

Every setting has an embedded default so that a fresh checkout runs with none set (see the
README's settings table and ``CONTRACT.md``). Secrets that must survive restarts (``SECRET_KEY``,
``TOKEN_ENCRYPTION_KEYS``) are generated once into the instance folder with mode 0600.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

DEFAULT_INSTANCE_PATH = "instance"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_CALENDAR_API_URL = "https://www.googleapis.com/calendar/v3/"
GOOGLE_GMAIL_API_URL = "https://gmail.googleapis.com/"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com/common"
MICROSOFT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
SALESFORCE_LOGIN_URL = "https://login.salesforce.com"
PRODUCT_DOMAIN = "meeting-assistant.app"


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """All settings of the service. Build with :meth:`from_env` (or directly, in tests)."""

    instance_path: Path
    database_url: str
    queue_url: str
    secret_key: str
    token_encryption_keys: tuple[str, ...]
    public_base_url: str = "http://127.0.0.1:8080"
    addon_service_account_email: str = ""
    addon_oauth_client_id: str = ""
    # Opt-in: the OAuth client id of the Apps Script deployment (appsscript/), whose requests
    # carry the rep's own ID token as Bearer token instead of the add-on service account's.
    addon_apps_script_client_id: str = ""
    google_client_id: str = ""
    google_client_secret: str = ""
    google_auth_uri: str = GOOGLE_AUTH_URI
    google_token_uri: str = GOOGLE_TOKEN_URI
    google_certs_url: str = GOOGLE_CERTS_URL
    google_calendar_api_url: str = GOOGLE_CALENDAR_API_URL
    google_gmail_api_url: str = GOOGLE_GMAIL_API_URL
    microsoft_client_id: str = ""
    microsoft_client_secret: str = ""
    microsoft_authority: str = MICROSOFT_AUTHORITY
    microsoft_graph_url: str = MICROSOFT_GRAPH_URL
    salesforce_client_id: str = ""
    salesforce_client_secret: str = ""
    salesforce_login_url: str = SALESFORCE_LOGIN_URL
    crm_vendor_domains: tuple[str, ...] = (PRODUCT_DOMAIN,)
    log_format: str = "text"  # "json": one JSON object a line
    webhook_rate_limit: str = "6000/minute"  # per client address
    metrics_enabled: bool = False
    # Not part of the public contract: the demo turns these on, production leaves them off.
    env: str = "development"
    preview_enabled: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, instance_path: str | Path | None = None
    ) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``).

        In production (``MEETING_ASSISTANT_ENV=production``) the secrets and the add-on identity
        must be given explicitly; a missing one raises :class:`SettingsError` naming it.
        """
        env = dict(os.environ if environ is None else environ)
        folder = Path(
            instance_path or env.get("MEETING_ASSISTANT_INSTANCE", DEFAULT_INSTANCE_PATH)
        ).resolve()
        mode = env.get("MEETING_ASSISTANT_ENV", "development")
        if mode == "production":
            required = (
                "DATABASE_URL",
                "QUEUE_URL",
                "PUBLIC_BASE_URL",
                "SECRET_KEY",
                "TOKEN_ENCRYPTION_KEYS",
                "ADDON_SERVICE_ACCOUNT_EMAIL",
                "ADDON_OAUTH_CLIENT_ID",
            )
            missing = [name for name in required if not env.get(name)]
            if missing:
                raise SettingsError(
                    "missing required setting(s) for production: " + ", ".join(missing)
                )
        keys = _csv(env.get("TOKEN_ENCRYPTION_KEYS", "")) or (_instance_secret(folder, "fernet"),)
        for key in keys:
            try:
                Fernet(key)
            except ValueError as exc:
                raise SettingsError(
                    "TOKEN_ENCRYPTION_KEYS: each key must be a url-safe base64 Fernet key"
                ) from exc
        vendor = _csv(env.get("CRM_VENDOR_DOMAINS", "")) or (PRODUCT_DOMAIN,)
        public = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
        return cls(
            instance_path=folder,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{folder / 'meeting-assistant.db'}",
            queue_url=env.get("QUEUE_URL") or f"sqlite:///{folder / 'queue.db'}",
            secret_key=env.get("SECRET_KEY") or _instance_secret(folder, "secret_key"),
            token_encryption_keys=keys,
            public_base_url=public,
            addon_service_account_email=env.get("ADDON_SERVICE_ACCOUNT_EMAIL", ""),
            addon_oauth_client_id=env.get("ADDON_OAUTH_CLIENT_ID", ""),
            addon_apps_script_client_id=env.get("ADDON_APPS_SCRIPT_CLIENT_ID", ""),
            google_client_id=env.get("GOOGLE_CLIENT_ID", ""),
            google_client_secret=env.get("GOOGLE_CLIENT_SECRET", ""),
            google_auth_uri=env.get("GOOGLE_AUTH_URI", GOOGLE_AUTH_URI),
            google_token_uri=env.get("GOOGLE_TOKEN_URI", GOOGLE_TOKEN_URI),
            google_certs_url=env.get("GOOGLE_CERTS_URL", GOOGLE_CERTS_URL),
            google_calendar_api_url=env.get("GOOGLE_CALENDAR_API_URL", GOOGLE_CALENDAR_API_URL),
            google_gmail_api_url=env.get("GOOGLE_GMAIL_API_URL", GOOGLE_GMAIL_API_URL),
            microsoft_client_id=env.get("MICROSOFT_CLIENT_ID", ""),
            microsoft_client_secret=env.get("MICROSOFT_CLIENT_SECRET", ""),
            microsoft_authority=env.get("MICROSOFT_AUTHORITY", MICROSOFT_AUTHORITY),
            microsoft_graph_url=env.get("MICROSOFT_GRAPH_URL", MICROSOFT_GRAPH_URL),
            salesforce_client_id=env.get("SALESFORCE_CLIENT_ID", ""),
            salesforce_client_secret=env.get("SALESFORCE_CLIENT_SECRET", ""),
            salesforce_login_url=env.get("SALESFORCE_LOGIN_URL", SALESFORCE_LOGIN_URL),
            crm_vendor_domains=tuple(d.lower() for d in vendor),
            log_format=_log_format(
                env.get("LOG_FORMAT") or ("json" if mode == "production" else "text")
            ),
            metrics_enabled=env.get("METRICS_ENABLED", "").lower() in ("1", "true", "yes"),
            webhook_rate_limit=env.get("WEBHOOK_RATE_LIMIT") or "6000/minute",
            env=mode,
            preview_enabled=env.get("MEETING_ASSISTANT_PREVIEW", "") == "1",
        )

    def describe(self) -> dict[str, str]:
        """Settings for display, with secrets masked."""
        hidden = {"secret_key", "token_encryption_keys", "google_client_secret"}
        hidden |= {"microsoft_client_secret", "salesforce_client_secret"}
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            out[f.name] = "***" if f.name in hidden else str(getattr(self, f.name))
        return out


def _log_format(value: str) -> str:
    if value not in ("json", "text"):
        raise SettingsError("LOG_FORMAT: json or text")
    return value


def _instance_secret(folder: Path, name: str) -> str:
    """Return the secret stored in ``folder/name``, generating it (mode 0600) the first time."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        value = Fernet.generate_key().decode() if name == "fernet" else secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; read theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(value)
    return path.read_text().strip()
