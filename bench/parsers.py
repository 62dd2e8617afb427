"""What the h11 parser costs against httptools: the same app, requests per second, one run.

    python -m bench.parsers --out bench-out        (part of `make bench`)

The gateway runs h11 (api/server.py) because httptools has no cap on the request head. Two
gateway processes are started, identical but for the parser: `python -m api.server` (h11 with
the gateway's protocol) and the same `api.server.config()` with uvicorn's httptools protocol.
Each is driven by the same raw-socket client (kept-alive connections, one request at a time per
connection) for GET /health/live (where the parser is a large share of the work) and for a small
real upload to /predict (a 512x512 JPEG with a face), in alternating rounds so that drift in the
machine's speed hits both alike. Prints the table and writes bench-out/parsers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import uvicorn

from api.server import config
from bench.run import base_env, started
from settings import PROJECT_ROOT, Settings
from tests.support.ports import free_port
from tests.support.videos import astronaut_bgr

PARSERS = ("h11", "httptools")


def serve_with(http: str) -> None:
    """The gateway exactly as api.server runs it, but for uvicorn's `http` protocol."""
    server_config = config(Settings())
    server_config.http = http
    uvicorn.Server(server_config).run()


def upload_request(port: int) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", astronaut_bgr(), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    body = (
        b'--bench\r\nContent-Disposition: form-data; name="file"; filename="face.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + jpeg.tobytes() + b"\r\n--bench--\r\n"
    )
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary=bench\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def live_request(port: int) -> bytes:
    return f"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def drive(port: int, request: bytes, connections: int, seconds: float) -> dict[str, Any]:
    """Requests per second over `seconds`, each connection sending the next request once the
    previous answer has been read in full."""
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds

    async def connection() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses[status] = statuses.get(status, 0) + 1
                done += 1
        finally:
            writer.close()
        return done

    started_at = time.perf_counter()
    counts = await asyncio.gather(*(connection() for _ in range(connections)))
    wall = time.perf_counter() - started_at
    return {"requests": sum(counts), "seconds": wall, "rps": sum(counts) / wall,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}  # fmt: skip


def big_header(port: int) -> int:
    """The status a 1 MB request header gets (httptools: no limit; h11: MAX_HEADER_BYTES)."""
    request = live_request(port).replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with contextlib.suppress(OSError):  # a refusing server may stop reading
            sock.sendall(request)
        return int(sock.recv(64).split(b" ", 2)[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench-out")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--serve", choices=PARSERS, help=argparse.SUPPRESS)  # the server side
    args = parser.parse_args(argv)
    if args.serve:
        serve_with(args.serve)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**base_env(), "BACKEND": "embedded", "HOST": "127.0.0.1"}
    commands = {
        "h11": [sys.executable, "-m", "api.server"],
        "httptools": [sys.executable, "-m", "bench.parsers", "--serve", "httptools"],
    }
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        p: {"live": [], "predict": []} for p in PARSERS
    }
    head_status: dict[str, int] = {}
    ports = {p: free_port() for p in PARSERS}
    with (
        started(commands["h11"], {**env, "PORT": str(ports["h11"])}, args.out / "h11.log",
                f"http://127.0.0.1:{ports['h11']}/health/ready"),
        started(commands["httptools"], {**env, "PORT": str(ports["httptools"])},
                args.out / "httptools.log", f"http://127.0.0.1:{ports['httptools']}/health/ready"),
    ):  # fmt: skip
        requests = {p: {"live": live_request(ports[p]), "predict": upload_request(ports[p])}
                    for p in PARSERS}  # fmt: skip
        for p in PARSERS:  # warm up: first model call, caches
            asyncio.run(drive(ports[p], requests[p]["predict"], 1, 0.5))
        for _ in range(args.rounds):
            for kind in ("live", "predict"):
                for p in PARSERS:
                    run = drive(ports[p], requests[p][kind], args.connections, args.seconds)
                    results[p][kind].append(asyncio.run(run))
        for p in PARSERS:
            head_status[p] = big_header(ports[p])
    summary: dict[str, Any] = {"connections": args.connections, "seconds": args.seconds,
                               "rounds": args.rounds, "cpus": os.cpu_count()}  # fmt: skip
    for kind in ("live", "predict"):
        rps = {p: statistics.median(r["rps"] for r in results[p][kind]) for p in PARSERS}
        summary[kind] = {
            "rps": rps,
            "h11_vs_httptools": rps["h11"] / rps["httptools"],
            "statuses": {p: [r["statuses"] for r in results[p][kind]] for p in PARSERS},
        }
    summary["one_mb_header_status"] = head_status
    (args.out / "parsers.json").write_text(json.dumps(summary, indent=2))
    print(f"{'requests/s':28} {'h11':>10} {'httptools':>10} {'h11/httptools':>14}")
    for kind, label in (("live", "GET /health/live"), ("predict", "POST /predict (JPEG)")):
        s = summary[kind]
        print(f"{label:28} {s['rps']['h11']:10.1f} {s['rps']['httptools']:10.1f} "
              f"{s['h11_vs_httptools']:14.3f}")  # fmt: skip
    print(f"(median of {args.rounds} rounds of {args.seconds:.0f} s, {args.connections} "
          f"kept-alive connections, {os.cpu_count()} CPUs; one run)")  # fmt: skip
    print(f"1 MB request header: h11 -> {head_status['h11']}, "
          f"httptools -> {head_status['httptools']}")  # fmt: skip
    print(f"\nwrote {args.out / 'parsers.json'}")


if __name__ == "__main__":
    main()
