"""Fields every log line of a queue task carries (its job name, the connection it works on),
set around the task and read by the log filter of :mod:`server.observability`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

fields: ContextVar[dict[str, Any] | None] = ContextVar("log_fields", default=None)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    token = fields.set({**(fields.get() or {}), **values})
    try:
        yield
    finally:
        fields.reset(token)
