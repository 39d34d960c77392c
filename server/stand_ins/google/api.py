"""The gate every Google API route goes through: record, authenticate, scope, faults."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, request

from .common import ApiError, ApiRecorder, bearer_token, unauthorized
from .oauth import OAuthState


def guarded(
    recorder: ApiRecorder,
    oauth: OAuthState,
    scopes: set[str],
    *,
    header_names: tuple[str, ...] = (),
    with_status: bool = False,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a route: log it, require a live bearer access token with one of ``scopes``,
    apply injected failures, and turn :class:`ApiError` into Google's JSON error.
    The handler receives the :class:`AccessToken` as its first argument."""

    def decorate(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(**kwargs: Any) -> Response:
            entry = recorder.record(header_names=header_names)
            try:
                token = bearer_token()
                access = oauth.resolve(token)
                if access is None:
                    raise unauthorized("Login Required.") if token is None else unauthorized()
                entry.user = access.user
                if not access.allows(scopes):
                    raise ApiError(
                        403,
                        "insufficientPermissions",
                        "Request had insufficient authentication scopes.",
                        with_status=True,
                    )
                fault = recorder.take_fault(request.path)
                if fault is not None:
                    raise fault
                response = handler(access, **kwargs)
            except ApiError as error:
                if with_status:
                    error.with_status = True
                response = error.response()
            entry.status = response.status_code
            return response

        return wrapper

    return decorate


def json_body() -> dict[str, Any]:
    """The request's JSON object, or Google's 400 parse error."""
    if not request.data:
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return body
