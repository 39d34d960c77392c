"""The org's REST API through simple-salesforce, with what a sync needs around it.

- Tokens: an access token from the stored refresh token; on 401 (``INVALID_SESSION_ID``) one
  refresh and one retry. A rotated refresh token is handed to ``on_rotate`` at once (its own
  transaction: the old one no longer works, so losing the new one would lose the org).
- Budget (H8): every call is counted and refused (:class:`BudgetExhausted`) once the day's
  calls reach the settings' ``daily_api_budget``; ``Sforce-Limit-Info`` is read from every
  answer simple-salesforce parses it from.
- Errors: ``REQUEST_LIMIT_EXCEEDED`` and a 503 that outlasts the retries pause the org
  (:class:`Paused`); ``UNABLE_TO_LOCK_ROW`` is retried; a refused refresh is
  :class:`~server.salesforce.oauth.GrantRefused` (the org needs reconnecting).

simple-salesforce builds ``https://`` URLs from ``instance_url``'s host and port; tests reach
a stand-in on 127.0.0.1 over TLS with a test CA trusted through ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from server.config import Settings
from server.salesforce import oauth

log = logging.getLogger(__name__)

API_VERSION = "62.0"
LOCK_RETRIES = 3
UNAVAILABLE_RETRIES = 3
PAUSE_ON_LIMIT = 3600.0
PAUSE_ON_UNAVAILABLE = 300.0

Rotate = Callable[[str, str], None]  # (refresh token, instance URL)


class Paused(Exception):
    """The org asks us to stop for a while (limits, unavailable): try after ``seconds``."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class BudgetExhausted(Paused):
    """Today's share of the org's API calls (the settings' budget) is used up."""


class RecordError(Exception):
    """Salesforce refused a request about one record; the others go on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code


def error_code(exc: SalesforceError) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode") or "")
    return ""


class SalesforceApi:
    def __init__(
        self,
        settings: Settings,
        refresh_token: str,
        instance_url: str,
        *,
        calls_before: int,
        budget: int,
        on_rotate: Rotate,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.refresh_token = refresh_token
        self.instance_url = instance_url
        self.calls = 0  # made through this client
        self.calls_before = calls_before  # made today before it
        self.budget = budget
        self.on_rotate = on_rotate
        self.sleep = sleep
        self.org_usage: tuple[int, int] | None = None
        self.http = requests.Session()
        self._sf: Salesforce | None = None

    # -- calls ---------------------------------------------------------------------------------

    def query_pages(
        self, soql: str, *, include_deleted: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of ``soql`` (``queryAll`` when ``include_deleted``), one at a time."""
        page = self._call(lambda sf: sf.query(soql, include_deleted=include_deleted))
        while True:
            yield [dict(r) for r in page.get("records") or ()]
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                return
            page = self._call(_more(str(following), include_deleted))

    def describe(self, sobject: str) -> dict[str, Any]:
        return dict(self._call(lambda sf: sf.restful(f"sobjects/{sobject}/describe/")))

    def restful(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        return self._call(lambda sf: sf.restful(path, method=method, **kwargs))

    def close(self) -> None:
        self.http.close()

    # -- machinery ------------------------------------------------------------------------------

    def _client(self, *, fresh: bool = False) -> Salesforce:
        if self._sf is None or fresh:
            tokens = oauth.refresh(self.settings, self.refresh_token, self.http)
            if tokens.refresh_token and tokens.refresh_token != self.refresh_token:
                self.refresh_token = tokens.refresh_token
                self.on_rotate(tokens.refresh_token, tokens.instance_url)
            self.instance_url = tokens.instance_url
            self._sf = Salesforce(
                instance_url=tokens.instance_url,
                session_id=tokens.access_token,
                version=API_VERSION,
                session=self.http,
            )
        return self._sf

    def _spend(self) -> None:
        if self.calls_before + self.calls >= self.budget:
            raise BudgetExhausted(
                f"today's API budget of {self.budget} calls is used up", _until_midnight()
            )
        self.calls += 1

    def _call(self, make: Callable[[Salesforce], Any]) -> Any:
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            sf = self._client()
            self._spend()
            try:
                answer = make(sf)
            except SalesforceExpiredSession:
                if refreshed:
                    raise
                refreshed = True
                self._client(fresh=True)
                continue
            except SalesforceRefusedRequest as exc:
                if error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                    raise Paused("the org's API request limit is exceeded", PAUSE_ON_LIMIT) from exc
                raise RecordError(error_code(exc), str(exc.content)[:500]) from exc
            except SalesforceError as exc:
                code, status = error_code(exc), getattr(exc, "status", 0)
                if code == "UNABLE_TO_LOCK_ROW" and attempt <= LOCK_RETRIES:
                    self.sleep(0.5 * attempt)
                    continue
                if status in (502, 503, 504) or code == "SERVER_UNAVAILABLE":
                    if attempt <= UNAVAILABLE_RETRIES:
                        self.sleep(min(30.0, 2.0**attempt))
                        continue
                    raise Paused("Salesforce is unavailable", PAUSE_ON_UNAVAILABLE) from exc
                raise RecordError(code, str(getattr(exc, "content", exc))[:500]) from exc
            except requests.RequestException as exc:
                if attempt <= UNAVAILABLE_RETRIES:
                    self.sleep(min(30.0, 2.0**attempt))
                    continue
                raise Paused(f"Salesforce could not be reached ({type(exc).__name__})", 60) from exc
            usage = (sf.api_usage or {}).get("api-usage")
            if usage is not None:
                self.org_usage = (int(usage.used), int(usage.total))
            return answer


def _more(url: str, include_deleted: bool) -> Callable[[Salesforce], Any]:
    return lambda sf: sf.query_more(url, identifier_is_url=True, include_deleted=include_deleted)


def _until_midnight() -> float:
    now = time.time()
    return 86400 - now % 86400
