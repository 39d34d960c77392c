"""Request plumbing shared by every blueprint: the per-request session, JSON bodies, the one
error shape, and the OpenAPI registry.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from server.db import MAX_ID, Database
from server.errors import DomainError, Invalid

log = logging.getLogger(__name__)
MAX_URL_CHARS = 8000
BASELINE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
F = TypeVar("F", bound=Callable[..., Any])


def database() -> Database:
    return cast(Database, current_app.extensions["database"])


def db_session() -> Session:
    """The request's session; the request's end commits it (or rolls back on an error)."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return cast(Session, g.db_session)


def json_body(schema: Schema) -> dict[str, Any]:
    """The request's JSON body loaded through ``schema``; any defect raises :class:`Invalid`."""
    try:
        data = request.get_json(silent=True, cache=True)
    except RecursionError:  # nested deeper than the parser goes
        data = None
    if data is None:
        raise Invalid("the body must be a JSON object (Content-Type: application/json)")
    return load(schema, data)


def query_args(schema: Schema) -> dict[str, Any]:
    return load(schema, request.args.to_dict())


def load(schema: Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid("expected a JSON object")
    if not _storable(data):
        raise Invalid("text must be valid UTF-8 without NUL characters")
    try:
        return cast(dict[str, Any], schema.load(data))
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise Invalid("the request is not valid", {"fields": messages}) from exc


def _storable(data: Any) -> bool:
    """Whether every string in ``data`` can be stored: JSON admits NUL and lone surrogates
    (``"\\u0000"``, ``"\\ud800"``), which PostgreSQL and UTF-8 refuse."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, ValueError) as exc:  # ValueError: not ASCII; UnicodeDecodeError
        raise Invalid("malformed cursor", {"cursor": value}) from exc


def id_cursor(value: str | None) -> int | None:
    """The one parser of id cursors (keyset pagination by id): a positive id a column holds,
    or :class:`Invalid` (400) for anything else."""
    raw = decode_cursor(value)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID):
        raise Invalid("malformed cursor", {"cursor": value})
    return int(raw)


def error_response(error: DomainError) -> tuple[Response, int]:
    return jsonify(error.to_dict()), error.status


ErrorPage = Callable[[int, str], Response]


def error_pages(app: Flask, prefix: str, render: ErrorPage) -> None:
    """Errors under ``prefix`` are pages for a person (``render(status, message)``), not the
    API's JSON error shape."""
    app.extensions.setdefault("error_pages", []).append((prefix, render))


def _page(status: int, message: str) -> Response | None:
    for prefix, render in current_app.extensions.get("error_pages", ()):
        if request.path.startswith(prefix):
            response: Response = render(status, message)
            response.status_code = status
            return response
    return None


def install(app: Flask, database: Database) -> None:
    """Wire the session lifecycle and the error handlers into ``app``."""
    app.extensions["database"] = database

    @app.before_request
    def _url_length() -> None:
        # gunicorn runs with --limit-request-line 0 so that this answers in the error shape.
        raw = request.environ.get("RAW_URI") or request.full_path
        if len(raw) > MAX_URL_CHARS:
            raise RequestURITooLarge(f"the URL is longer than {MAX_URL_CHARS} characters")

    @app.after_request
    def _commit(response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Every answer: no content sniffing. Every HTML page without a policy of its own (the
        # settings app and the preview set stricter ones): no script but its own files, no
        # framing, no plugins, the referrer kept to this origin.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", BASELINE_CSP)
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()

    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> tuple[Response, int]:
        page = _page(error.status, error.message)
        return (page, error.status) if page is not None else error_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response, int]:
        code = (error.name or "error").lower().replace(" ", "_")
        status = error.code or 500
        body = {"error": {"code": code, "message": error.description or "", "details": {}}}
        response = _page(status, error.description or "") or jsonify(body)
        # Keep what the error says about the resource: a 405's ``Allow`` above all.
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _crash(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        page = _page(500, "Something went wrong on our side. Try again in a moment.")
        if page is not None:
            return page, 500
        body = {"error": {"code": "internal", "message": "internal error", "details": {}}}
        return jsonify(body), 500


# --- OpenAPI -------------------------------------------------------------------------------


def doc(
    *,
    summary: str,
    body: type[Schema] | Schema | None = None,  # an instance for a list (``many=True``)
    response: type[Schema] | None = None,
    status: int = 200,
    query: type[Schema] | None = None,
) -> Callable[[F], F]:
    """Attach the schemas a view uses, for the OpenAPI document."""

    def mark(view: F) -> F:
        view.openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "body": body,
            "response": response,
            "status": status,
            "query": query,
        }
        return view

    return mark
