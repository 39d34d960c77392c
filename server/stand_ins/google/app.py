"""The Google stand-in as one object: a Flask app, its state, and a threaded server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .calendar import CalendarState
from .calendar_routes import PREFIX as CALENDAR_PREFIX
from .calendar_routes import calendar_blueprint
from .common import utc_now
from .gmail import GmailState, gmail_blueprint
from .keys import PUBLISHED_KEY
from .oauth import OAuthState
from .oauth_routes import AUTH_PATH, CERTS_PATH, REVOKE_PATH, TOKEN_PATH, oauth_blueprint

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """One request per connection (so stop() leaves nothing open); access log at DEBUG."""

    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


class GoogleStandIn:
    """Local stand-in for Google OAuth, ID-token certs, Calendar v3 and Gmail v1.

    ``stand_in.start()`` serves it on 127.0.0.1; ``stand_in.settings()`` gives the
    environment overrides that point the product at it. State lives in ``oauth``,
    ``calendar`` and ``gmail``; ``now`` is an injectable clock (UTC-aware datetimes).
    """

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self.now: Callable[[], datetime] = now or utc_now
        self.oauth = OAuthState(self.now)
        self.calendar = CalendarState(self.now)
        self.gmail = GmailState(self.now)
        self._base_url = "http://127.0.0.1"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        app = Flask("google_stand_in")
        app.register_blueprint(oauth_blueprint(self.oauth, self.now))
        app.register_blueprint(calendar_blueprint(self.calendar, self.oauth))
        app.register_blueprint(gmail_blueprint(self.gmail, self.oauth))
        self.wsgi_app = app

    # -- serving ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started; set it when mounting ``wsgi_app``
        elsewhere so links and resource URIs point at the right origin."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")
        self.calendar.base_url = self._base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread (threaded werkzeug server); returns the base URL."""
        if self._server is not None:
            return self.base_url
        server = make_server(
            host, port, self.wsgi_app, threaded=True, request_handler=_QuietHandler
        )
        self._server = server
        self.base_url = f"http://{host}:{server.server_port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="google-stand-in",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and the push worker; state is kept."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)
        self.calendar.push.close()

    def __enter__(self) -> GoogleStandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def settings(self) -> dict[str, str]:
        """Environment-style settings pointing the product at this stand-in."""
        base = self.base_url
        return {
            "GOOGLE_AUTH_URI": base + AUTH_PATH,
            "GOOGLE_TOKEN_URI": base + TOKEN_PATH,
            "GOOGLE_CERTS_URL": base + CERTS_PATH,
            "GOOGLE_CALENDAR_API_URL": base + CALENDAR_PREFIX + "/",
            "GOOGLE_GMAIL_API_URL": base + "/",
        }

    @property
    def revoke_url(self) -> str:
        return self.base_url + REVOKE_PATH

    # -- identity -----------------------------------------------------------------------
    def sign_id_token(self, claims: dict[str, Any], *, key: str = PUBLISHED_KEY) -> str:
        """RS256 JWT with a ``kid``; ``key="rogue"`` uses a key absent from the certs."""
        return self.oauth.sign_id_token(claims, key=key)

    def id_token_for(
        self,
        *,
        audience: str,
        email: str,
        issuer: str = "https://accounts.google.com",
        ttl: int = 3600,
        **extra: Any,
    ) -> str:
        """A Google ID token (iss, aud, sub, email, email_verified, iat, exp) from the
        injected clock; ``extra`` claims are added or override, ``key=`` picks the key."""
        return self.oauth.id_token_for(
            audience=audience, email=email, issuer=issuer, ttl=ttl, **extra
        )

    def user_access_token(self, email: str, scopes: list[str] | None = None) -> str:
        """An access token the Calendar and Gmail stand-ins accept for ``email``."""
        return self.oauth.user_access_token(email, scopes)
