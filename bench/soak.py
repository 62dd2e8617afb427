"""The gateway's memory over a few hundred mixed requests, with and without MALLOC_ARENA_MAX=2.

    make soak        (python -m bench.soak --out bench-out)

glibc gives each thread that allocates (the event loop, the decode workers, the inference
thread) arenas of its own, up to 8 per core, and keeps what is freed in them for reuse: a fresh
gateway's RSS climbs for a while and then levels off; it is not a leak. MALLOC_ARENA_MAX=2 caps
the arenas, so the level is lower. glibc reads the variable once, at process start, which is why
it is set in the environment (Makefile, Dockerfile, docker-compose), not in Settings.

The real server (`python -m api.server`, embedded backend, the shipped model) is started twice,
identical but for MALLOC_ARENA_MAX, and driven by the same seeded sequence of requests from a
few concurrent clients: /predict on generated videos (640x360 and 1280x720) and images (JPEG,
PNG), bad uploads (random bytes, an empty file, a truncated MP4), jobs created, polled until
they run and cancelled (DELETE) mid-way, and GETs of unknown jobs. The server's VmRSS
(/proc/<pid>/status) is sampled every --every requests. Prints both curves and their plateau
(the mean of the last third of the samples) and writes bench-out/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import httpx

from bench.run import Process, base_env, started
from settings import PROJECT_ROOT
from tests.support.ports import free_port
from tests.support.videos import astronaut_bgr, make_video

RUNS = {"MALLOC_ARENA_MAX=2": "2", "glibc default": None}


def make_media(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = {
        "faces.mp4": partial(make_video, seconds=3, fps=10),
        "hd.mp4": partial(make_video, seconds=2, fps=25, width=1280, height=720),
        "mixed.mp4": partial(make_video, seconds=3, fps=10, has_face=lambda i: i % 10 < 5),
        # Long enough that a job is still running when it is cancelled.
        "long.mp4": partial(make_video, seconds=12, fps=25),
    }
    media = {}
    for name, make in clips.items():
        path = folder / name
        if not path.exists():
            make(path)
        media[name] = path.read_bytes()
    for ext in (".jpg", ".png"):
        ok, encoded = cv2.imencode(ext, astronaut_bgr())
        assert ok
        media["face" + ext] = encoded.tobytes()
    rng = random.Random(0)
    media["noise.mp4"] = rng.randbytes(200_000)
    media["empty.mp4"] = b""
    media["truncated.mp4"] = media["faces.mp4"][: len(media["faces.mp4"]) // 3]
    return media


@dataclass
class Soak:
    process: Process
    http: httpx.AsyncClient
    media: dict[str, bytes]
    every: int
    total: int
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.request(method, path, **kwargs)
        key = f"{method} {path.split('/')[1].split('?')[0]} {response.status_code}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.requests += 1
        if self.requests % self.every == 0:
            self.curve.append((self.requests, self.process.rss_mb()))
        return response

    async def predict(self, name: str) -> None:
        await self.call("POST", "/predict?fps=5", files={"file": (name, self.media[name])})

    async def job_cancelled_midway(self) -> None:
        files = {"file": ("long.mp4", self.media["long.mp4"])}
        created = await self.call("POST", "/jobs?fps=10", files=files)
        if created.status_code != 202:
            return
        path = created.headers["Location"]
        for _ in range(50):
            if (await self.call("GET", path)).json().get("status") != "queued":
                break
            await asyncio.sleep(0.05)
        await self.call("DELETE", path)

    def operations(self, seed: int) -> list[Callable[[], Awaitable[None]]]:
        """The mix, weighted, in a seeded order: the same for every run."""

        def predict(name: str) -> Callable[[], Awaitable[None]]:
            return lambda: self.predict(name)

        async def unknown_job() -> None:
            await self.call("GET", "/jobs/no-such-job")

        weighted: list[tuple[int, Callable[[], Awaitable[None]]]] = [
            (4, predict("faces.mp4")),
            (2, predict("mixed.mp4")),
            (1, predict("hd.mp4")),
            (2, predict("face.jpg")),
            (1, predict("face.png")),
            (1, predict("noise.mp4")),
            (1, predict("empty.mp4")),
            (1, predict("truncated.mp4")),
            (3, self.job_cancelled_midway),
            (1, unknown_job),
        ]
        pool = [op for weight, op in weighted for _ in range(weight)]
        rng = random.Random(seed)
        return [rng.choice(pool) for _ in range(self.total)]  # more than enough

    async def run(self, clients: int, seed: int) -> None:
        queue = iter(self.operations(seed))
        self.curve.append((0, self.process.rss_mb()))

        async def client() -> None:
            while self.requests < self.total:
                await next(queue)()

        await asyncio.gather(*(client() for _ in range(clients)))


def soak_one(
    name: str, arenas: str | None, media: dict[str, bytes], args: argparse.Namespace
) -> dict[str, Any]:
    env = {**base_env(), "BACKEND": "embedded", "HOST": "127.0.0.1"}
    env.pop("MALLOC_ARENA_MAX", None)
    if arenas is not None:
        env["MALLOC_ARENA_MAX"] = arenas
    port = free_port()
    env["PORT"] = str(port)
    log = args.out / f"soak-{'arenas2' if arenas else 'default'}.log"
    command = [sys.executable, "-m", "api.server"]
    with started(command, env, log, f"http://127.0.0.1:{port}/health/ready") as process:
        started_at = time.perf_counter()

        async def go() -> Soak:
            async with httpx.AsyncClient(base_url=process.url, timeout=120) as http:
                soak = Soak(process, http, media, args.every, args.requests)
                await soak.run(args.clients, args.seed)
                return soak

        soak = asyncio.run(go())
        wall = time.perf_counter() - started_at
        peak = process.rss_mb("VmHWM")
    rss = [mb for _, mb in soak.curve]
    tail = rss[-max(1, len(rss) // 3) :]
    return {
        "run": name,
        "MALLOC_ARENA_MAX": arenas,
        "requests": soak.requests,
        "seconds": wall,
        "statuses": dict(sorted(soak.statuses.items())),
        "curve": soak.curve,
        "fresh_mb": rss[0],
        "plateau_mb": statistics.mean(tail),
        "peak_mb": peak,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench-out")
    parser.add_argument("--requests", type=int, default=600, help="HTTP requests per run")
    parser.add_argument("--every", type=int, default=25, help="sample RSS every N requests")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    media = make_media(args.out / "soak-media")
    runs = [soak_one(name, arenas, media, args) for name, arenas in RUNS.items()]
    summary = {"runs": runs, "cpus": os.cpu_count(), "clients": args.clients,
               "every": args.every}  # fmt: skip
    (args.out / "soak.json").write_text(json.dumps(summary, indent=2))
    points = [n for n, _ in runs[0]["curve"]]
    print(f"{'requests':>8} " + " ".join(f"{r['run']:>20}" for r in runs) + "   (VmRSS, MB)")
    for i, n in enumerate(points):
        cells = [f"{r['curve'][i][1]:20.0f}" if i < len(r["curve"]) else " " * 20 for r in runs]
        print(f"{n:8d} " + " ".join(cells))
    for r in runs:
        print(f"{r['run']}: fresh {r['fresh_mb']:.0f} MB, plateau {r['plateau_mb']:.0f} MB "
              f"(mean of the last third), peak {r['peak_mb']:.0f} MB; {r['requests']} requests "
              f"in {r['seconds']:.0f} s; {r['statuses']}")  # fmt: skip
    print(f"\nwrote {args.out / 'soak.json'}")


if __name__ == "__main__":
    main()
