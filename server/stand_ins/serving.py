"""Serving a stand-in the way the Microsoft and Salesforce ones are served: one WSGI app on
127.0.0.1 over https (certificate from a test CA: what the product's clients talk to) and over
plain http (the pages a person's browser opens, with no certificate exception), each in a
daemon thread. The stand-ins subclass :class:`DualServed`."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from server.stand_ins.microsoft.tls import TestCA

log = logging.getLogger(__name__)


class QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


class DualServed:
    """``start()`` serves ``wsgi_app`` on https and http and calls ``served(https, http)``
    with the two origins; ``stop()`` ends both; usable as a context manager."""

    wsgi_app: Any
    ca: TestCA
    name = "stand-in"

    def __init__(self) -> None:
        self._servers: list[tuple[BaseWSGIServer, threading.Thread]] = []
        self.https_origin = "https://127.0.0.1"
        self.http_origin = "http://127.0.0.1"

    def served(self, https_origin: str, http_origin: str) -> None:
        """Where the stand-in now answers (subclasses pass it on to their state)."""
        self.https_origin, self.http_origin = https_origin, http_origin

    def origin(self) -> str:
        """What ``start()`` answers: the https origin, or the stand-in's own entry point."""
        return self.https_origin

    def start(self, host: str = "127.0.0.1") -> str:
        if self._servers:
            return self.origin()
        secure = make_server(
            host,
            0,
            self.wsgi_app,
            threaded=True,
            request_handler=QuietHandler,
            ssl_context=self.ca.issue().context(),
        )
        plain = make_server(host, 0, self.wsgi_app, threaded=True, request_handler=QuietHandler)
        self.served(f"https://{host}:{secure.server_port}", f"http://{host}:{plain.server_port}")
        for server in (secure, plain):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=self.name,
                daemon=True,
            )
            thread.start()
            self._servers.append((server, thread))
        return self.origin()

    def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def __enter__(self) -> DualServed:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
