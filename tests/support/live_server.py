"""The gateway served by a real uvicorn on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.main import create_app
from settings import Settings


@contextmanager
def serve(settings: Settings, *, start_timeout: float = 60, http: str = "auto") -> Iterator[str]:
    """Yield the server's base URL; stop it (lifespan shutdown included) on exit.

    `http`: uvicorn's HTTP parser, "h11" or "httptools" ("auto": httptools when installed)."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        http=http,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if thread.is_alive():
            raise RuntimeError("the test server did not stop")
