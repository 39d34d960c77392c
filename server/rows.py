"""Row plumbing every feature's jobs share: work handed to the queue once a transaction
commits, and claiming a row with one conditional ``UPDATE`` so that of several workers
racing for it exactly one wins (no lock held, works the same on SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, event, update
from sqlalchemy.orm import Session

from server.db import MAX_ID
from server.errors import NotFound

T = TypeVar("T")

log = logging.getLogger(__name__)

_PENDING = "after_commit"
_HOOKED = "after_commit_hooked"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction commits (dropped on rollback): a worker
    must not look for a row before it is visible. A failing callback is logged; the periodic
    sweeps pick the row up anyway."""
    pending: list[Callable[[], None]] = session.info.setdefault(_PENDING, [])
    if not session.info.get(_HOOKED):
        session.info[_HOOKED] = True
        event.listen(session, "after_commit", _run_callbacks)
        event.listen(session, "after_soft_rollback", _drop_callbacks)
    pending.append(callback)


def _run_callbacks(session: Session) -> None:
    for callback in session.info.pop(_PENDING, []):
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


def _drop_callbacks(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def claim(session: Session, model: Any, where: ColumnElement[bool], values: dict[str, Any]) -> bool:
    """Set ``values`` on the one row ``where`` selects, if it still qualifies; True only for
    the caller whose update changed it."""
    result = session.execute(
        update(model).where(where).values(**values).execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def get_owned(
    session: Session, model: type[T], account_id: int, object_id: int, what: str = ""
) -> T:
    """The row ``object_id`` of ``model`` if it belongs to the account, else :class:`NotFound`:
    one answer for an unknown id, another account's and one no column can hold (the drivers
    would fail on it, not miss it)."""
    row = session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    if row is None or getattr(row, "account_id", None) != account_id:
        raise NotFound(f"{what or model.__name__.lower()} {object_id} not found")
    return row
