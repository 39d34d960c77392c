"""Pieces shared by the Google stand-in modules: errors, request log, fault injection, time."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dateutil.parser import isoparse
from flask import Response, request

Clock = Callable[[], datetime]
JsonDict = dict[str, Any]

_USAGE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
_DEFAULT_REASONS: dict[int, tuple[str, str]] = {
    400: ("badRequest", "Bad Request"),
    401: ("authError", "Invalid Credentials"),
    403: ("userRateLimitExceeded", "User Rate Limit Exceeded"),
    404: ("notFound", "Not Found"),
    409: ("duplicate", "The requested identifier already exists."),
    410: ("fullSyncRequired", "Sync token is no longer valid, a full sync is required."),
    429: ("rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("backendError", "Backend Error"),
    503: ("backendError", "The service is currently unavailable."),
}
_MESSAGES = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Quota Exceeded",
}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An error answered in Google's JSON error format (``{"error": {...}}``)."""

    def __init__(
        self,
        code: int,
        reason: str | None = None,
        message: str | None = None,
        *,
        domain: str | None = None,
        with_status: bool = False,
        headers: dict[str, str] | None = None,
        extra: JsonDict | None = None,
    ) -> None:
        default_reason, default_message = _DEFAULT_REASONS.get(code, ("backendError", "Error"))
        self.code = code
        self.reason = reason or default_reason
        self.message = message or _MESSAGES.get(self.reason) or default_message
        if domain is None:
            domain = "usageLimits" if self.reason in _USAGE_LIMIT_REASONS else "global"
            domain = "calendar" if self.reason == "fullSyncRequired" else domain
        self.domain = domain
        self.with_status = with_status
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(f"{code} {self.reason}: {self.message}")

    def body(self) -> JsonDict:
        detail: JsonDict = {"domain": self.domain, "reason": self.reason, "message": self.message}
        detail.update(self.extra)
        error: JsonDict = {"code": self.code, "message": self.message, "errors": [detail]}
        if self.with_status and self.code in _STATUS_NAMES:
            error["status"] = _STATUS_NAMES[self.code]
        return {"error": error}

    def response(self) -> Response:
        resp = json_response(self.body(), self.code)
        for name, value in self.headers.items():
            resp.headers[name] = value
        return resp


def unauthorized(message: str = "Invalid Credentials") -> ApiError:
    """Google's 401 for a missing or unusable bearer token."""
    missing = message == "Login Required."
    return ApiError(
        401,
        "required" if missing else "authError",
        message,
        with_status=True,
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        extra={"location": "Authorization", "locationType": "header"},
    )


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, indent=1), status=status, mimetype="application/json; charset=UTF-8"
    )


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def new_id(length: int = 26) -> str:
    """A random id in Google's event-id alphabet (base32hex, lower case)."""
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2025-01-07T09:00:00.000Z``, the form Google uses for created/updated."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(value: str, name: str) -> datetime:
    """Parse a timestamp with a mandatory offset, or raise Google's 400."""
    try:
        parsed = isoparse(value)
    except ValueError:
        raise ApiError(400, "badRequest", f"Invalid value for: {name}") from None
    if parsed.tzinfo is None:
        raise ApiError(400, "badRequest", f"Invalid value for: {name}")
    return parsed


@dataclass
class RecordedRequest:
    """One request as the stand-in saw it, for tests to assert on."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    user: str | None = None
    status: int | None = None


@dataclass
class _Fault:
    remaining: int
    error: ApiError
    path_contains: str


@dataclass
class ApiRecorder:
    """Request log plus injected failures for one API surface."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self,
        n: int,
        status: int,
        *,
        reason: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next ``n`` authenticated requests (whose path contains ``path_contains``)
        with ``status`` and Google's JSON error body; ``Retry-After`` when given."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        error = ApiError(status, reason, message, headers=headers)
        with self._lock:
            self._faults.append(_Fault(n, error, path_contains))

    def take_fault(self, path: str) -> ApiError | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.path_contains in path:
                    fault.remaining -= 1
                    return fault.error
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    def record(self, *, header_names: tuple[str, ...] = ()) -> RecordedRequest:
        body: Any = None
        if request.is_json:
            body = request.get_json(silent=True)
        elif request.form:
            body = dict(request.form.items())
        headers = {n: request.headers[n] for n in header_names if n in request.headers}
        entry = RecordedRequest(
            request.method, request.path, dict(request.args.items()), body, headers
        )
        with self._lock:
            self.requests.append(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()
