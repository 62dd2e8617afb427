"""A bounded load test on loopback against the real server (uvicorn, embedded model).

200 uploads from 8 concurrent clients while the gateway admits 6 at a time: every answer is
200 or the documented 503 `overloaded` with Retry-After (on which the client backs off and
tries again), every upload is served in the end, the event loop stays responsive,
nothing is left in the upload directory, and threads and memory return to where they were.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from settings import Settings
from tests.support.live_server import serve

REQUESTS, CLIENTS, ADMITTED = 200, 8, 6


@dataclass
class Running:
    url: str
    upload_dir: Path


def proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@pytest.fixture(scope="module")
def python_threads_before() -> int:
    return threading.active_count()


@pytest.fixture(scope="module")
def server(
    python_threads_before: int, model_base: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    upload_dir = tmp_path_factory.mktemp("load-uploads")
    settings = Settings(
        _env_file=None,
        MODEL_BASE_PATH=model_base,
        UPLOAD_DIR=upload_dir,
        BACKEND="embedded",
        MAX_INFLIGHT_REQUESTS=ADMITTED,
    )
    with serve(settings) as url:
        yield Running(url, upload_dir)
    # Pools, clients and the server's own threads are all gone.
    assert threading.active_count() == python_threads_before


async def fire(url: str, clip: bytes, n: int, clients: int) -> tuple[Counter[int], list[float]]:
    statuses: Counter[int] = Counter()
    live_latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            while True:  # each upload is retried until it is admitted, as a polite client would
                response = await http.post("/predict", files={"file": ("clip.mp4", clip)})
                statuses[response.status_code] += 1
                if response.status_code != 503:
                    break
                assert response.json()["code"] == "overloaded"
                assert response.headers["Retry-After"] == "1"
                await asyncio.sleep(0.1)  # Retry-After, scaled down for the test

    async def probe(http: httpx.AsyncClient, done: asyncio.Event) -> None:
        while not done.is_set():
            started = time.perf_counter()
            response = await http.get("/health/live")
            live_latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            await asyncio.sleep(0.05)

    limits = httpx.Limits(max_connections=clients + 1)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        done = asyncio.Event()
        watcher = asyncio.create_task(probe(http, done))
        await asyncio.gather(*(client(http) for _ in range(clients)))
        done.set()
        await watcher
    return statuses, live_latencies


def test_load(server: Running, videos: dict[str, Path]) -> None:
    clip = videos["short"].read_bytes()
    # Warm up at full concurrency, so thread pools reach their working size before measuring.
    asyncio.run(fire(server.url, clip, 40, CLIENTS))
    gc.collect()
    rss_before, os_threads_before = proc_status("VmRSS"), proc_status("Threads")

    started = time.perf_counter()
    statuses, live = asyncio.run(fire(server.url, clip, REQUESTS, CLIENTS))
    elapsed = time.perf_counter() - started

    gc.collect()
    rss_growth_mb = (proc_status("VmRSS") - rss_before) / 1024
    live.sort()
    print(
        f"\nload: {REQUESTS} requests, {CLIENTS} clients, {elapsed:.1f} s, {dict(statuses)}, "
        f"/health/live p50 {live[len(live) // 2] * 1000:.1f} ms max {live[-1] * 1000:.1f} ms, "
        f"RSS growth {rss_growth_mb:.1f} MB"
    )
    assert set(statuses) <= {200, 503}
    assert statuses[200] == REQUESTS  # every upload was served once admitted
    assert statuses[503] > 0  # 8 clients against 6 admitted: the excess is refused at once
    assert list(server.upload_dir.iterdir()) == []
    assert proc_status("Threads") <= os_threads_before + 2
    assert rss_growth_mb < 100


def test_client_disconnect_mid_upload_leaves_no_file(server: Running) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            (
                f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Length: 50000000\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
            ).encode()
            + head
            + b"\x00" * 3_000_000
        )
        deadline = time.monotonic() + 10
        while not any(server.upload_dir.iterdir()):  # the upload is being written
            assert time.monotonic() < deadline
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while any(server.upload_dir.iterdir()):
        assert time.monotonic() < deadline, "temp file left after the client went away"
        time.sleep(0.05)
    assert httpx.get(server.url + "/health/live").status_code == 200
