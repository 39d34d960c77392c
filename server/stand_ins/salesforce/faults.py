"""The org's API budget, injected faults and request log: every API request counts one call
against ``daily_limit`` and is refused with ``REQUEST_LIMIT_EXCEEDED`` once the day's are
spent (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/
salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm); faults stand for
expired sessions, outages and row locks (https://developer.salesforce.com/docs/atlas.en-us.
api_rest.meta/api_rest/errorcodes.htm). A mixin of :class:`~.org.OrgState`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .schema import JsonDict
from .wire import ApiError

DEFAULT_CODES = {
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    503: "SERVER_UNAVAILABLE",
}
MESSAGES = {
    "INVALID_SESSION_ID": "Session expired or invalid",
    "REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded.",
    "SERVER_UNAVAILABLE": "Server temporarily unavailable; please try again later.",
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
    "UNKNOWN_EXCEPTION": "An unexpected error occurred. Please include this ErrorId if you "
    "contact support: 1234567890-12345 (-1234567890)",
}


@dataclass
class OrgRequest:
    """One request as the stand-in saw it, for tests to assert on."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = None  # the JSON body, or the form of an OAuth request
    status: int | None = None
    user_id: str | None = None


@dataclass
class Fault:
    remaining: int
    error: ApiError
    path_contains: str


@dataclass
class RecordFault:
    match: Callable[[JsonDict], bool]
    code: str
    message: str
    remaining: int | None


class Limits:
    """Daily limit, faults, request log. Needs the host's ``lock``."""

    lock: threading.RLock

    def __init__(self) -> None:
        self.daily_limit = 15000
        self.api_usage = 0
        self.requests: list[OrgRequest] = []
        self.faults: list[Fault] = []
        self.record_faults: list[RecordFault] = []

    def count_call(self) -> None:
        """One API request: refused with REQUEST_LIMIT_EXCEEDED once the day's are used."""
        with self.lock:
            if self.api_usage >= self.daily_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", MESSAGES["REQUEST_LIMIT_EXCEEDED"])
            self.api_usage += 1

    def limit_info(self) -> str:
        with self.lock:
            return f"api-usage={self.api_usage}/{self.daily_limit}"

    def reset_usage(self) -> None:
        with self.lock:
            self.api_usage = 0

    def fail_next(
        self,
        status: int,
        error_code: str = "",
        count: int = 1,
        path_contains: str = "",
        message: str = "",
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` API requests whose path contains ``path_contains`` fail."""
        code = error_code or DEFAULT_CODES.get(status, "UNKNOWN_EXCEPTION")
        fields: list[str] | None = [] if code == "UNABLE_TO_LOCK_ROW" else None
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        error = ApiError(status, code, message or MESSAGES.get(code, code), fields, headers)
        with self.lock:
            self.faults.append(Fault(count, error, path_contains))

    def take_fault(self, path: str) -> ApiError | None:
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.path_contains in path:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault.error
        return None

    def fail_record(
        self,
        match: str | Callable[[JsonDict], bool],
        error_code: str = "UNABLE_TO_LOCK_ROW",
        message: str = "",
        count: int | None = None,
    ) -> None:
        """Records inside an sObject Collections request that ``match`` (a predicate on the
        record's fields, or a substring of its Subject) fail with ``error_code`` while the
        others succeed; ``count`` limits how many (None: until :meth:`clear_faults`)."""
        if isinstance(match, str):
            text = match
            match = lambda fields: text in str(fields.get("Subject") or "")  # noqa: E731
        fault = RecordFault(
            match, error_code, message or MESSAGES.get(error_code, error_code), count
        )
        with self.lock:
            self.record_faults.append(fault)

    def record_fault(self, fields: JsonDict) -> ApiError | None:
        with self.lock:
            for fault in self.record_faults:
                if fault.remaining != 0 and fault.match(fields):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return ApiError(400, fault.code, fault.message, [])
        return None

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.record_faults.clear()

    def record_request(self, entry: OrgRequest) -> OrgRequest:
        with self.lock:
            self.requests.append(entry)
        return entry
