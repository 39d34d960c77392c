"""The network guard (installed by conftest) keeps every test on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import threading

import pytest
import requests

from tests.netguard import NetworkBlocked

TEST_NET = "192.0.2.1"  # RFC 5737 TEST-NET-1: documentation only, never routed


def test_blocks_connecting_to_a_non_loopback_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        with pytest.raises(NetworkBlocked, match=re.escape(TEST_NET)):
            sock.connect((TEST_NET, 80))
        with pytest.raises(NetworkBlocked):
            sock.connect_ex((TEST_NET, 443))
    with pytest.raises(NetworkBlocked):
        socket.create_connection((TEST_NET, 80), timeout=0.5)


def test_blocks_ipv6_beyond_loopback() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("2001:db8::1", 80)  # RFC 3849 documentation prefix


def test_blocks_resolving_a_public_hostname() -> None:
    with pytest.raises(NetworkBlocked, match=re.escape("example.com")):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("www.googleapis.com", 443), timeout=0.5)


def test_blocks_http_clients_too() -> None:
    """Libraries built on sockets (requests, google-auth's transport) hit the same wall, and
    the error is not one they retry or wrap as an ordinary connection failure."""
    with pytest.raises(NetworkBlocked, match=re.escape("only 127.0.0.1 is allowed")):
        requests.get("https://oauth2.googleapis.com/token", timeout=0.5)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_allows_loopback(host: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        accepted: list[bytes] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                accepted.append(conn.recv(16))

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection((host, port), timeout=5) as client:
            client.sendall(b"ping")
        thread.join(timeout=5)
    assert accepted == [b"ping"]
