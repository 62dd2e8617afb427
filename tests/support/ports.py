"""Loopback ports for test servers and processes."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listened on a moment ago (the OS picked it, then it was closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def closed_port_url() -> str:
    """An http:// URL on a loopback port nothing listens on: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}"
