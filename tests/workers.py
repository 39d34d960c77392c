"""A Huey consumer running in the test process, stopped gracefully afterwards."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running(consumer: Any) -> Iterator[Any]:
    """Start ``consumer`` (thread workers) and stop it on exit.

    ``start`` installs the consumer's signal handlers (the worker command wants them); they are
    put back so the rest of the session keeps its own.
    """
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        consumer.start()
        yield consumer
    finally:
        consumer.stop(graceful=True)
        for signum, handler in saved.items():
            signal.signal(signum, handler)
