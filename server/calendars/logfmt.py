"""Structured log lines: ``message key=value ...`` in the text, the same fields as ``extra``
for a JSON formatter. Callers pass ids, counts and statuses, never tokens or event text."""

from __future__ import annotations

import logging
from typing import Any


def _emit(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    if logger.isEnabledFor(level):
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        logger.log(level, "%s %s", message, pairs, extra=fields, stacklevel=3)


def info(logger: logging.Logger, message: str, **fields: Any) -> None:
    _emit(logger, logging.INFO, message, fields)


def warning(logger: logging.Logger, message: str, **fields: Any) -> None:
    _emit(logger, logging.WARNING, message, fields)
