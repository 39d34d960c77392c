"""The Google stand-in in a process of its own, as Google is to a real worker: what a
benchmark measures is then the worker's time, not the stand-in's, and the two use two cores.

The parent drives the stand-in through a pipe: ``remote.calendar.add_event(...)`` runs
``stand_in.calendar.add_event(...)`` in the child; ``remote.run("module:function", ...)``
runs ``function(stand_in, ...)`` there (seeding a large calendar in one round trip).
"""

from __future__ import annotations

import importlib
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any


def _serve(conn: Connection) -> None:
    from server.stand_ins.google import GoogleStandIn

    stand_in = GoogleStandIn()
    stand_in.start()
    stand_in.calendar.allowed_push_hosts.add("127.0.0.1")
    conn.send(stand_in.settings())
    while True:
        message = conn.recv()
        if message is None:
            break
        path, args, kwargs = message
        try:
            if ":" in path:
                module, name = path.split(":")
                target = getattr(importlib.import_module(module), name)
                args = (stand_in, *args)
            else:
                target = stand_in
                for part in path.split("."):
                    target = getattr(target, part)
            conn.send((True, target(*args, **kwargs)))
        except Exception as exc:  # reported to the parent, which raises it
            conn.send((False, f"{type(exc).__name__}: {exc}"))
    stand_in.stop()


class _Proxy:
    def __init__(self, remote: RemoteStandIn, path: str) -> None:
        self._remote, self._path = remote, path

    def __getattr__(self, name: str) -> _Proxy:
        return _Proxy(self._remote, f"{self._path}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote.run(self._path, *args, **kwargs)


class RemoteStandIn:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self._settings: dict[str, str] = self._conn.recv()
        self.calendar = _Proxy(self, "calendar")
        self.oauth = _Proxy(self, "oauth")

    def settings(self) -> dict[str, str]:
        return dict(self._settings)

    def run(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self._conn.send((path, args, kwargs))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"stand-in: {value}")
        return value

    def stop(self) -> None:
        self._conn.send(None)
        self._process.join(timeout=10)
